//! The payment gateway's contract: the trait a provider implements, what is sent to it and what it answers, and
//! the test cards the built-in [`TestGateway`](super::TestGateway) understands.

use crate::orders::CardDetails;
use std::{future::Future, pin::Pin, time::Duration};

/// What a gateway call returns.
pub type GatewayFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, GatewayError>> + Send + 'a>>;

/// A charge request. The idempotency key lets the gateway recognise a retry of the same charge.
#[derive(Debug, Clone)]
pub struct ChargeRequest {
    pub idempotency_key: String,
    pub amount_cents: i64,
    pub currency: String,
    pub card: CardDetails,
}

/// A full refund of a charge; the same idempotency key refunds once.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub idempotency_key: String,
    pub charge_reference: String,
    pub amount_cents: i64,
}

/// The gateway's answer to a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Approved { reference: String },
    Declined { reason: String },
}

/// A call that got no outcome.
///
/// Which failures count against the gateway's breaker matters: a shopper can choose the card, so nothing a card
/// can cause may pause payments for everyone. Only [`GatewayError::Unavailable`] and [`GatewayError::Timeout`]
/// count; an adapter maps a provider's 4xx to `Rejected` and its transport errors and 5xx to `Unavailable`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The gateway refused to process this request (a card it cannot handle, a malformed request). Nothing was
    /// charged; the gateway is healthy.
    #[error("the payment gateway refused the request: {0}")]
    Rejected(String),
    /// The gateway failed before taking the request (transport error, 5xx). Nothing was charged.
    #[error("the payment gateway is failing: {0}")]
    Unavailable(String),
    /// No answer in time. The request may or may not have been taken: only the gateway can tell, later.
    #[error("the payment gateway did not answer in time")]
    Timeout,
    /// The circuit breaker refused the call: the gateway was not asked.
    #[error("the payment gateway is failing; calls are paused for {} s", .0.as_secs().max(1))]
    BreakerOpen(Duration),
}

impl GatewayError {
    /// Whether this failure says something about the gateway's health (and so counts against its breaker).
    pub fn is_gateway_failure(&self) -> bool {
        matches!(self, GatewayError::Unavailable(_) | GatewayError::Timeout)
    }
}

/// A card payment provider.
pub trait PaymentGateway: Send + Sync + 'static {
    /// Charges a card. A retry with the same idempotency key gets the first answer and is never charged again.
    fn charge(&self, request: ChargeRequest) -> GatewayFuture<'_, ChargeOutcome>;
    /// What became of the charge sent with `idempotency_key`: `None` when the gateway never took it.
    fn find_charge(&self, idempotency_key: String) -> GatewayFuture<'_, Option<ChargeOutcome>>;
    /// Refunds a charge in full and returns the refund's reference; a retry with the same key refunds once.
    fn refund(&self, request: RefundRequest) -> GatewayFuture<'_, String>;
}

/// The counter of charge attempts by outcome (exported by the server's `/metrics`).
pub const PAYMENTS_METRIC: &str = "cartograph_payments_total";

/// Test cards understood by [`TestGateway`](super::TestGateway); any other valid card number is approved.
pub mod test_cards {
    pub const SUCCEEDS: &str = "4242424242424242";
    pub const DECLINED: &str = "4000000000000002";
    pub const INSUFFICIENT_FUNDS: &str = "4000000000009995";
    /// Refused by the gateway's processing (nothing charged); the gateway itself is healthy.
    pub const PROCESSING_ERROR: &str = "4000000000000119";
    /// Approved, but the answer arrives only after the gateway's slow-answer delay: the charge is taken first.
    pub const SLOW: &str = "4000000000000077";
}
