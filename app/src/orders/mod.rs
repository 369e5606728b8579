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
pub use views::{CheckoutPage, OrderPage, OrdersPage};

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

/// Reserves the cart's stock and turns it into an order awaiting payment. Requires sign-in.
#[server(endpoint = "checkout")]
pub async fn begin_checkout(
    name: String,
    line1: String,
    line2: String,
    city: String,
    postcode: String,
    country: String,
) -> Result<Uuid, AppError> {
    let user = ctx::require_user().await?;
    let address = ShippingAddress::parse(&name, &line1, &line2, &city, &postcode, &country)?;
    let settings = use_context::<store::CommerceSettings>().unwrap_or_default();
    checkout_for(&ctx::pool()?, &settings, user.id, ctx::visit_id().await?, &address).await
}

/// Checkout for `user`, on `visit`: the cart's stock reserved, the order awaiting payment, and the server's own
/// `checkout_begin` recorded under the visit. The server function and the GraphQL API both check out here.
#[cfg(feature = "ssr")]
pub async fn checkout_for(
    pool: &sqlx::PgPool,
    settings: &store::CommerceSettings,
    user: Uuid,
    visit: Uuid,
    address: &ShippingAddress,
) -> Result<Uuid, AppError> {
    let order_id = store::checkout(pool, user, address, settings).await?;
    let kind = crate::tracking::EventKind::CheckoutBegin { order_id };
    let event =
        crate::tracking::server_events::record(visit, Some(user), kind, "/checkout".into(), &order_id.to_string());
    crate::tracking::server_events::emit(pool, &event).await;
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
