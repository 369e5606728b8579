//! The server's side of orders: the payment gateway and the commerce rules built from settings, and the two
//! background jobs of the order flow (`expiry` in the web process, `settlement` in the worker). The flow itself
//! (cart, checkout, pay, cancel) is `app::orders`.

pub mod expiry;
pub mod settlement;

use crate::config::Settings;
use app::orders::{
    payment::{Payments, TestGateway},
    store::CommerceSettings,
};
use sqlx::PgPool;
use std::{sync::Arc, time::Duration};

/// The payment gateway from settings: the built-in test gateway (a real provider plugs in behind the same trait).
pub fn payments(settings: &Settings, pool: &PgPool) -> Payments {
    let gateway = TestGateway::new(
        pool.clone(),
        Duration::from_millis(settings.test_gateway_latency_ms),
        Duration::from_millis(settings.test_gateway_slow_ms),
    );
    let timeout = Duration::from_secs(settings.payment_timeout_secs);
    let mut payments =
        Payments::new(Arc::new(gateway), timeout, settings.payment_breaker(), settings.visit_signing_key());
    payments.limits = settings.payment_attempt_limits();
    payments.settle_after =
        Duration::from_secs(settings.payment_settle_after_secs).max(timeout + Duration::from_secs(1));
    payments
}

/// The commerce rules from settings.
pub fn commerce(settings: &Settings) -> CommerceSettings {
    CommerceSettings {
        reservation: Duration::from_secs(settings.reservation_minutes * 60),
        max_unpaid_orders: settings.max_unpaid_orders,
        max_reserved_per_product: settings.max_reserved_per_product,
    }
}
