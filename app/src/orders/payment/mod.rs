//! Paying and refunding without double charges.
//!
//! No gateway call happens inside a database transaction. A charge is first committed as a `charging` row (a
//! refund as `refunding`), then the gateway is called with a stable idempotency key, then the answer is recorded
//! in a second transaction. Whatever a crash, a cancelled request or a timeout leaves in flight, the worker
//! settles with [`settle_in_flight`], by asking the gateway what became of that key: a reload can never charge
//! twice, and a refund is sent once however often it is retried.
//!
//! `gateway` is the contract a payment provider implements and `test_gateway` the built-in provider; `guard` puts
//! every call behind a timeout and a circuit breaker ([`Payments`]); `drill` fails and delays calls on purpose
//! when the live settings say so; `pay` is the flow and `store` its SQL.

mod drill;
mod gateway;
mod guard;
mod key;
mod pay;
mod store;
mod test_gateway;

pub use drill::DrillGateway;
pub use gateway::{
    test_cards, ChargeOutcome, ChargeRequest, GatewayError, GatewayFuture, PaymentGateway, RefundRequest,
    PAYMENTS_METRIC,
};
pub use guard::{AttemptLimits, Payments};
pub use key::IdempotencyKey;
pub use pay::{cancel, pay, settle_in_flight, PAYMENTS_PAUSED};
pub use test_gateway::TestGateway;
