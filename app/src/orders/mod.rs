//! Orders: checkout (reserve stock), payment (idempotent), history, cancellation with refund.

mod input;
#[cfg(feature = "ssr")]
pub mod payment;
mod status;
#[cfg(feature = "ssr")]
pub mod store;
pub(crate) mod views;

pub use input::{luhn_valid, CardDetails, ShippingAddress};
pub use status::OrderStatus;
pub use views::{CheckoutPage, DeliveryPage, OrderPage, OrdersPage};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_context as ctx;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An order in a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub id: Uuid,
    pub status: OrderStatus,
    pub total_cents: i64,
    pub currency: String,
    pub item_count: i64,
    pub created_at: DateTime<Utc>,
}

/// A line of a placed order, at the price it was sold for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub product_id: i64,
    pub variant_id: i64,
    pub sku: String,
    /// The variant's choices, e.g. "M · Sand" (empty for a product without options).
    pub variant: String,
    pub slug: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price_cents: i64,
    /// How many of its units have shipped.
    pub shipped: i32,
}

impl OrderLine {
    /// "Merino Base Layer (M · Sand)".
    pub fn title(&self) -> String {
        crate::variants::titled(&self.name, &self.variant)
    }
}

/// A parcel sent: when, by which carrier and with which tracking number (if any), and how many of which items.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    pub at: DateTime<Utc>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    /// (variant id, units), in the order's line order.
    pub units: Vec<(i64, i32)>,
}

/// How an order is delivered, as it was chosen and charged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingCharge {
    /// The method's name when it was chosen.
    pub method: String,
    pub cents: i64,
    /// The destination's standard rate, and the tax in (or added to) `cents`.
    pub tax_rate_bp: i32,
    pub tax_cents: i64,
    pub min_days: i32,
    pub max_days: i32,
}

impl ShippingCharge {
    /// "Standard delivery · 2–3 business days".
    pub fn title(&self) -> String {
        format!("{} · {}", self.method, crate::shipping::estimate(self.min_days, self.max_days))
    }
}

/// One way the cart can be delivered, and what the order then comes to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryOption {
    pub method_id: i64,
    pub shipping: ShippingCharge,
    /// The order's tax (its lines' and the shipping's), included in the total or added to it.
    pub tax_cents: i64,
    pub total_cents: i64,
}

/// The delivery step of checkout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryStep {
    pub cart: Uuid,
    /// `None`: the shopper has not given one yet.
    pub address: Option<ShippingAddress>,
    pub currency: String,
    /// What the goods come to after their discounts.
    pub goods_cents: i64,
    /// Cheapest first.
    pub options: Vec<DeliveryOption>,
    /// Why nothing delivers to the address, when nothing does.
    pub outside: Option<String>,
    pub prices_include_tax: bool,
}

/// One entry of an order's state history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub from: Option<OrderStatus>,
    pub to: OrderStatus,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

/// Where a payment row stands (the `payments.outcome` column, the same words in JSON and SQL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "text", rename_all = "snake_case"))]
pub enum PaymentState {
    /// Committed before the gateway was called; settled after its answer, or by the worker.
    Charging,
    Succeeded,
    Declined,
    /// The gateway could not process the card: nothing was charged.
    Rejected,
    /// The gateway failed (or never took the charge): nothing was charged.
    Failed,
    /// A refund sent (or about to be); settled like a charge.
    Refunding,
    Refunded,
}

impl PaymentState {
    /// How the state reads in an order's record.
    pub fn label(self) -> &'static str {
        match self {
            PaymentState::Charging => "being confirmed",
            PaymentState::Succeeded => "succeeded",
            PaymentState::Declined => "declined",
            PaymentState::Rejected => "not processed",
            PaymentState::Failed => "failed (not charged)",
            PaymentState::Refunding => "refund being confirmed",
            PaymentState::Refunded => "refunded",
        }
    }
}

