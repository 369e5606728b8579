//! Predictive search: as a shopper types in the search box, the products it would find so far, typos forgiven.
//! The server writes the suggestions' markup, so the island only places it and moves through it: the least the
//! browser has to download for it.

use crate::error::AppError;
use crate::page::go_to;
#[cfg(feature = "ssr")]
use crate::server_context as ctx;
use leptos::prelude::*;

/// The most suggestions shown.
pub const SUGGESTIONS: i64 = 6;
/// Fewer characters than this suggest nothing.
pub const MIN_CHARS: usize = 2;
/// The id of the `i`th suggestion (one search box per page).
fn option_id(i: usize) -> String {
    format!("search-suggestion-{i}")
}

/// The best few products for a partial query (each word a prefix, typos forgiven), best first, as the listbox's
/// options: `<li role="option">` elements with the product's page in `data-href` (empty: nothing to suggest).
#[server(endpoint = "suggest")]
pub async fn suggest(q: String) -> Result<String, AppError> {
    use super::{CatalogQuery, MAX_QUERY_CHARS};
    let q = q.trim();
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::Invalid(format!("Searches are limited to {MAX_QUERY_CHARS} characters.")));
    }
    if q.chars().count() < MIN_CHARS {
        return Ok(String::new());
    }
    let query = CatalogQuery { q: q.to_string(), ..CatalogQuery::default() };
    ctx::slow_catalog_drill().await;
    let found = super::store::search_window(&ctx::pool()?, &query, 0, SUGGESTIONS).await?;
    Ok(found.products.iter().enumerate().map(|(i, product)| option(i, product)).collect())
}

/// One suggestion's markup, every value escaped.
#[cfg(feature = "ssr")]
fn option(i: usize, product: &super::ProductCard) -> String {
    use crate::{escape_html, money::format_price};
    format!(
        r#"<li id="{id}" role="option" aria-selected="false" data-href="/product/{slug}"><span class="suggestion-name">{name}</span><span class="suggestion-price">{price}</span></li>"#,
        id = option_id(i),
        slug = escape_html(&product.slug),
        name = escape_html(&product.name),
        price = escape_html(&format_price(product.price_cents, &product.currency)),
    )
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

/// The page of the `i`th suggestion, marking it chosen (and `was` not) for assistive technology.
fn mark(was: Option<usize>, now: Option<usize>) -> Option<String> {
    let document = document();
    if let Some(option) = was.and_then(|i| document.get_element_by_id(&option_id(i))) {
        let _ = option.set_attribute("aria-selected", "false");
    }
    let option = now.and_then(|i| document.get_element_by_id(&option_id(i)))?;
    let _ = option.set_attribute("aria-selected", "true");
    option.get_attribute("data-href")
}

/// The shop's search box with suggestions: a combobox (ARIA 1.2) whose list opens as the shopper types (150 ms
/// after the last key), moved through with the arrow keys, chosen with Enter or a click, closed with Escape; Enter
/// without a chosen suggestion searches as before. Without script it is the plain search field of its form.
///
/// An island of the shop's bundle only: the account's bundle (what a visitor with a session loads) is at its
/// 150 KiB budget, so there the box stays the plain search field, which searches the same way.
#[cfg_attr(any(feature = "ssr", all(feature = "hydrate", not(feature = "account"))), island)]
#[cfg_attr(not(any(feature = "ssr", all(feature = "hydrate", not(feature = "account")))), component)]
pub fn SearchBox(id: String, value: String) -> impl IntoView {
    let options = RwSignal::new(String::new());
    let open = RwSignal::new(false);
    let active = RwSignal::new(None::<usize>);
    let typed = StoredValue::new(0u64);
    let count = move || options.with(|html| html.matches("role=\"option\"").count());
    let close = move || {
        mark(active.get_untracked(), None);
        active.set(None);
        open.set(false);
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
                    options.set(String::new());
                    close();
                    return;
                }
                leptos::task::spawn_local(async move {
                    // A later key's answer may have come first: only the latest counts.
                    if let Some(html) = suggest(text).await.ok().filter(|_| typed.get_value() == this) {
                        active.set(None);
                        open.set(!html.is_empty());
                        options.set(html);
                    }
                });
            },
            std::time::Duration::from_millis(150),
        );
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        key @ ("ArrowDown" | "ArrowUp") if count() > 0 => {
            ev.prevent_default();
            open.set(true);
            let next = step(active.get_untracked(), count(), key == "ArrowDown");
            mark(active.get_untracked(), next);
            active.set(next);
        }
        "Escape" => close(),
        "Enter" if open.get_untracked() => {
            if let Some(href) = active.get_untracked().and_then(|i| mark(None, Some(i))) {
                ev.prevent_default();
                go_to(&href);
            }
        }
        _ => {}
    };
    let on_mousedown = move |ev: leptos::ev::MouseEvent| {
        let option = event_target::<leptos::web_sys::Element>(&ev).closest("li").ok().flatten();
        if let Some(href) = option.and_then(|option| option.get_attribute("data-href")) {
            ev.prevent_default();
            go_to(&href);
        }
    };
    let list = format!("{id}-list");
    view! {
        <div class="search-combo">
            <input type="search" name="q" placeholder="Search the shop" aria-label="Search the shop" maxlength="100"
                id=id autocomplete="off" role="combobox" aria-autocomplete="list" aria-controls=list.clone()
                aria-expanded=move || open.get().to_string()
                aria-activedescendant=move || active.get().filter(|_| open.get()).map(option_id)
                value=value on:input=on_input on:keydown=on_keydown on:blur=move |_| close() />
            <ul id=list role="listbox" aria-label="Suggestions" class="suggestions" hidden=move || !open.get()
                inner_html=move || options.get() on:mousedown=on_mousedown></ul>
            <p class="visually-hidden" aria-live="polite">
                {move || open.get().then(|| format!("{} suggestions; use the arrow keys to choose.", count()))}
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

    #[cfg(feature = "ssr")]
    #[test]
    fn a_suggestion_escapes_what_it_shows() {
        let card = crate::catalog::ProductCard {
            id: 1,
            slug: "x\"><script>".into(),
            name: "<b>Tent</b> & co".into(),
            price_cents: 1250,
            currency: "EUR".into(),
            stock: 1,
        };
        let html = super::option(2, &card);
        assert!(html.starts_with(r#"<li id="search-suggestion-2" role="option" aria-selected="false""#), "{html}");
        assert!(html.contains("&lt;b&gt;Tent&lt;/b&gt; &amp; co") && html.contains("€12.50"), "{html}");
        assert!(!html.contains("<script>") && !html.contains("<b>"), "{html}");
    }
}
