//! Checkout, the order page (payment, confirmation, history) and the order list. The server renders them; the
//! checkout form and the order itself (which payment and cancellation change in place) are islands.

use super::{
    checkout_delivery, get_order, my_orders, saved_address, BeginCheckout, CancelOrder, DeliveryStep, OrderDetail,
    OrderLine, OrderStatus, PayOrder, PaymentOutcome, SetCheckoutAddress, ShippingAddress,
};
use crate::{
    auth::use_user,
    cart::CartState,
    money::format_price,
    notices::{ErrorView, FormRefusal, SignInPrompt},
    page::{reload, Fields},
    promotions::{discount_items, discount_rows},
    tracking::ErrorNotice,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_params_map};
use server_fn::ServerFn;
use uuid::Uuid;

/// The order summary and the shipping address form (from the address kept on the cart, if any); on to choosing the
/// delivery.
#[component]
pub fn CheckoutPage() -> impl IntoView {
    let user = use_user();
    let cart = CartState::get();
    let kept = Resource::new(|| (), |_| saved_address());
    view! {
        <Title text="Checkout" />
        <h1>"Checkout"</h1>
        <FormRefusal />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let c = cart.cart.await.unwrap_or_default();
                if user.get().is_none() {
                    return view! { <SignInPrompt return_to="/checkout" purpose="to check out." /> }.into_any();
                }
                if c.lines.is_empty() {
                    return view! { <p class="empty">"Your cart is empty. "<A href="/products">"Start shopping"</A></p> }.into_any();
                }
                let address = kept.await.ok().flatten();
                let currency = c.currency().to_string();
                let pricing = c.pricing;
                let total = format_price(pricing.total_cents, &currency);
                let refused = pricing.coupon_refusal(&currency).map(|message| {
                    view! { <p class="error" role="alert">{message}" "<A href="/cart">"Change it in your cart"</A></p> }
                });
                let discounts = (!pricing.discounts.is_empty()).then(|| view! {
                    <li class="subtotal">"Subtotal"<span>{format_price(pricing.subtotal_cents, &currency)}</span></li>
                    {discount_items(&pricing.discounts, &currency)}
                });
                view! {
                    <div class="checkout">
                        <section class="summary">
                            <h2>"Your order"</h2>
                            <ul>
                                {c.lines.into_iter().map(|line| view! {
                                    <li>{format!("{} × {}", line.quantity, line.title)}<span>{format_price(line.line_total_cents(), &line.currency)}</span></li>
                                }).collect_view()}
                                {discounts}
                            </ul>
                            <p class="total">"Items "<strong data-testid="checkout-total">{total}</strong></p>
                            <p class="hint">"Delivery is chosen in the next step. "{crate::tax::tax_hint()}</p>
                            {refused}
                        </section>
                        {address_form(address)}
                    </div>
                }.into_any()
            })}
        </Suspense>
    }
}

/// The shipping address form, from the address kept on the cart (if any): a plain form, rendered by the server
/// and sent by the browser (no script: nothing of it in any bundle). The browser checks what it can before sending
/// (every field's length, the postcode's and the country's letters), so a mistake is said at once and loses nothing
/// typed; the server checks everything again and, once it kept the address, opens the delivery step.
fn address_form(address: Option<ShippingAddress>) -> impl IntoView {
    let a = address.unwrap_or_else(|| ShippingAddress {
        name: String::new(),
        line1: String::new(),
        line2: None,
        city: String::new(),
        postcode: String::new(),
        country: String::new(),
    });
    view! {
        <form method="post" action=SetCheckoutAddress::url() class="address-form">
            <h2>"Shipping address"</h2>
            <label>"Full name"<input name="name" required maxlength="100" autocomplete="name" value=a.name /></label>
            <label>"Street address"<input name="line1" required maxlength="120" autocomplete="address-line1" value=a.line1 /></label>
            <label>"Address line 2 (optional)"<input name="line2" maxlength="120" autocomplete="address-line2" value=a.line2 /></label>
            <label>"City"<input name="city" required maxlength="80" autocomplete="address-level2" value=a.city /></label>
            <label>"Postcode"<input name="postcode" required maxlength="12" pattern="[A-Za-z0-9 \\-]+"
                title="Letters, digits, spaces and dashes" autocomplete="postal-code" value=a.postcode /></label>
            <label>"Country code"<input name="country" required maxlength="2" pattern="[A-Za-z]{2}"
                title="Two letters, such as DE, FR or GB" placeholder="DE" autocomplete="country" value=a.country /></label>
            <button type="submit">"Continue to delivery"</button>
        </form>
    }
}

