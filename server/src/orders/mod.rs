//! The server's side of orders: the payment gateway and the commerce rules built from settings, and the two
//! background jobs of the order flow (`expiry` in the web process, `settlement` in the worker). The flow itself
//! (cart, checkout, pay, cancel) is `app::orders`.

pub mod expiry;
pub mod settlement;

use crate::config::{OrderSettings, PaymentSettings};
use app::orders::{
    payment::{Payments, TestGateway},
    store::CommerceSettings,
};
use sqlx::PgPool;
use std::sync::Arc;

/// The payment gateway from settings: the built-in test gateway (a real provider plugs in behind the same trait).
/// `card_key` keys the card fingerprints (the visit-signing key).
pub fn payments(settings: &PaymentSettings, card_key: &[u8], pool: &PgPool) -> Payments {
    let gateway = TestGateway::new(pool.clone(), settings.test_gateway_latency, settings.test_gateway_slow);
    let mut payments = Payments::new(Arc::new(gateway), settings.timeout, settings.breaker(), card_key);
    payments.limits = settings.attempt_limits();
    payments.settle_after = settings.effective_settle_after();
    payments
}

/// The commerce rules from settings.
pub fn commerce(settings: &OrderSettings) -> CommerceSettings {
    settings.commerce()
}