/// A payment attempt as the shopper sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub outcome: PaymentState,
    pub amount_cents: i64,
    pub card_last4: Option<String>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// Everything an order page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDetail {
    pub summary: OrderSummary,
    pub lines: Vec<OrderLine>,
    /// What the lines came to before the discounts; the summary's total is what was charged.
    pub subtotal_cents: i64,
    pub discounts: Vec<crate::promotions::Discount>,
    /// The tax by rate (none for an order placed before tax)…
    pub taxes: Vec<crate::tax::TaxLine>,
    /// …and whether it is included in the prices (`Some(true)`) or was added to the total.
    pub prices_include_tax: Option<bool>,
    /// How it is delivered (none for an order placed before shipping was charged).
    pub shipping: Option<ShippingCharge>,
    pub shipments: Vec<Shipment>,
    pub address: Option<ShippingAddress>,
    pub reserved_until: Option<DateTime<Utc>>,
    pub history: Vec<StatusChange>,
    pub payments: Vec<PaymentRecord>,
    /// A fresh idempotency key for the next payment attempt on this page.
    pub payment_key: String,
}

/// How a payment attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentOutcome {
    Succeeded,
    Declined,
    /// The gateway did not answer in time; the worker settles the charge (once) when the gateway can tell.
    Pending,
}

/// The answer to a payment attempt; replayed as is for a repeated idempotency key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentReceipt {
    pub order_id: Uuid,
    pub outcome: PaymentOutcome,
    pub message: String,
    pub card_last4: String,
}

/// The first step of checkout: keeps the shipping address on the signed-in shopper's cart, then on to choosing how
/// it is delivered (`/checkout/delivery`).
#[server(endpoint = "checkout_address")]
pub async fn set_checkout_address(
    name: String,
    line1: String,
    line2: String,
    city: String,
    postcode: String,
    country: String,
) -> Result<(), AppError> {
    let user = ctx::require_user().await?;
    let address = ShippingAddress::parse(&name, &line1, &line2, &city, &postcode, &country)?;
    store::keep_address(&ctx::pool()?, user.id, &address).await?;
    leptos_axum::redirect("/checkout/delivery");
    Ok(())
}

/// The address kept on the shopper's cart, if any (the checkout form starts from it).
#[server(endpoint = "checkout_saved_address")]
pub async fn saved_address() -> Result<Option<ShippingAddress>, AppError> {
    let user = ctx::require_user().await?;
    Ok(store::kept_address(&ctx::pool()?, user.id).await?)
}

/// The delivery step: the ways the cart can reach the kept address, each with what the order then comes to; the
/// server records `tax_shown` under the visit when it shows the tax for a destination.
#[server(endpoint = "checkout_delivery")]
pub async fn checkout_delivery() -> Result<DeliveryStep, AppError> {
    let user = ctx::require_user().await?;
    let settings = use_context::<store::CommerceSettings>().unwrap_or_default();
    let pool = ctx::pool()?;
    let step = store::delivery_step(&pool, user.id, &settings).await?;
    if let (Some(address), Some(first)) = (&step.address, step.options.first()) {
        let kind =
            crate::tracking::EventKind::TaxShown { country: address.country.clone(), tax_cents: first.tax_cents };
        let dedup = format!("{}:{}:{}", step.cart, address.country, first.tax_cents);
        let event = crate::tracking::server_events::record(
            ctx::visit_id().await?,
            Some(user.id),
            kind,
            "/checkout/delivery".into(),
            &dedup,
        );
        crate::tracking::server_events::emit(&pool, &event).await;
    }
    Ok(step)
}

/// Reserves the cart's stock and turns it into an order awaiting payment, delivered to the kept address by
/// `shipping_method` (absent or 0: the cheapest that delivers there); on to the order's payment page. Requires
/// sign-in.
#[server(endpoint = "checkout")]
pub async fn begin_checkout(#[server(default)] shipping_method: i64) -> Result<Uuid, AppError> {
    let user = ctx::require_user().await?;
    let pool = ctx::pool()?;
    let address = store::kept_address(&pool, user.id)
        .await?
        .ok_or_else(|| AppError::Invalid("Please give your shipping address first.".into()))?;
    let settings = use_context::<store::CommerceSettings>().unwrap_or_default();
    let order = checkout_for(&pool, &settings, user.id, ctx::visit_id().await?, &address, shipping_method).await?;
    leptos_axum::redirect(&format!("/orders/{order}"));
    Ok(order)
}

