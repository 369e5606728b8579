//! Catalog pages.

use super::{home_shelves, CategoryShelf, ProductCard, ProductStock};
use crate::money::format_price;
use leptos::prelude::*;
use leptos_meta::Title;

/// The landing page: every category with its newest products.
#[component]
pub fn HomePage() -> impl IntoView {
    let shelves = Resource::new(|| (), |_| home_shelves());
    view! {
        <Title text="" />
        <section class="hero">
            <h1>"Everything for the way you move"</h1>
            <p>"Outdoor gear, home goods and small luxuries — and a map of how you found them."</p>
        </section>
        <Suspense fallback=|| view! { <p class="loading">"Loading the catalog…"</p> }>
            {move || Suspend::new(async move {
                match shelves.await {
                    Ok(shelves) => view! {
                        <For each=move || shelves.clone() key=|shelf| shelf.slug.clone() let:shelf>
                            <Shelf shelf />
                        </For>
                    }.into_any(),
                    Err(error) => view! {
                        <p class="error" role="alert">{format!("The catalog is unavailable: {error}")}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Shelf(shelf: CategoryShelf) -> impl IntoView {
    view! {
        <section class="shelf" data-category=shelf.slug.clone()>
            <h2>{shelf.name}</h2>
            <ul class="product-grid">
                {shelf.products.into_iter().map(|product| view! { <ProductTile product /> }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn ProductTile(product: ProductCard) -> impl IntoView {
    let check_stock = ServerAction::<ProductStock>::new();
    let product_id = product.id;
    let stock_answer = move || {
        check_stock.value().get().map(|answer| match answer {
            Ok(level) => level.label(),
            Err(error) => error.to_string(),
        })
    };
    view! {
        <li class="product-tile" data-product-id=product.id>
            <img src=format!("/images/products/{}.svg", product.slug) alt="" width="240" height="180" />
            <h3>{product.name}</h3>
            <p class="price">{format_price(product.price_cents, &product.currency)}</p>
            <button
                type="button"
                class="check-stock"
                data-track="check-stock"
                on:click=move |_| {
                    check_stock.dispatch(ProductStock { product_id });
                }
            >
                "Check stock"
            </button>
            <output class="stock-answer" aria-live="polite">{stock_answer}</output>
        </li>
    }
}
