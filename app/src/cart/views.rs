//! The cart page and the header's cart link. The server renders both from the cart it loads; the islands in them
//! (the count, the cart's lines) share the cart that the last change returned through [`crate::page::shared`].

use super::{ApplyCoupon, Cart, CartState, RemoveCoupon, SetCartQuantity, MAX_LINE_QUANTITY};
use crate::{
    encode_query_value,
    money::format_price,
    notices::{ErrorView, FormRefusal},
    page::shared,
    promotions::rules::CouponState,
    recommend::{bought_together, RecommendationShelf},
    tracking::{track, ErrorNotice, EventKind},
};
use leptos::prelude::*;
use leptos_meta::Title;
use server_fn::ServerFn;

/// "Cart 3" in the header, counted on the server; just "Cart" when the cart cannot be read (the catalog may still
/// come from the cache while the database is away, and a count of 0 would be wrong).
#[component]
pub fn CartLink() -> impl IntoView {
    let cart = CartState::get();
    view! {
        <Suspense fallback=|| view! { <CartCount count=None /> }>
            {move || Suspend::new(async move {
                let count = cart.cart.await.ok().map(|c| c.item_count());
                view! { <CartCount count /> }
            })}
        </Suspense>
    }
}

/// The header's link to the cart; its count follows every change an island of this page makes to the cart.
#[island]
fn CartCount(count: Option<i32>) -> impl IntoView {
    let latest = shared::<Cart>();
    let count = move || latest.get().map(|cart| cart.item_count()).or(count);
    view! {
        <a href="/cart" class="cart-link">
            "Cart "
            {move || count().map(|count| view! { <span class="cart-count" data-testid="cart-count">{count}</span> })}
        </a>
    }
}

/// The cart: change quantities, remove lines, go to checkout; and what paid orders held with its products.
#[component]
pub fn CartPage() -> impl IntoView {
    let cart = CartState::get();
    let user = crate::auth::use_user();
    let bought_with = Resource::new(|| (), move |_| async move { bought_together(cart.product_ids().await).await });
    view! {
        <Title text="Your cart" />
        <h1>"Your cart"</h1>
        <FormRefusal />
        <Suspense fallback=|| view! { <p class="loading">"Loading your cart…"</p> }>
            {move || Suspend::new(async move {
                match cart.cart.await {
                    Ok(cart) => {
                        let coupon = (!cart.lines.is_empty()).then(|| view! { <CouponForm applied=cart.pricing.coupon.clone() /> });
                        let hint = (!cart.lines.is_empty()).then(|| view! { <p class="hint">{crate::tax::tax_hint()}</p> });
                        view! { <CartLines cart signed_in=user.get().is_some() />{hint}{coupon} }.into_any()
                    }
                    Err(error) => view! { <ErrorView error /> }.into_any(),
                }
            })}
        </Suspense>
        <RecommendationShelf load=bought_with />
    }
}

/// The coupon code: a plain form (no script) that applies it, or the code applied and a way to take it off. What
/// it takes off is a line of the cart's foot.
#[component]
fn CouponForm(applied: Option<CouponState>) -> impl IntoView {
    match applied {
        Some(coupon) => view! {
            <form method="post" action=RemoveCoupon::url() class="coupon-form">
                <p data-testid="coupon-applied">"Code "<strong>{coupon.code}</strong>" entered."</p>
                <button type="submit" class="link-button">"Remove the code"</button>
            </form>
        }
        .into_any(),
        None => view! {
            <form method="post" action=ApplyCoupon::url() class="coupon-form">
                <label>"Coupon code "<input name="code" required maxlength="32" autocomplete="off" spellcheck="false" /></label>
                <button type="submit" class="secondary">"Apply"</button>
            </form>
        }
        .into_any(),
    }
}

/// The cart's lines with their quantity buttons, the total, and the way to checkout.
#[cfg_attr(any(feature = "ssr", feature = "account"), island)]
#[cfg_attr(not(any(feature = "ssr", feature = "account")), component)]
fn CartLines(cart: Cart, signed_in: bool) -> impl IntoView {
    let set_quantity = ServerAction::<SetCartQuantity>::new();
    let latest = shared::<Cart>();
    Effect::new(move |_| {
        if let Some(Ok(cart)) = set_quantity.value().get() {
            latest.set(Some(cart));
        }
    });
    let change = move |product_id: i64, variant_id: i64, quantity: i32| {
        if quantity == 0 {
            track(EventKind::CartRemove { product_id });
        }
        set_quantity.dispatch(SetCartQuantity { product_id, variant_id, quantity });
    };
    let lines = move |c: Cart| {
        if c.lines.is_empty() {
            return view! { <p class="empty">"Your cart is empty. "<a href="/products">"Start shopping"</a></p> }
                .into_any();
        }
        let foot = c.foot;
        view! {
            <table class="cart-table">
                <thead><tr><th>"Product"</th><th>"Price"</th><th>"Quantity"</th><th>"Total"</th><th><span class="visually-hidden">"Remove"</span></th></tr></thead>
                <tbody>
                    {c.lines.into_iter().map(|line| {
                        let id = line.product_id;
                        let variant = line.variant_id;
                        let qty = line.quantity;
                        let max = line.stock.min(MAX_LINE_QUANTITY);
                        let unit_price = format_price(line.unit_price_cents, &line.currency);
                        let line_total = format_price(line.line_total_cents(), &line.currency);
                        let title = line.title;
                        let (fewer, more) = (format!("One fewer {title}"), format!("One more {title}"));
                        let at_limit = qty >= max;
                        view! {
                            <tr data-product-id=id>
                                <td><a href=format!("/product/{}", line.slug)>{title}</a></td>
                                <td>{unit_price}</td>
                                <td class="qty">
                                    <button type="button" aria-label=fewer on:click=move |_| change(id, variant, qty - 1)>"−"</button>
                                    <span class="quantity">{qty}</span>
                                    <button type="button" aria-label=more disabled=at_limit on:click=move |_| change(id, variant, qty + 1)>"+"</button>
                                </td>
                                <td>{line_total}</td>
                                <td><button type="button" class="link-button" on:click=move |_| change(id, variant, 0)>"Remove"</button></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
                <tfoot inner_html=foot></tfoot>
            </table>
            <p class="actions">
                {if signed_in {
                    view! { <a href="/checkout" class="button">"Check out"</a> }.into_any()
                } else {
                    view! { <a class="button" rel="external" href=format!("/auth/login?return_to={}", encode_query_value("/checkout"))>"Sign in to check out"</a> }.into_any()
                }}
            </p>
        }
        .into_any()
    };
    view! {
        <p class="notice" role="status">
            {move || set_quantity.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice message=error.to_string() /> })}
        </p>
        {move || lines(latest.get().unwrap_or_else(|| cart.clone()))}
    }
}
