//! A slot of recommendations: a heading and small product cards, rendered on the server (the links are plain,
//! and the tracker records a click on one like any other, with its slot; a tiny island records that the slot
//! was shown). A card's name is not a
//! heading: the page's outline keeps one heading per product (its shelf's, or the product page's own), and the
//! slot has its `h2`.

use super::{Recommendations, Recommended, Slot};
use crate::{error::AppError, money::format_price, tracking::RecordImpression};
use leptos::prelude::*;

/// The slot `load` fills, once it has; nothing while it loads, when it has nothing to show, or when it failed (a
/// recommendation is never worth an error on the page it sits on).
#[component]
pub fn RecommendationShelf(load: Resource<Result<Recommendations, AppError>>) -> impl IntoView {
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                load.await.ok().filter(|shown| !shown.products.is_empty()).map(|shown| view! { <Shelf shown /> })
            })}
        </Suspense>
    }
}

#[component]
fn Shelf(shown: Recommendations) -> impl IntoView {
    let Recommendations { slot, products } = shown;
    let heading = format!("rec-{}", slot.as_str());
    let labelled_by = heading.clone();
    let shown = products.len() as i32;
    view! {
        <RecordImpression slot_name=slot.as_str().to_string() products=shown />
        <section class="shelf recommendations" data-slot=slot.as_str() aria-labelledby=labelled_by>
            <h2 id=heading>{slot.heading()}</h2>
            <ul class="product-grid">
                {products.into_iter().map(|product| view! { <Card shown_in=slot product /> }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn Card(shown_in: Slot, product: Recommended) -> impl IntoView {
    let slot = shown_in;
    // The home page's slot sits above its shelves, in the first screen; the others below the page's own content.
    let loading = if matches!(slot, Slot::PickedForYou | Slot::Popular) { "eager" } else { "lazy" };
    view! {
        <li class="product-tile" data-product-id=product.id>
            <a href=slot.href(&product.slug) class="tile-link" data-track=format!("rec-{}", slot.as_str())>
                <img src=format!("/images/products/{}", product.slug) alt="" width="240" height="180" loading=loading />
                <p class="tile-name">{product.name}</p>
            </a>
            <p class="price">{format_price(product.price_cents, &product.currency)}</p>
        </li>
    }
}
