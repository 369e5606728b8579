//! `[payments]`: the payment gateway, its limits and breaker, the abuse throttle and the settling of payments
//! left in flight.
//!
//! | key | environment variable | default |
//! |---|---|---|
//! | `gateway` | `CARTOGRAPH_PAYMENT_GATEWAY` | dev: `test`; production: required (only [`TEST_GATEWAY`] is built in) |
//! | `timeout_secs` | `CARTOGRAPH_PAYMENT_TIMEOUT_SECS` | 5 (at least 1) |
//! | `breaker_failures` | `CARTOGRAPH_PAYMENT_BREAKER_FAILURES` | 5 (at least 1) |
//! | `breaker_cooldown_secs` | `CARTOGRAPH_PAYMENT_BREAKER_COOLDOWN_SECS` | 30 (at least 1) |
//! | `failures_per_user` | `CARTOGRAPH_PAYMENT_FAILURES_PER_USER` | 5 |
//! | `failures_per_card` | `CARTOGRAPH_PAYMENT_FAILURES_PER_CARD` | 5 |
//! | `failure_window_minutes` | `CARTOGRAPH_PAYMENT_FAILURE_WINDOW_MINUTES` | 15 |
//! | `settle_after_secs` | `CARTOGRAPH_PAYMENT_SETTLE_AFTER_SECS` | 60 (at least the timeout and one second) |
//! | `settle_sweep_secs` | `CARTOGRAPH_PAYMENT_SETTLE_SWEEP_SECS` | 15 |
//! | `test_gateway_latency_ms` | `CARTOGRAPH_TEST_GATEWAY_LATENCY_MS` | 150 |
//! | `test_gateway_slow_ms` | `CARTOGRAPH_TEST_GATEWAY_SLOW_MS` | 2500 |
//!
//! The throttle's defaults are [`AttemptLimits::default`]'s.

use super::values;
use app::{orders::payment::AttemptLimits, resilience::BreakerSettings};
use serde::{Deserialize, Serialize};
use std::{num::NonZeroU32, time::Duration};

/// The only payment gateway built in: it approves any valid test card and takes no money.
pub const TEST_GATEWAY: &str = "test";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    /// The payment gateway. Only `test` is built in (it takes no money); production refuses to start until it is
    /// set on purpose, then warns at every start and shows a banner on every page.
    pub gateway: Option<String>,
    /// The limit for one call to the payment gateway.
    #[serde(rename = "timeout_secs", with = "values::positive_secs")]
    pub timeout: Duration,
    /// Consecutive payment-gateway errors or timeouts that open its circuit breaker…
    pub breaker_failures: NonZeroU32,
    /// …and how long it then refuses payments before letting one trial payment through.
    #[serde(rename = "breaker_cooldown_secs", with = "values::positive_secs")]
    pub breaker_cooldown: Duration,
    /// Failed payment attempts (declines, cards the gateway cannot process) allowed per user and per card within
    /// the window before payments are refused for the rest of it (an outage of the gateway counts for nobody).
    pub failures_per_user: u32,
    pub failures_per_card: u32,
    #[serde(rename = "failure_window_minutes", with = "values::minutes")]
    pub failure_window: Duration,
    /// A charge or refund still in flight this long after it began (a crash, a cancelled request, a timeout) is
    /// settled by the worker, which asks the gateway what became of it; at least the payment timeout.
    #[serde(rename = "settle_after_secs", with = "values::secs")]
    pub settle_after: Duration,
    /// How often the worker looks for such payments.
    #[serde(rename = "settle_sweep_secs", with = "values::secs")]
    pub settle_sweep: Duration,
    /// The built-in test gateway's latency, and its delay for the slow test card.
    #[serde(rename = "test_gateway_latency_ms", with = "values::ms")]
    pub test_gateway_latency: Duration,
    #[serde(rename = "test_gateway_slow_ms", with = "values::ms")]
    pub test_gateway_slow: Duration,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        let throttle = AttemptLimits::default();
        Self {
            gateway: None,
            timeout: Duration::from_secs(5),
            breaker_failures: NonZeroU32::new(5).expect("positive"),
            breaker_cooldown: Duration::from_secs(30),
            failures_per_user: throttle.per_user,
            failures_per_card: throttle.per_card,
            failure_window: throttle.window,
            settle_after: Duration::from_secs(60),
            settle_sweep: Duration::from_secs(15),
            test_gateway_latency: Duration::from_millis(150),
            test_gateway_slow: Duration::from_millis(2_500),
        }
    }
}

impl PaymentSettings {
    /// Whether payments go to the built-in test gateway (no money is taken).
    pub fn test_payments(&self) -> bool {
        self.gateway.as_deref() == Some(TEST_GATEWAY)
    }

    /// The payment gateway's circuit breaker.
    pub fn breaker(&self) -> BreakerSettings {
        BreakerSettings { failure_threshold: self.breaker_failures.get(), cool_down: self.breaker_cooldown }
    }

    /// The failed-payment throttle.
    pub fn attempt_limits(&self) -> AttemptLimits {
        AttemptLimits {
            per_user: self.failures_per_user,
            per_card: self.failures_per_card,
            window: self.failure_window,
        }
    }

    /// When the worker settles a payment still in flight: never before a live call could have ended.
    pub fn effective_settle_after(&self) -> Duration {
        self.settle_after.max(self.timeout + Duration::from_secs(1))
    }

    /// A gateway this build has, if one is named.
    pub(super) fn check(&self) -> Result<(), String> {
        match self.gateway.as_deref() {
            Some(gateway) if gateway != TEST_GATEWAY => Err(format!(
                "CARTOGRAPH_PAYMENT_GATEWAY={gateway} is not a gateway this build has (only `{TEST_GATEWAY}`)"
            )),
            _ => Ok(()),
        }
    }
}