/// The delivery step: the kept address, the ways to deliver to it (each with its price, estimate and what the order
/// then comes to, tax shown), and "Reserve and continue to payment" (a plain form: the order's page opens). An
/// address nothing delivers to is told so, with the way back to change it.
#[component]
pub fn DeliveryPage() -> impl IntoView {
    let step = Resource::new(|| (), |_| checkout_delivery());
    view! {
        <Title text="Delivery · Checkout" />
        <h1>"Delivery"</h1>
        <FormRefusal />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match step.await {
                    Ok(step) => delivery_view(step),
                    Err(error) => view! { <ErrorView error sign_in=("/checkout", "to check out.") /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn delivery_view(step: DeliveryStep) -> AnyView {
    let Some(a) = step.address else {
        return view! { <p class="empty">"First, "<A href="/checkout">"your shipping address"</A>"."</p> }.into_any();
    };
    let address = view! {
        <section class="address">
            <h2>"Shipping to"</h2>
            <address>{a.name}<br />{a.line1}<br />{a.line2.map(|l| view! { {l}<br /> })}{format!("{} {}", a.postcode, a.city)}<br />{a.country}</address>
            <p><A href="/checkout">"Change the address"</A></p>
        </section>
    };
    if let Some(outside) = step.outside {
        return view! {
            {address}
            <p class="error" role="alert" data-testid="outside-zones">{outside}" "<A href="/checkout">"Change the address"</A></p>
        }
        .into_any();
    }
    let currency = step.currency;
    let price = move |cents: i64| format_price(cents, &currency);
    let include = step.prices_include_tax;
    let options = step
        .options
        .into_iter()
        .enumerate()
        .map(|(index, option)| {
            let charge = if option.shipping.cents == 0 { "Free".to_string() } else { price(option.shipping.cents) };
            let tax = if include {
                format!("incl. VAT {}", price(option.tax_cents))
            } else {
                format!("VAT {} added", price(option.tax_cents))
            };
            let total = format!("Order total {} ({tax})", price(option.total_cents));
            let (value, cheapest) = (option.method_id.to_string(), index == 0);
            let estimate = crate::shipping::estimate(option.shipping.min_days, option.shipping.max_days);
            view! {
                <label class="delivery-option" data-testid="delivery-option">
                    <input type="radio" name="shipping_method" value=value required checked=cheapest />
                    <strong>{option.shipping.method.clone()}</strong>
                    <span class="price">{charge}</span>
                    <span class="estimate">{estimate}</span>
                    <span class="hint" data-testid="delivery-total">{total}</span>
                </label>
            }
        })
        .collect_view();
    view! {
        <div class="checkout">
            <form method="post" action=BeginCheckout::url() class="delivery-form">
                <fieldset>
                    <legend>"How should we deliver it?"</legend>
                    {options}
                </fieldset>
                <p class="hint">{format!("Items after discounts: {}.", price(step.goods_cents))}</p>
                <button type="submit">"Reserve and continue to payment"</button>
            </form>
            {address}
        </div>
    }
    .into_any()
}

/// An order: pay it while it awaits payment, then its confirmation, lines, address and state history.
#[component]
pub fn OrderPage() -> impl IntoView {
    let params = use_params_map();
    let detail = Resource::new(
        move || params.read().get("id").and_then(|id| Uuid::parse_str(&id).ok()),
        |id| async move {
            match id {
                Some(id) => get_order(id).await,
                None => Err(crate::error::AppError::NotFound),
            }
        },
    );
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading your order…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(order) => view! { <OrderView order /> }.into_any(),
                    Err(error) => view! { <ErrorView error sign_in=("/orders", "to see your orders.") missing="that order" /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn OrderView(order: OrderDetail) -> impl IntoView {
    let summary = order.summary.clone();
    let status = summary.status;
    let id = summary.id;
    let short_id = id.to_string()[..8].to_string();
    let paid = status == OrderStatus::Paid;
    let total = format_price(summary.total_cents, &summary.currency);
    view! {
        <Title text=format!("Order {short_id}") />
        <article class="order" data-status=status.as_str()>
            <h1>{format!("Order {short_id}")}</h1>
            <p class=format!("status status-{}", status.as_str()) data-testid="order-status">{status.label()}</p>
            {(status == OrderStatus::Paid).then(|| view! {
                <p class="confirmation" data-testid="confirmation">"Thank you! Your payment was received and your order is being prepared."</p>
            })}
            {(status == OrderStatus::PendingPayment).then(|| view! {
                <section class="payment">
                    <h2>{format!("Pay {total}")}</h2>
                    {order.reserved_until.map(|until| view! {
                        <p class="hint">{format!("Your items are reserved until {} UTC.", until.format("%H:%M"))}</p>
                    })}
                    <PaymentForm order_id=id payment_key=order.payment_key.clone() />
                    <p class="hint">"Test cards: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined, 4000 0000 0000 0119 cannot be processed, 4000 0000 0000 0077 answers slowly. Any future expiry and any CVC."</p>
                </section>
            })}
            {order_record(order, |line| format!("/product/{}", line.slug))}
            {status.cancellable().then(|| view! { <CancelForm order_id=id paid /> })}
        </article>
    }
}

/// The card form. A payment that went through loads the order page again, paid; any other answer is said in
/// place, and the next attempt gets a new idempotency key (the answered one would only replay its answer).
#[cfg_attr(any(feature = "ssr", feature = "account"), island)]
#[cfg_attr(not(any(feature = "ssr", feature = "account")), component)]
fn PaymentForm(order_id: Uuid, payment_key: String) -> impl IntoView {
    let pay = ServerAction::<PayOrder>::new();
    let key = RwSignal::new(payment_key);
    Effect::new(move |_| match pay.value().get() {
        Some(Ok(receipt)) if receipt.outcome == PaymentOutcome::Succeeded => reload(),
        Some(_) => key.set(fresh_payment_key()),
        None => {}
    });
    let notice = move || {
        pay.value().get().map(|result| match result {
            Ok(receipt) if receipt.outcome == PaymentOutcome::Succeeded => {
                view! { <p class="ok" role="status">{receipt.message}</p> }.into_any()
            }
            Ok(receipt) => view! { <p><ErrorNotice message=receipt.message /></p> }.into_any(),
            Err(error) => view! { <p><ErrorNotice message=error.to_string() /></p> }.into_any(),
        })
    };
    let submit = move |event: leptos::ev::SubmitEvent| {
        let fields = Fields::submitted(&event);
        pay.dispatch(PayOrder {
            order_id,
            card_number: fields.get("card_number"),
            expiry: fields.get("expiry"),
            cvc: fields.get("cvc"),
            idempotency_key: key.get_untracked(),
        });
    };
    view! {
        {notice}
        <form method="post" action=PayOrder::url() class="payment-form" on:submit=submit>
            <input type="hidden" name="order_id" value=order_id.to_string() />
            <input type="hidden" name="idempotency_key" value=key />
            <label>"Card number"<input name="card_number" required inputmode="numeric" autocomplete="cc-number" maxlength="23" /></label>
            <label>"Expiry (MM/YY)"<input name="expiry" required placeholder="12/29" autocomplete="cc-exp" maxlength="7" /></label>
            <label>"CVC"<input name="cvc" required inputmode="numeric" autocomplete="cc-csc" maxlength="4" /></label>
            <button type="submit" disabled=move || pay.pending().get()>
                {move || if pay.pending().get() { "Paying…" } else { "Pay now" }}
            </button>
        </form>
    }
}

/// A new idempotency key for the next payment attempt: 128 bits from the browser's `crypto`, in hex. Without
/// them it is empty, which the server refuses as a form that is out of date.
fn fresh_payment_key() -> String {
    #[cfg(feature = "hydrate")]
    {
        let mut bytes = [0u8; 16];
        if let Some(crypto) = web_sys::window().and_then(|window| window.crypto().ok()) {
            if crypto.get_random_values_with_u8_array(&mut bytes).is_ok() {
                return bytes.iter().map(|byte| format!("{byte:02x}")).collect();
            }
        }
    }
    String::new()
}

/// "Cancel order" (or "Cancel and refund" once paid); the order page loads again, cancelled.
#[cfg_attr(any(feature = "ssr", feature = "account"), island)]
#[cfg_attr(not(any(feature = "ssr", feature = "account")), component)]
fn CancelForm(order_id: Uuid, paid: bool) -> impl IntoView {
    let cancel = ServerAction::<CancelOrder>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = cancel.value().get() {
            reload();
        }
    });
    let submit = move |event: leptos::ev::SubmitEvent| {
        Fields::submitted(&event);
        cancel.dispatch(CancelOrder { order_id });
    };
    view! {
        <form method="post" action=CancelOrder::url() class="cancel-form" on:submit=submit>
            <input type="hidden" name="order_id" value=order_id.to_string() />
            <button type="submit" class="secondary" disabled=move || cancel.pending().get()>
                {if paid { "Cancel and refund" } else { "Cancel order" }}
            </button>
            {move || cancel.value().get().and_then(Result::err).map(|error| view! { <ErrorView error /> })}
        </form>
    }
}

/// The shopper's orders.
#[component]
pub fn OrdersPage() -> impl IntoView {
    let orders = Resource::new(|| (), |_| my_orders());
    view! {
        <Title text="Your orders" />
        <h1>"Your orders"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match orders.await {
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No orders yet. "<A href="/products">"Start shopping"</A></p> }.into_any(),
                    Ok(list) => view! {
                        <table class="orders-table">
                            <thead><tr><th>"Order"</th><th>"Placed"</th><th>"Items"</th><th>"Total"</th><th>"Status"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|o| view! {
                                    <tr>
                                        <td><A href=format!("/orders/{}", o.id)>{o.id.to_string()[..8].to_string()}</A></td>
                                        <td>{o.created_at.format("%Y-%m-%d %H:%M").to_string()}</td>
                                        <td>{o.item_count}</td>
                                        <td>{format_price(o.total_cents, &o.currency)}</td>
                                        <td class=format!("status status-{}", o.status.as_str())>{o.status.label()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <ErrorView error sign_in=("/orders", "to see your orders.") /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// An order's parcels, each with its carrier, tracking number and items.
fn shipment_list(shipments: &[super::Shipment], lines: &[OrderLine]) -> Option<impl IntoView> {
    let title =
        |variant: i64| lines.iter().find(|line| line.variant_id == variant).map(OrderLine::title).unwrap_or_default();
    let parcels = shipments
        .iter()
        .map(|shipment| {
            let how = [shipment.carrier.clone(), shipment.tracking.clone().map(|t| format!("tracking {t}"))];
            let how = how.into_iter().flatten().collect::<Vec<_>>().join(", ");
            let items = shipment.units.iter().map(|(variant, units)| format!("{units} × {}", title(*variant)));
            let items = items.collect::<Vec<_>>().join(", ");
            // "— DHL, tracking JD0146…: 2 × Linen Tea Towels", one text.
            let what = if how.is_empty() { format!(": {items}") } else { format!(" — {how}: {items}") };
            view! {
                <li data-testid="shipment">
                    <time datetime=shipment.at.to_rfc3339()>{shipment.at.format("%Y-%m-%d %H:%M UTC").to_string()}</time>
                    {what}
                </li>
            }
        })
        .collect_view();
    (!shipments.is_empty())
        .then(|| view! { <section class="shipments"><h2>"Shipments"</h2><ul>{parcels}</ul></section> })
}

/// An order's items (with its discounts), shipping address, state history and payments, as both the shopper and
/// the back office show them; `line_href` says where each item links to.
pub(crate) fn order_record(order: OrderDetail, line_href: fn(&OrderLine) -> String) -> impl IntoView {
    let OrderDetail {
        summary,
        lines,
        subtotal_cents,
        discounts,
        taxes,
        prices_include_tax,
        shipping,
        shipments,
        address,
        history,
        payments,
        ..
    } = order;
    let shipments = shipment_list(&shipments, &lines);
    let currency = summary.currency.as_str();
    let total = format_price(summary.total_cents, currency);
    let price = |cents: i64| format_price(cents, currency);
    let discounts = (!discounts.is_empty()).then(|| {
        view! {
            <tr class="subtotal"><th colspan="2">"Subtotal"</th><td>{price(subtotal_cents)}</td></tr>
            {discount_rows(&discounts, currency)}
        }
    });
    // Tax added to the prices comes before the total; tax they include is said after it.
    let tax_rows = |included: bool| {
        let rows = taxes.iter().filter(|tax| tax.rate_bp > 0).map(|tax| {
            let label = if included { format!("incl. {}", tax.label()) } else { tax.label() };
            view! { <tr class="tax"><th colspan="2">{label}</th><td data-testid="tax">{price(tax.tax_cents)}</td></tr> }
        });
        (prices_include_tax == Some(included)).then(|| rows.collect_view())
    };
    let (added, included) = (tax_rows(false), tax_rows(true));
    let delivery = shipping.map(|charge| {
        let cost = if charge.cents == 0 { "Free".to_string() } else { price(charge.cents) };
        view! { <tr class="delivery"><th colspan="2">{charge.title()}</th><td data-testid="delivery">{cost}</td></tr> }
    });
    view! {
        <section class="lines">
            <h2>"Items"</h2>
            <table>
                <tbody>
                    {lines.into_iter().map(|line| view! {
                        <tr>
                            <td>
                                <a href=line_href(&line)>{line.name.clone()}</a>
                                {(!line.variant.is_empty()).then(|| view! { <span class="variant-name">{line.variant.clone()}</span> })}
                                <span class="sku">{line.sku.clone()}</span>
                            </td>
                            <td>{format!("× {}", line.quantity)}</td>
                            <td>{price(line.unit_price_cents * i64::from(line.quantity))}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
                <tfoot>{discounts}{delivery}{added}<tr><th colspan="2">"Total"</th><th data-testid="order-total">{total}</th></tr>{included}</tfoot>
            </table>
        </section>
        {shipments}
        {address.map(|a| view! {
            <section class="address">
                <h2>"Shipping to"</h2>
                <address>{a.name}<br />{a.line1}<br />{a.line2.map(|l| view! { {l}<br /> })}{format!("{} {}", a.postcode, a.city)}<br />{a.country}</address>
            </section>
        })}
        <section class="history">
            <h2>"History"</h2>
            <ol class="timeline">
                {history.into_iter().map(|change| view! {
                    <li>
                        <time datetime=change.at.to_rfc3339()>{change.at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</time>
                        " — "<strong>{change.to.label()}</strong>
                        {change.note.map(|note| view! { <span class="note">{format!(" ({note})")}</span> })}
                    </li>
                }).collect_view()}
            </ol>
        </section>
        {(!payments.is_empty()).then(|| view! {
            <section class="payments">
                <h2>"Payments"</h2>
                <ul>
                    {payments.into_iter().map(|p| view! {
                        <li>{format!("{} · {} · {} · card ending {}{}", p.at.format("%Y-%m-%d %H:%M:%S"), p.outcome.label(), price(p.amount_cents),
                            p.card_last4.unwrap_or_default(), p.reason.map(|r| format!(" · {r}")).unwrap_or_default())}</li>
                    }).collect_view()}
                </ul>
            </section>
        })}
    }
}
