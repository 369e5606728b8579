//! Predictive search: as a shopper types in the search box, the products it would find so far, typos forgiven.
//! A small GET endpoint and an island in the shop's bundle only (the search box is on shop pages; elsewhere, and
//! without JavaScript, it stays the plain search form it always was).

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_context as ctx;
use crate::{money::format_price, page::go_to};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The most suggestions shown.
pub const SUGGESTIONS: i64 = 6;
/// Fewer characters than this suggest nothing.
pub const MIN_CHARS: usize = 2;

/// A product the search box suggests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    pub slug: String,
    pub name: String,
    pub price_cents: i64,
    pub currency: String,
}

/// What the search box offers for what is typed so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestions {
    pub products: Vec<Suggestion>,
    /// The corrected words, when only a correction matched.
    pub did_you_mean: Option<String>,
}

/// The best few products for a partial query (each word a prefix, typos forgiven), best first. A GET, so a
/// browser or a cache in front may keep the answer.
#[server(endpoint = "suggest", input = server_fn::codec::GetUrl)]
pub async fn suggest(q: String) -> Result<Suggestions, AppError> {
    use super::{CatalogQuery, MAX_QUERY_CHARS};
    let q = q.trim();
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::Invalid(format!("Searches are limited to {MAX_QUERY_CHARS} characters.")));
    }
    if q.chars().count() < MIN_CHARS {
        return Ok(Suggestions::default());
    }
    let query = CatalogQuery { q: q.to_string(), ..CatalogQuery::default() };
    ctx::slow_catalog_drill().await;
    let found = super::store::search_window(&ctx::pool()?, &query, 0, SUGGESTIONS).await?;
    let products = found
        .products
        .into_iter()
        .map(|card| Suggestion {
            slug: card.slug,
            name: card.name,
            price_cents: card.price_cents,
            currency: card.currency,
        })
        .collect();
    Ok(Suggestions { products, did_you_mean: found.did_you_mean })
}

/// Where moving through `count` suggestions with an arrow key leads from `active` (`None`: the text itself).
pub fn step(active: Option<usize>, count: usize, down: bool) -> Option<usize> {
    match (active, down) {
        _ if count == 0 => None,
        (None, true) => Some(0),
        (None, false) => Some(count - 1),
        (Some(i), true) => (i + 1 < count).then_some(i + 1),
        (Some(i), false) => i.checked_sub(1),
    }
}

/// The shop's search box with suggestions: a combobox (ARIA 1.2) whose list opens as the shopper types (150 ms
/// after the last key), moved through with the arrow keys, chosen with Enter or a click, closed with Escape; Enter
/// without a chosen suggestion searches as before.
#[cfg_attr(any(feature = "ssr", all(feature = "hydrate", not(feature = "account"))), island)]
#[cfg_attr(not(any(feature = "ssr", all(feature = "hydrate", not(feature = "account")))), component)]
pub fn SearchBox(id: String, value: String) -> impl IntoView {
    let found = RwSignal::new(Suggestions::default());
    let open = RwSignal::new(false);
    let active = RwSignal::new(None::<usize>);
    let typed = StoredValue::new(0u64);
    let list = format!("{id}-suggestions");
    let option_id = {
        let list = list.clone();
        move |i: usize| format!("{list}-{i}")
    };
    let on_input = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        typed.update_value(|n| *n += 1);
        let this = typed.get_value();
        set_timeout(
            move || {
                if typed.get_value() != this {
                    return;
                }
                if text.trim().chars().count() < MIN_CHARS {
                    found.set(Suggestions::default());
                    open.set(false);
                    return;
                }
                leptos::task::spawn_local(async move {
                    let Ok(answer) = suggest(text).await else { return };
                    // A later key's answer may have come first: only the latest counts.
                    if typed.get_value() == this {
                        open.set(!answer.products.is_empty());
                        found.set(answer);
                        active.set(None);
                    }
                });
            },
            std::time::Duration::from_millis(150),
        );
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let count = found.with_untracked(|found| found.products.len());
        match ev.key().as_str() {
            "ArrowDown" | "ArrowUp" if count > 0 => {
                ev.prevent_default();
                open.set(true);
                active.update(|active| *active = step(*active, count, ev.key() == "ArrowDown"));
            }
            "Escape" => {
                open.set(false);
                active.set(None);
            }
            "Enter" => {
                let chosen = active.get_untracked().filter(|_| open.get_untracked());
                if let Some(slug) =
                    chosen.and_then(|i| found.with_untracked(|f| f.products.get(i).map(|p| p.slug.clone())))
                {
                    ev.prevent_default();
                    go_to(&format!("/product/{slug}"));
                }
            }
            _ => {}
        }
    };
    let active_option = {
        let option_id = option_id.clone();
        move || active.get().filter(|_| open.get()).map(option_id.clone())
    };
    let options = move || {
        found
            .get()
            .products
            .into_iter()
            .enumerate()
            .map(|(i, product)| {
                let href = format!("/product/{}", product.slug);
                view! {
                    <li id=option_id(i) role="option" aria-selected=move || (active.get() == Some(i)).to_string()
                        on:mousedown=move |ev| {
                            ev.prevent_default();
                            go_to(&href);
                        }>
                        <span class="suggestion-name">{product.name}</span>
                        <span class="suggestion-price">{format_price(product.price_cents, &product.currency)}</span>
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <div class="search-combo">
            <input type="search" name="q" placeholder="Search the shop" aria-label="Search the shop" maxlength="100"
                id=id autocomplete="off" role="combobox" aria-autocomplete="list" aria-controls=list.clone()
                aria-expanded=move || open.get().to_string() aria-activedescendant=active_option value=value
                on:input=on_input on:keydown=on_keydown
                on:blur=move |_| open.set(false) />
            <ul id=list role="listbox" aria-label="Suggestions" class="suggestions" hidden=move || !open.get()>
                {options}
            </ul>
            <p class="visually-hidden" aria-live="polite">
                {move || {
                    let count = found.with(|found| found.products.len());
                    open.get().then(|| format!("{count} suggestions; use the arrow keys to choose."))
                }}
            </p>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::step;

    #[test]
    fn the_arrow_keys_move_through_the_suggestions_and_back_to_the_text() {
        assert_eq!(step(None, 3, true), Some(0));
        assert_eq!(step(Some(0), 3, true), Some(1));
        assert_eq!(step(Some(2), 3, true), None, "past the last: back to the text");
        assert_eq!(step(None, 3, false), Some(2));
        assert_eq!(step(Some(0), 3, false), None);
        assert_eq!(step(Some(1), 0, true), None);
    }
}