/// Checkout for `user`, on `visit`: the cart's stock reserved, the order awaiting payment, and the server's own
/// `checkout_begin` and `shipping_selected` recorded under the visit. The server function and the GraphQL API both
/// check out here.
#[cfg(feature = "ssr")]
pub async fn checkout_for(
    pool: &sqlx::PgPool,
    settings: &store::CommerceSettings,
    user: Uuid,
    visit: Uuid,
    address: &ShippingAddress,
    shipping_method: i64,
) -> Result<Uuid, AppError> {
    use crate::tracking::{server_events, EventKind};
    let placed = store::checkout(pool, user, address, shipping_method, settings).await?;
    let order_id = placed.id;
    let dedup = order_id.to_string();
    let began =
        server_events::record(visit, Some(user), EventKind::CheckoutBegin { order_id }, "/checkout".into(), &dedup);
    server_events::emit(pool, &began).await;
    let kind =
        EventKind::ShippingSelected { order_id, method: placed.shipping.method, shipping_cents: placed.shipping.cents };
    let selected = server_events::record(visit, Some(user), kind, "/checkout/delivery".into(), &dedup);
    server_events::emit(pool, &selected).await;
    Ok(order_id)
}

/// Card details as a form gives them, checked against today's month.
pub fn card_details(card_number: &str, expiry: &str, cvc: &str) -> Result<CardDetails, AppError> {
    use chrono::Datelike;
    let today = Utc::now();
    CardDetails::parse(card_number, expiry, cvc, (today.year_ce().1 as i32, today.month0() + 1))
}

/// Pays an order awaiting payment. The same `idempotency_key` never charges twice.
#[server(endpoint = "pay")]
pub async fn pay_order(
    order_id: Uuid,
    card_number: String,
    expiry: String,
    cvc: String,
    idempotency_key: String,
) -> Result<PaymentReceipt, AppError> {
    let user = ctx::require_user().await?;
    let card = card_details(&card_number, &expiry, &cvc)?;
    let payments = ctx::provided::<payment::Payments>("payment gateway")?;
    let visit = ctx::visit_id().await?;
    pay_for(&ctx::pool()?, &payments, user.id, visit, order_id, card, &idempotency_key).await
}

/// Pays `user`'s order through the gateway, once per `idempotency_key`, and records the server's own
/// `payment_result` under `visit` when the gateway decided. The server function and the GraphQL API both pay
/// here.
#[cfg(feature = "ssr")]
pub async fn pay_for(
    pool: &sqlx::PgPool,
    payments: &payment::Payments,
    user: Uuid,
    visit: Uuid,
    order_id: Uuid,
    card: CardDetails,
    idempotency_key: &str,
) -> Result<PaymentReceipt, AppError> {
    let receipt = payment::pay(pool, payments, user, order_id, card, idempotency_key).await?;
    let outcome = match receipt.outcome {
        PaymentOutcome::Succeeded => "succeeded",
        PaymentOutcome::Declined => "declined",
        PaymentOutcome::Pending => return Ok(receipt),
    };
    let kind = crate::tracking::EventKind::PaymentResult { order_id, outcome: outcome.into() };
    let path = format!("/orders/{order_id}");
    let event = crate::tracking::server_events::record(visit, Some(user), kind, path, idempotency_key);
    crate::tracking::server_events::emit(pool, &event).await;
    Ok(receipt)
}

/// Cancels the shopper's order: releases reserved stock, and refunds a paid order.
#[server(endpoint = "cancel_order")]
pub async fn cancel_order(order_id: Uuid) -> Result<OrderStatus, AppError> {
    let user = ctx::require_user().await?;
    let pool = ctx::pool()?;
    let payments = ctx::provided::<payment::Payments>("payment gateway")?;
    payment::cancel(&pool, &payments, Some(user.id), order_id, "cancelled by the shopper").await
}

/// The shopper's placed orders, newest first.
#[server(endpoint = "my_orders")]
pub async fn my_orders() -> Result<Vec<OrderSummary>, AppError> {
    let user = ctx::require_user().await?;
    let pool = ctx::pool()?;
    Ok(store::list_for_user(&pool, user.id).await?)
}

/// One of the shopper's orders; anyone else's is not found.
#[server(endpoint = "order_detail")]
pub async fn get_order(order_id: Uuid) -> Result<OrderDetail, AppError> {
    let user = ctx::require_user().await?;
    let pool = ctx::pool()?;
    store::detail(&pool, Some(user.id), order_id).await?.ok_or(AppError::NotFound)
}
