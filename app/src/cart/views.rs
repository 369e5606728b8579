//! The cart page and the header's cart link.

use super::{CartState, SetCartQuantity, MAX_LINE_QUANTITY};
use crate::{
    encode_query_value,
    money::format_price,
    notices::ErrorView,
    tracking::{track, ErrorNotice, EventKind},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// "Cart (3)" in the header; updates whenever the cart changes, without a reload.
#[component]
pub fn CartLink() -> impl IntoView {
    let cart = CartState::get();
    view! {
        <A href="/cart" attr:class="cart-link">
            "Cart "
            <Transition fallback=|| view! { <span class="cart-count">"0"</span> }>
                {move || Suspend::new(async move {
                    let count = cart.cart.await.map(|c| c.item_count()).unwrap_or(0);
                    view! { <span class="cart-count" data-testid="cart-count">{count}</span> }
                })}
            </Transition>
        </A>
    }
}

/// The cart: change quantities, remove lines, go to checkout.
#[component]
pub fn CartPage() -> impl IntoView {
    let cart = CartState::get();
    let set_quantity = ServerAction::<SetCartQuantity>::new();
    Effect::new(move |_| {
        if set_quantity.value().get().is_some() {
            cart.refresh();
        }
    });
    let change = move |product_id: i64, quantity: i32| {
        if quantity == 0 {
            track(EventKind::CartRemove { product_id });
        }
        set_quantity.dispatch(SetCartQuantity { product_id, quantity });
    };
    let user = crate::auth::use_user();

    view! {
        <Title text="Your cart" />
        <h1>"Your cart"</h1>
        <p class="notice" role="status">
            {move || set_quantity.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice message=error.to_string() /> })}
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading your cart…"</p> }>
            {move || Suspend::new(async move {
                match cart.cart.await {
                    Ok(c) if c.lines.is_empty() => view! {
                        <p class="empty">"Your cart is empty. "<A href="/products">"Start shopping"</A></p>
                    }.into_any(),
                    Ok(c) => {
                        let total = format_price(c.total_cents(), c.currency());
                        let signed_in = user.get().is_some();
                        view! {
                            <table class="cart-table">
                                <thead><tr><th>"Product"</th><th>"Price"</th><th>"Quantity"</th><th>"Total"</th><th></th></tr></thead>
                                <tbody>
                                    {c.lines.into_iter().map(|line| {
                                        let id = line.product_id;
                                        let qty = line.quantity;
                                        let max = line.stock.min(MAX_LINE_QUANTITY);
                                        let fewer = format!("One fewer {}", line.name);
                                        let more = format!("One more {}", line.name);
                                        let unit_price = format_price(line.unit_price_cents, &line.currency);
                                        let line_total = format_price(line.line_total_cents(), &line.currency);
                                        let at_limit = qty >= max;
                                        view! {
                                            <tr data-product-id=id>
                                                <td><A href=format!("/product/{}", line.slug)>{line.name}</A></td>
                                                <td>{unit_price}</td>
                                                <td class="qty">
                                                    <button type="button" aria-label=fewer on:click=move |_| change(id, qty - 1)>"−"</button>
                                                    <span class="quantity">{qty}</span>
                                                    <button type="button" aria-label=more disabled=at_limit on:click=move |_| change(id, qty + 1)>"+"</button>
                                                </td>
                                                <td>{line_total}</td>
                                                <td><button type="button" class="link-button" on:click=move |_| change(id, 0)>"Remove"</button></td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                                <tfoot><tr><th colspan="3">"Total"</th><th data-testid="cart-total">{total}</th><th></th></tr></tfoot>
                            </table>
                            <p class="actions">
                                {if signed_in {
                                    view! { <A href="/checkout" attr:class="button">"Check out"</A> }.into_any()
                                } else {
                                    view! { <a class="button" rel="external" href=format!("/auth/login?return_to={}", encode_query_value("/checkout"))>"Sign in to check out"</a> }.into_any()
                                }}
                            </p>
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorView error /> }.into_any(),
                }
            })}
        </Transition>
    }
}
