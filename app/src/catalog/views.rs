//! Catalog pages: home, search and filter, product. The server renders them; the live parts are islands: a
//! tile's stock check, and the product page's stock and add-to-cart box.

use super::suggest::SearchBox;
use super::{
    categories, combinations, get_product, home_shelves, product_stock, search_products, stock_label, variant_label,
    CatalogQuery, CategoryShelf, Facets, ProductCard, ProductDetail, ProductStock, SortOrder,
};
use crate::{
    cart::{AddToCart, Cart, CartState},
    money::format_price,
    notices::ErrorView,
    page::{shared, Fields},
    recommend::{picked_for_you, viewed_together, RecommendationShelf},
    tracking::{track, ErrorNotice, EventKind, RecordProductView, RecordSearch},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{Form, A},
    hooks::{use_params_map, use_query_map},
};

/// The landing page: products picked for the shopper (or the popular ones), then every category with its first
/// products.
#[component]
pub fn HomePage() -> impl IntoView {
    let shelves = Resource::new(|| (), |_| home_shelves());
    let cart = CartState::get();
    let picked = Resource::new(|| (), move |_| async move { picked_for_you(cart.product_ids().await).await });
    view! {
        <Title text="" />
        <section class="hero">
            <h1>"Everything for the way you move"</h1>
            <p>"Outdoor gear, home goods and small luxuries — and a map of how you found them."</p>
            <form method="get" action="/products" class="hero-search" role="search">
                <SearchBox id="hero-search".to_string() value=String::new() />
                <button type="submit">"Search"</button>
            </form>
        </section>
        <RecommendationShelf load=picked />
        <Suspense fallback=|| view! { <p class="loading">"Loading the catalog…"</p> }>
            {move || Suspend::new(async move {
                match shelves.await {
                    Ok(shelves) => view! {
                        <For each=move || shelves.clone() key=|shelf| shelf.slug.clone() let:shelf>
                            <Shelf shelf />
                        </For>
                    }.into_any(),
                    Err(error) => view! {
                        <ErrorView error />
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
            <h2><a href=format!("/products?category={}", shelf.slug)>{shelf.name}</a></h2>
            <ul class="product-grid">
                {shelf.products.into_iter().map(|product| view! { <ProductTile product /> }).collect_view()}
            </ul>
        </section>
    }
}

/// A product card with a live stock check. (Its links are plain `<a>`: every link is a full page load, and one
/// that never points at the page it is on needs nothing of the router's `<A>`, which costs each of the home
/// page's 24 tiles a look at the route.)
#[component]
fn ProductTile(product: ProductCard) -> impl IntoView {
    let href = format!("/product/{}", product.slug);
    view! {
        <li class="product-tile" data-product-id=product.id>
            <a href=href class="tile-link">
                <img src=format!("/images/products/{}", product.slug) alt="" width="240" height="180" />
                <h3>{product.name}</h3>
            </a>
            <p class="price">{format_price(product.price_cents, &product.currency)}</p>
            <StockCheck product_id=product.id />
        </li>
    }
}

/// "Check stock": asks the server for the product's stock as it is now. A signal and a call, not a
/// `ServerAction`: the home page renders 24 of these on the server, where an action's signals would be made and
/// dropped for each, for nothing.
#[island]
fn StockCheck(product_id: i64) -> impl IntoView {
    let answer = RwSignal::new(None::<String>);
    let check = move |_| {
        leptos::task::spawn_local(async move {
            let text = match product_stock(product_id).await {
                Ok(level) => level.label(),
                Err(error) => error.to_string(),
            };
            answer.set(Some(text));
        });
    };
    view! {
        <button type="button" class="check-stock" data-track="check-stock" on:click=check>
            "Check stock"
        </button>
        <output class="stock-answer" aria-live="polite">{move || answer.get()}</output>
    }
}

fn query_from_url(map: &leptos_router::params::ParamsMap) -> CatalogQuery {
    let number = |key: &str| map.get(key).and_then(|v| v.trim().parse::<i64>().ok());
    CatalogQuery {
        q: map.get("q").unwrap_or_default().trim().to_string(),
        category: map.get("category").unwrap_or_default(),
        min_price: number("min_price"),
        max_price: number("max_price"),
        in_stock: map.get("in_stock").is_some_and(|v| v == "true" || v == "on"),
        sort: SortOrder::parse(&map.get("sort").unwrap_or_default()),
        page: number("page"),
    }
}

/// The clickstream's `search` event for a query that found `results` products (none without words).
fn searched(query: &CatalogQuery, results: i64) -> Option<impl IntoView> {
    (!query.q.is_empty()).then(|| view! { <RecordSearch query=query.q.clone() results /> })
}

/// Search, filters, sort and paging; all of it lives in the URL, so a reload or a shared link keeps it.
#[component]
pub fn CatalogPage() -> impl IntoView {
    let query_map = use_query_map();
    let query = Memo::new(move |_| query_from_url(&query_map.read()));
    let results = Resource::new(move || query.get(), search_products);
    let category_list = Resource::new(|| (), |_| categories());

    view! {
        <Title text="Shop" />
        <div class="catalog">
            <aside class="filters">
                <Form method="GET" action="/products">
                    <label>"Search" <SearchBox id="catalog-search".to_string() value=query.get_untracked().q /></label>
                    <label>"Category"
                        <select name="category">
                            <option value="" selected=move || query.get().category.is_empty()>"All categories"</option>
                            <Suspense fallback=|| ()>
                                {move || Suspend::new(async move {
                                    category_list.await.unwrap_or_default().into_iter().map(|c| {
                                        let slug = c.slug.clone();
                                        view! { <option value=c.slug selected=move || query.get().category == slug>{c.name}</option> }
                                    }).collect_view()
                                })}
                            </Suspense>
                        </select>
                    </label>
                    <fieldset class="price-range">
                        <legend>"Price (€)"</legend>
                        <input type="number" name="min_price" min="0" placeholder="min" aria-label="Minimum price"
                            value=move || query.get().min_price.map(|p| p.to_string()).unwrap_or_default() />
                        <input type="number" name="max_price" min="0" placeholder="max" aria-label="Maximum price"
                            value=move || query.get().max_price.map(|p| p.to_string()).unwrap_or_default() />
                    </fieldset>
                    <label class="check"><input type="checkbox" name="in_stock" value="true" checked=move || query.get().in_stock />" In stock only"</label>
                    <label>"Sort"
                        <select name="sort">
                            {SortOrder::ALL.into_iter().map(|(sort, label)| view! {
                                <option value=sort.as_str() selected=move || query.get().sort == sort>{label}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <button type="submit">"Apply"</button>
                </Form>
            </aside>
            <section class="results" aria-live="polite">
                <Transition fallback=|| view! { <p class="loading">"Searching…"</p> }>
                    {move || Suspend::new(async move {
                        let current = query.get_untracked();
                        match results.await {
                            // The search event carries the query and how many products matched.
                            Ok(page) if page.products.is_empty() => view! {
                                {searched(&current, page.total)}
                                <p class="empty">"No products match. Try fewer words or clear a filter."</p>
                            }.into_any(),
                            Ok(page) => {
                                let pager = (page.page_count > 1).then(|| {
                                    (1..=page.page_count).map(|n| {
                                        let href = format!("/products?{}", current.to_query_string(n));
                                        view! { <A href=href attr:class=if n == page.page { "page current" } else { "page" }>{n}</A> }
                                    }).collect_view()
                                });
                                // Nothing matched as typed: the products are the corrected query's, and it is offered.
                                let offer = page.did_you_mean.map(|corrected| {
                                    let href = format!(
                                        "/products?{}",
                                        CatalogQuery { q: corrected.clone(), ..current.clone() }.to_query_string(1)
                                    );
                                    view! {
                                        <p class="did-you-mean" data-testid="did-you-mean">
                                            {format!("Nothing matches \u{201c}{}\u{201d} as typed. Did you mean ", current.q.trim())}
                                            <A href=href>{corrected}</A>"? Showing its results."
                                        </p>
                                    }
                                });
                                let facets = page.facets.clone();
                                view! {
                                    {searched(&current, page.total)}
                                    {offer}
                                    <Refine current=current.clone() facets />
                                    <p class="result-count">{format!("{} products", page.total)}</p>
                                    <ul class="product-grid">
                                        {page.products.into_iter().map(|product| view! { <ProductTile product /> }).collect_view()}
                                    </ul>
                                    <nav class="pager" aria-label="Pages">{pager}</nav>
                                }.into_any()
                            }
                            Err(error) => view! { <ErrorView error /> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </div>
    }
}

/// How many products each refinement would leave, as links: a category, a price band, in stock only. The one
/// applied is marked (`aria-current`; plain links, as the router's would mark every link to `/products`), and
/// links back to the search without it.
#[component]
fn Refine(current: CatalogQuery, facets: Facets) -> impl IntoView {
    let href = |query: CatalogQuery| format!("/products?{}", query.to_query_string(1));
    let categories = facets
        .categories
        .into_iter()
        .map(|category| {
            let chosen = current.category == category.slug;
            let target =
                CatalogQuery { category: if chosen { String::new() } else { category.slug }, ..current.clone() };
            view! {
                <li>
                    <a href=href(target) aria-current=chosen.then_some("true")>
                        {format!("{} ({})", category.name, category.count)}
                    </a>
                </li>
            }
        })
        .collect_view();
    let prices = facets
        .prices
        .into_iter()
        .map(|band| {
            let chosen = current.min_price == band.min && current.max_price == band.max;
            let (min_price, max_price) = if chosen { (None, None) } else { (band.min, band.max) };
            let target = CatalogQuery { min_price, max_price, ..current.clone() };
            view! {
                <li>
                    <a href=href(target) aria-current=chosen.then_some("true")>
                        {format!("{} ({})", band.label(), band.count)}
                    </a>
                </li>
            }
        })
        .collect_view();
    let stock = CatalogQuery { in_stock: !current.in_stock, ..current.clone() };
    view! {
        <nav class="facets" aria-label="Refine" data-testid="facets">
            <ul aria-label="Categories">{categories}</ul>
            <ul aria-label="Prices">{prices}</ul>
            <ul aria-label="Stock">
                <li>
                    <a href=href(stock) aria-current=current.in_stock.then_some("true")>
                        {format!("In stock only ({})", facets.in_stock)}
                    </a>
                </li>
            </ul>
        </nav>
    }
}

/// A product page with live stock and add to cart, and what other visits viewed with it.
#[component]
pub fn ProductPage() -> impl IntoView {
    let params = use_params_map();
    let product = Resource::new(move || params.read().get("slug").unwrap_or_default(), get_product);
    let cart = CartState::get();
    let viewed_with = Resource::new(
        || (),
        move |_| async move { viewed_together(product.await?.id, cart.product_ids().await).await },
    );
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match product.await {
                    Ok(p) => {
                        let picker = variant_picker(&p);
                        view! {
                        <Title text=p.name.clone() />
                        <RecordProductView product_id=p.id slug=p.slug.clone() />
                        <article class="product-page" data-product-id=p.id>
                            <img src=format!("/images/products/{}", p.slug) alt=p.name.clone() width="480" height="360" fetchpriority="high" />
                            <div class="product-info">
                                <p class="breadcrumb"><a href=format!("/products?category={}", p.category_slug)>{p.category_name.clone()}</a></p>
                                <h1>{p.name.clone()}</h1>
                                <p class="price big">{price_of(&p)}</p>
                                {picker}
                                <BuyBox product_id=p.id stock=p.stock />
                                <p class="description">{p.description.clone()}</p>
                            </div>
                        </article>
                        }.into_any()
                    }
                    Err(error) => view! {
                        <ErrorView error missing="that product" back=("/products", "Browse the shop") />
                    }.into_any(),
                }
            })}
        </Suspense>
        <RecommendationShelf load=viewed_with />
    }
}

/// The product's price, or "From" the cheapest variant's when its variants differ.
fn price_of(product: &ProductDetail) -> String {
    let prices = product.variants.iter().map(|variant| variant.price_cents);
    match (prices.clone().min(), prices.max()) {
        (Some(low), Some(high)) if low != high => format!("From {}", format_price(low, &product.currency)),
        (Some(only), _) => format_price(only, &product.currency),
        _ => format_price(product.price_cents, &product.currency),
    }
}

/// The variant picker of a product with options (for one without, the hidden field naming its only variant): every
/// combination of its choices with
/// its price and stock, sold-out and unmade ones marked and not choosable. Rendered on the server only (none of it
/// is in a bundle); its radio buttons belong to the buy box's form (`form="buy-<id>"`), with or without script.
fn variant_picker(product: &ProductDetail) -> AnyView {
    let form = format!("buy-{}", product.id);
    if product.options.is_empty() {
        // Nothing to choose: the form sends the product's only variant.
        let only = product.only_variant().map(|variant| variant.id.to_string());
        return view! { <input type="hidden" name="variant_id" value=only form=form /> }.into_any();
    }
    let legend = product.options.iter().map(|group| group.name.clone()).collect::<Vec<_>>().join(" and ");
    let choices = combinations(&product.options, &product.variants)
        .into_iter()
        .map(|(choice, variant)| {
            let label = variant_label(&choice);
            match variant {
                Some(variant) => view! {
                    <label class="variant" class:sold-out=variant.stock <= 0>
                        <input type="radio" name="variant_id" value=variant.id.to_string() form=form.clone()
                            required disabled=variant.stock <= 0 />
                        <span class="variant-name">{label}</span>
                        <span class="variant-price">{format_price(variant.price_cents, &product.currency)}</span>
                        <span class="variant-stock">{stock_label(variant.stock)}</span>
                    </label>
                }
                .into_any(),
                None => view! {
                    <label class="variant sold-out">
                        <input type="radio" disabled />
                        <span class="variant-name">{label}</span>
                        <span class="variant-stock">"Not available"</span>
                    </label>
                }
                .into_any(),
            }
        })
        .collect_view();
    view! {
        <fieldset class="variant-picker" data-testid="variant-picker">
            <legend>{format!("Choose {}", legend.to_lowercase())}</legend>
            {choices}
        </fieldset>
    }
    .into_any()
}

/// The product's live stock and the add-to-cart form (with the variant picker's radio buttons, which belong to it).
/// Stock is re-read after every add and every 15 seconds while the page is open. Without script the form posts
/// itself.
#[island]
fn BuyBox(product_id: i64, stock: i32) -> impl IntoView {
    let stock = RwSignal::new(stock);
    let add = ServerAction::<AddToCart>::new();
    let check_stock = ServerAction::<ProductStock>::new();
    let latest_cart = shared::<Cart>();
    Effect::new(move |_| {
        if let Some(Ok(cart)) = add.value().get() {
            latest_cart.set(Some(cart));
            check_stock.dispatch(ProductStock { product_id });
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(level)) = check_stock.value().get() {
            stock.set(level.stock);
        }
    });
    #[cfg(feature = "hydrate")]
    {
        if let Ok(handle) = set_interval_with_handle(
            move || {
                check_stock.dispatch(ProductStock { product_id });
            },
            std::time::Duration::from_secs(15),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    view! {
        <p class=move || if stock.get() <= 5 { "stock low" } else { "stock" } data-testid="stock">{move || stock_label(stock.get())}</p>
        <form class="add-to-cart" id=format!("buy-{product_id}") method="post" action="/api/cart_add" on:submit=move |ev| {
            let fields = Fields::submitted(&ev);
            let quantity = fields.get("quantity").parse().unwrap_or(0);
            let variant_id = fields.get("variant_id").parse().unwrap_or(0);
            track(EventKind::CartAdd { product_id, quantity });
            add.dispatch(AddToCart { product_id, variant_id, quantity });
        }>
            <input type="hidden" name="product_id" value=product_id.to_string() />
            <label>"Quantity "<input type="number" name="quantity" min="1" max="99" required value="1" /></label>
            <button type="submit" disabled=move || stock.get() <= 0 || add.pending().get()>"Add to cart"</button>
        </form>
        <p class="notice" role="status">
            {move || add.value().get().map(|result| match result {
                Ok(_) => view! { <span class="ok">"Added to your cart. "<a href="/cart">"View cart"</a></span> }.into_any(),
                Err(error) => view! { <ErrorNotice message=error.to_string() /> }.into_any(),
            })}
        </p>
    }
}
