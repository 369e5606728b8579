//! The SSR section's fair ceiling: the same three pages written by hand, with `maud` on a bare axum router. Each
//! page runs exactly the queries the app runs for a first visit without a cache (`app::catalog::store`: the home
//! page's shelves; a search and the categories; a product by its slug; and `app::recommend::store`: the popular
//! products on the home page, those viewed with the product on its page), and renders the same markup: the
//! header, the search form, the tiles with their stock-check islands, the recommendations, the filters, the
//! footer. No framework, no session,
//! no middleware. The app against it is what Leptos, our components and our middleware cost over the same
//! database work; an app that skips the queries (its catalog cache) can beat it.

use anyhow::Context;
use app::{
    catalog::{store, CatalogQuery, CategoryShelf, ProductCard, SortOrder},
    money::format_price,
    recommend::{self, store::Signal, Recommended, Slot},
};
use axum::{
    extract::{Path, Query, State},
    response::{Html, IntoResponse, Response},
    routing::get,
    Router,
};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use sqlx::PgPool;
use std::collections::HashMap;

/// The page around the content, as the app's shell and header write it for a visitor who is not signed in.
fn page(title: &str, login_return_to: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                link rel="stylesheet" id="cartograph" href="/pkg/cartograph.css";
                script type="module" { (PreEscaped("import('/pkg/cartograph.js')")) }
                title { (title) }
                meta name="description" content="Cartograph: a storefront that maps every shopper's journey.";
                link rel="icon" href="/favicon.svg" type="image/svg+xml";
            }
            body {
                header.site-header {
                    a.brand href="/" { "Cartograph" }
                    nav.main-nav aria-label="Shop" {
                        a href="/products" { "Shop" }
                        leptos-island data-component="CartCount" data-props=r#"{"count":0}"# {
                            a.cart-link href="/cart" { "Cart " span.cart-count data-testid="cart-count" { "0" } }
                        }
                    }
                    nav.account aria-label="Account" {
                        a.sign-in rel="external" data-track="sign-in"
                            href={ "/auth/login?return_to=" (app::encode_query_value(login_return_to)) } { "Sign in" }
                    }
                }
                main #main data-hydrated="false" { (content) }
                footer.site-footer {
                    p { "Cartograph — an open-source storefront that maps every shopper's journey." }
                    leptos-island data-component="TrackingConsent" {
                        label.consent data-no-track="" {
                            input type="checkbox" name="tracking-consent";
                            " Record my journey through the shop (page views and clicks, never what I type)."
                        }
                    }
                }
            }
        }
    }
}

fn tile(product: &ProductCard) -> Markup {
    html! {
        li.product-tile data-product-id=(product.id) {
            a.tile-link href={ "/product/" (product.slug) } {
                img src={ "/images/products/" (product.slug) } alt="" width="240" height="180";
                h3 { (product.name) }
            }
            p.price { (format_price(product.price_cents, &product.currency)) }
            leptos-island data-component="StockCheck" data-props={ r#"{"product_id":"# (product.id) "}" } {
                button.check-stock type="button" data-track="check-stock" { "Check stock" }
                output.stock-answer aria-live="polite" {}
            }
        }
    }
}

fn shelf(shelf: &CategoryShelf) -> Markup {
    html! {
        section.shelf data-category=(shelf.slug) {
            h2 { a href={ "/products?category=" (shelf.slug) } { (shelf.name) } }
            ul.product-grid { @for product in &shelf.products { (tile(product)) } }
        }
    }
}

fn recommendations(slot: Slot, products: &[Recommended]) -> Markup {
    let heading = format!("rec-{}", slot.as_str());
    let loading = if slot == Slot::Popular { "eager" } else { "lazy" };
    html! {
        @if !products.is_empty() {
            section."shelf recommendations" data-slot=(slot.as_str()) aria-labelledby=(heading) {
                h2 id=(heading) { (slot.heading()) }
                ul.product-grid {
                    @for product in products {
                        li.product-tile data-product-id=(product.id) {
                            a.tile-link href=(slot.href(&product.slug)) data-track=(heading) {
                                img src={ "/images/products/" (product.slug) } alt="" width="240" height="180" loading=(loading);
                                p.tile-name { (product.name) }
                            }
                            p.price { (format_price(product.price_cents, &product.currency)) }
                        }
                    }
                }
            }
        }
    }
}

type Answer = Result<Response, (http::StatusCode, String)>;

fn failed(error: impl std::fmt::Display) -> (http::StatusCode, String) {
    (http::StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

async fn home(State(pool): State<PgPool>) -> Answer {
    let shelves = store::home_shelves(&pool, 4).await.map_err(failed)?;
    let popular = recommend::store::popular(&pool, &[], recommend::SHOWN).await.map_err(failed)?;
    let content = html! {
        section.hero {
            h1 { "Everything for the way you move" }
            p { "Outdoor gear, home goods and small luxuries — and a map of how you found them." }
            form.hero-search method="get" action="/products" role="search" {
                input type="search" name="q" placeholder="Search the shop" aria-label="Search the shop" maxlength="100";
                button type="submit" { "Search" }
            }
        }
        (recommendations(Slot::Popular, &popular))
        @for one in &shelves { (shelf(one)) }
    };
    Ok(Html(page("Cartograph", "/", content).into_string()).into_response())
}

async fn search(State(pool): State<PgPool>, Query(params): Query<HashMap<String, String>>) -> Answer {
    let query = CatalogQuery {
        q: params.get("q").map(|q| q.trim().to_string()).unwrap_or_default(),
        category: params.get("category").cloned().unwrap_or_default(),
        sort: SortOrder::parse(params.get("sort").map(String::as_str).unwrap_or_default()),
        ..CatalogQuery::default()
    };
    let results = store::search(&pool, &query).await.map_err(failed)?;
    let categories = store::categories(&pool).await.map_err(failed)?;
    let content = html! {
        div.catalog {
            aside.filters {
                form method="GET" action="/products" {
                    label { "Search" input type="search" name="q" maxlength="100" value=(query.q); }
                    label { "Category"
                        select name="category" {
                            option value="" selected[query.category.is_empty()] { "All categories" }
                            @for category in &categories {
                                option value=(category.slug) selected[query.category == category.slug] { (category.name) }
                            }
                        }
                    }
                    fieldset.price-range {
                        legend { "Price (€)" }
                        input type="number" name="min_price" min="0" placeholder="min" aria-label="Minimum price" value="";
                        input type="number" name="max_price" min="0" placeholder="max" aria-label="Maximum price" value="";
                    }
                    label.check { input type="checkbox" name="in_stock" value="true"; " In stock only" }
                    label { "Sort"
                        select name="sort" {
                            @for (sort, label) in SortOrder::ALL {
                                option value=(sort.as_str()) selected[query.sort == sort] { (label) }
                            }
                        }
                    }
                    button type="submit" { "Apply" }
                }
            }
            section.results aria-live="polite" {
                leptos-island data-component="RecordSearch"
                    data-props={ r#"{"query":"# (serde_json::to_string(&query.q).unwrap_or_default()) r#","results":"# (results.total) "}" } {}
                @if results.products.is_empty() {
                    p.empty { "No products match. Try fewer words or clear a filter." }
                } @else {
                    p.result-count { (results.total) " products" }
                    ul.product-grid { @for product in &results.products { (tile(product)) } }
                    nav.pager aria-label="Pages" {}
                }
            }
        }
    };
    let here = match params.get("q") {
        Some(q) => format!("/products?q={}", app::encode_query_value(q)),
        None => "/products".into(),
    };
    Ok(Html(page("Shop · Cartograph", &here, content).into_string()).into_response())
}

async fn product(State(pool): State<PgPool>, Path(slug): Path<String>) -> Answer {
    let Some(p) = store::product_by_slug(&pool, &slug).await.map_err(failed)? else {
        return Ok(http::StatusCode::NOT_FOUND.into_response());
    };
    let seeds = [p.id];
    let related = recommend::store::related(&pool, Signal::Viewed, &seeds, &seeds, recommend::SHOWN);
    let related = related.await.map_err(failed)?;
    let content = html! {
        leptos-island data-component="RecordProductView"
            data-props={ r#"{"product_id":"# (p.id) r#","slug":"# (serde_json::to_string(&p.slug).unwrap_or_default()) "}" } {}
        article.product-page data-product-id=(p.id) {
            img src={ "/images/products/" (p.slug) } alt=(p.name) width="480" height="360" fetchpriority="high";
            div.product-info {
                p.breadcrumb { a href={ "/products?category=" (p.category_slug) } { (p.category_name) } }
                h1 { (p.name) }
                p."price big" { (format_price(p.price_cents, &p.currency)) }
                (variant_picker(&p))
                leptos-island data-component="BuyBox" data-props=(buy_box_props(&p)) {
                    p.stock."low"[p.stock <= 5] data-testid="stock" { (app::catalog::stock_label(p.stock)) }
                    form.add-to-cart id={ "buy-" (p.id) } method="post" action="/api/cart_add" {
                        input type="hidden" name="product_id" value=(p.id);
                        label { "Quantity " input type="number" name="quantity" min="1" max="99" required value="1"; }
                        button type="submit" disabled[p.stock <= 0] { "Add to cart" }
                    }
                    p.notice role="status" {}
                }
                p.description { (p.description) }
            }
        }
        (recommendations(Slot::ViewedTogether, &related))
    };
    let title = format!("{} · Cartograph", p.name);
    Ok(Html(page(&title, &format!("/product/{}", p.slug), content).into_string()).into_response())
}

/// The product page's buy box props, as the island gets them.
fn buy_box_props(p: &app::catalog::ProductDetail) -> String {
    serde_json::json!({ "product_id": p.id, "stock": p.stock }).to_string()
}

/// The variant picker the product page renders for a product with options.
fn variant_picker(p: &app::catalog::ProductDetail) -> maud::Markup {
    use app::variants::{combinations, variant_label};
    if p.options.is_empty() {
        let only = p.only_variant().map(|v| v.id);
        return html! { input type="hidden" name="variant_id" value=[only] form={ "buy-" (p.id) }; };
    }
    let legend = p.options.iter().map(|group| group.name.clone()).collect::<Vec<_>>().join(" and ");
    html! {
        fieldset.variant-picker data-testid="variant-picker" {
            legend { "Choose " (legend.to_lowercase()) }
            @for (choice, variant) in combinations(&p.options, &p.variants) {
                @match variant {
                    Some(v) => label.variant."sold-out"[v.stock <= 0] {
                        input type="radio" name="variant_id" value=(v.id) form={ "buy-" (p.id) } required disabled[v.stock <= 0];
                        span.variant-name { (variant_label(&choice)) }
                        span.variant-price { (format_price(v.price_cents, &p.currency)) }
                        span.variant-stock { (app::catalog::stock_label(v.stock)) }
                    },
                    None => label."variant sold-out" {
                        input type="radio" disabled;
                        span.variant-name { (variant_label(&choice)) }
                        span.variant-stock { "Not available" }
                    },
                }
            }
        }
    }
}

/// Starts the hand-written pages on a random loopback port and returns their base URL.
pub async fn serve(pool: PgPool) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the ceiling's port")?;
    let base = format!("http://{}", listener.local_addr()?);
    let router = Router::new()
        .route("/", get(home))
        .route("/products", get(search))
        .route("/product/{slug}", get(product))
        .with_state(pool);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(base)
}
