//! Payments: a gateway trait, the built-in test gateway, and the idempotent pay and cancel flows.

use super::{store, CardDetails, OrderStatus, PaymentOutcome, PaymentReceipt};
use crate::{
    error::AppError,
    resilience::{BreakerSettings, CircuitBreaker},
};
use sqlx::PgPool;
use std::{collections::HashMap, future::Future, pin::Pin, sync::Arc, time::Duration};
use uuid::Uuid;

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

/// The gateway's answer to a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Approved { reference: String },
    Declined { reason: String },
}

/// The gateway could not give an answer; the card was not charged (or the charge is safe to retry).
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    #[error("the payment gateway reported an error: {0}")]
    Failed(String),
    #[error("the payment gateway did not answer in time")]
    Timeout,
    /// The circuit breaker refused the call: the gateway was not asked.
    #[error("the payment gateway is failing; calls are paused for {} s", .0.as_secs().max(1))]
    BreakerOpen(Duration),
}

/// A card payment provider.
pub trait PaymentGateway: Send + Sync + 'static {
    fn charge(&self, request: ChargeRequest) -> GatewayFuture<'_, ChargeOutcome>;
    /// Refunds a charge in full; returns the refund's reference.
    fn refund(&self, charge_reference: String, amount_cents: i64) -> GatewayFuture<'_, String>;
}

/// The counter of charge attempts by outcome (exported by the server's `/metrics`).
pub const PAYMENTS_METRIC: &str = "cartograph_payments_total";

/// Test cards understood by [`TestGateway`]; any other valid card number is approved.
pub mod test_cards {
    pub const SUCCEEDS: &str = "4242424242424242";
    pub const DECLINED: &str = "4000000000000002";
    pub const INSUFFICIENT_FUNDS: &str = "4000000000009995";
    pub const GATEWAY_ERROR: &str = "4000000000000119";
    /// Approved, after the gateway's slow-answer delay.
    pub const SLOW: &str = "4000000000000077";
    /// Never answers within any sensible timeout.
    pub const HANGS: &str = "4000000000000259";
}

/// A built-in gateway that behaves like a real one: latency, declines, errors, slow answers, idempotent retries.
pub struct TestGateway {
    latency: Duration,
    slow: Duration,
    charges: std::sync::Mutex<HashMap<String, ChargeOutcome>>,
}

impl TestGateway {
    pub fn new(latency: Duration, slow: Duration) -> Self {
        Self { latency, slow, charges: Default::default() }
    }
}

impl PaymentGateway for TestGateway {
    fn charge(&self, request: ChargeRequest) -> GatewayFuture<'_, ChargeOutcome> {
        Box::pin(async move {
            tokio::time::sleep(self.latency).await;
            if let Some(previous) = self.charges.lock().map_err(|_| GatewayError::Failed("poisoned".into()))?.get(&request.idempotency_key) {
                return Ok(previous.clone());
            }
            let outcome = match request.card.number.as_str() {
                test_cards::DECLINED => ChargeOutcome::Declined { reason: "Your card was declined.".into() },
                test_cards::INSUFFICIENT_FUNDS => ChargeOutcome::Declined { reason: "Insufficient funds.".into() },
                test_cards::GATEWAY_ERROR => return Err(GatewayError::Failed("processing error".into())),
                test_cards::HANGS => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return Err(GatewayError::Timeout);
                }
                number => {
                    if number == test_cards::SLOW {
                        tokio::time::sleep(self.slow).await;
                    }
                    ChargeOutcome::Approved { reference: format!("ch_{}", Uuid::new_v4().simple()) }
                }
            };
            self.charges
                .lock()
                .map_err(|_| GatewayError::Failed("poisoned".into()))?
                .insert(request.idempotency_key, outcome.clone());
            Ok(outcome)
        })
    }

    fn refund(&self, charge_reference: String, _amount_cents: i64) -> GatewayFuture<'_, String> {
        Box::pin(async move {
            tokio::time::sleep(self.latency).await;
            Ok(format!("re_{}", charge_reference.trim_start_matches("ch_")))
        })
    }
}

/// The gateway with the timeout every call gets, behind a circuit breaker: once the gateway keeps failing,
/// shoppers are told at once instead of each waiting for the timeout.
#[derive(Clone)]
pub struct Payments {
    pub gateway: Arc<dyn PaymentGateway>,
    pub timeout: Duration,
    pub breaker: Arc<CircuitBreaker>,
}

impl Payments {
    /// The gateway behind a fresh (closed) breaker named `payments`.
    pub fn new(gateway: Arc<dyn PaymentGateway>, timeout: Duration, breaker: BreakerSettings) -> Self {
        Self { gateway, timeout, breaker: Arc::new(CircuitBreaker::new("payments", breaker)) }
    }

    /// One charge. Errors and timeouts count against the breaker; a decline is a healthy answer and does not.
    async fn charge(&self, request: ChargeRequest) -> Result<ChargeOutcome, GatewayError> {
        let result = match self.breaker.try_acquire() {
            Err(open) => Err(GatewayError::BreakerOpen(open.retry_after)),
            Ok(permit) => {
                let result = self.call(self.gateway.charge(request)).await;
                permit.record(result.is_err());
                result
            }
        };
        metrics::counter!(PAYMENTS_METRIC, "outcome" => charge_outcome_label(&result)).increment(1);
        result
    }

    async fn refund(&self, reference: String, amount_cents: i64) -> Result<String, GatewayError> {
        let permit = self.breaker.try_acquire().map_err(|open| GatewayError::BreakerOpen(open.retry_after))?;
        let result = self.call(self.gateway.refund(reference, amount_cents)).await;
        permit.record(result.is_err());
        result
    }

    async fn call<T>(&self, call: GatewayFuture<'_, T>) -> Result<T, GatewayError> {
        tokio::time::timeout(self.timeout, call).await.unwrap_or(Err(GatewayError::Timeout))
    }
}

/// The `outcome` label of `cartograph_payments_total`.
fn charge_outcome_label(result: &Result<ChargeOutcome, GatewayError>) -> &'static str {
    match result {
        Ok(ChargeOutcome::Approved { .. }) => "approved",
        Ok(ChargeOutcome::Declined { .. }) => "declined",
        Err(GatewayError::Failed(_)) => "failed",
        Err(GatewayError::Timeout) => "timeout",
        Err(GatewayError::BreakerOpen(_)) => "breaker_open",
    }
}

/// What a shopper reads while the payment gateway's circuit breaker is open.
pub const PAYMENTS_PAUSED: &str = "Payments are temporarily unavailable; your order is kept — try again in a minute.";

/// Pays an order awaiting payment, at most once per (user, idempotency key).
///
/// The idempotency row is inserted first: a concurrent request with the same key waits on it and then replays
/// the saved receipt. The order row stays locked while the gateway answers, so two different keys cannot
/// both charge, and the unique index on successful payments backs that up.
pub async fn pay(
    pool: &PgPool,
    payments: &Payments,
    user: Uuid,
    order: Uuid,
    card: CardDetails,
    idempotency_key: &str,
) -> Result<PaymentReceipt, AppError> {
    let key = idempotency_key.trim();
    if !(8..=128).contains(&key.len()) || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(AppError::Invalid("This payment form is out of date; reload the page.".into()));
    }
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query!(
        "INSERT INTO idempotency (user_id, idempotency_key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        user,
        key
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        tx.rollback().await?;
        let saved = sqlx::query_scalar!(
            "SELECT response FROM idempotency WHERE user_id = $1 AND idempotency_key = $2",
            user,
            key
        )
        .fetch_one(pool)
        .await?;
        return match saved.map(serde_json::from_value::<PaymentReceipt>) {
            Some(Ok(receipt)) if receipt.order_id == order => Ok(receipt),
            Some(Ok(_)) => Err(AppError::Invalid("This payment form is out of date; reload the page.".into())),
            _ => Err(AppError::Invalid("This payment is still being processed; reload the page in a moment.".into())),
        };
    }

    let Some(row) = sqlx::query!(
        r#"SELECT status, total_cents AS "total_cents!", currency, reserved_until < now() AS "lapsed!"
           FROM orders WHERE id = $1 AND user_id = $2 AND status <> 'cart' FOR UPDATE"#,
        order,
        user
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Err(AppError::NotFound);
    };
    let status = OrderStatus::parse(&row.status).ok_or(AppError::Internal)?;
    if status != OrderStatus::PendingPayment {
        return Err(AppError::Invalid(format!("This order is {}; it cannot be paid.", status.label().to_lowercase())));
    }
    if row.lapsed {
        return Err(AppError::Invalid("The reservation for this order ran out; please order again.".into()));
    }

    let last4 = card.last4().to_string();
    let request = ChargeRequest {
        idempotency_key: format!("{user}:{key}"),
        amount_cents: row.total_cents,
        currency: row.currency,
        card,
    };
    let (outcome, reference, reason, message) = match payments.charge(request).await {
        Ok(ChargeOutcome::Approved { reference }) => {
            (PaymentOutcome::Succeeded, Some(reference), None, "Payment received. Thank you!".to_string())
        }
        Ok(ChargeOutcome::Declined { reason }) => {
            let message = format!("{reason} Your order is still reserved; try another card.");
            (PaymentOutcome::Declined, None, Some(reason), message)
        }
        Err(GatewayError::BreakerOpen(retry_after)) => {
            // The gateway was not asked: forget the key so the same attempt can be retried once it is back.
            tx.rollback().await?;
            tracing::info!(%order, retry_after_secs = retry_after.as_secs(), "payment refused: the gateway's breaker is open");
            return Err(AppError::Unavailable(PAYMENTS_PAUSED.into()));
        }
        Err(error) => {
            // Nothing was charged: forget the key so the same attempt can be retried, and keep a record.
            tx.rollback().await?;
            tracing::warn!(%error, %order, "payment gateway failure");
            record_failure(pool, order, user, key, row.total_cents, &last4, &error.to_string()).await;
            return Err(AppError::Invalid(
                "The payment service is not answering; you were not charged. Please try again.".into(),
            ));
        }
    };
    let outcome_name = match outcome {
        PaymentOutcome::Succeeded => "succeeded",
        PaymentOutcome::Declined => "declined",
    };
    sqlx::query!(
        r#"INSERT INTO payments (id, order_id, user_id, idempotency_key, outcome, amount_cents, card_last4, gateway_reference, reason)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"#,
        Uuid::new_v4(),
        order,
        user,
        key,
        outcome_name,
        row.total_cents,
        last4,
        reference,
        reason,
    )
    .execute(&mut *tx)
    .await?;
    if outcome == PaymentOutcome::Succeeded {
        store::transition(&mut tx, order, OrderStatus::Paid, &format!("paid with card ending {last4}")).await?;
    }
    let receipt = PaymentReceipt { order_id: order, outcome, message, card_last4: last4 };
    sqlx::query!(
        "UPDATE idempotency SET response = $3 WHERE user_id = $1 AND idempotency_key = $2",
        user,
        key,
        serde_json::to_value(&receipt).map_err(|_| AppError::Internal)?
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(receipt)
}

async fn record_failure(pool: &PgPool, order: Uuid, user: Uuid, key: &str, amount: i64, last4: &str, reason: &str) {
    let result = sqlx::query!(
        r#"INSERT INTO payments (id, order_id, user_id, idempotency_key, outcome, amount_cents, card_last4, reason)
           VALUES ($1, $2, $3, $4, 'failed', $5, $6, $7)"#,
        Uuid::new_v4(),
        order,
        user,
        key,
        amount,
        last4,
        reason
    )
    .execute(pool)
    .await;
    if let Err(error) = result {
        tracing::error!(%error, "could not record a failed payment");
    }
}

/// Cancels an order: an unpaid one releases its stock; a paid one is refunded first.
/// `user` limits it to that shopper's orders (`None` for an admin).
pub async fn cancel(
    pool: &PgPool,
    payments: &Payments,
    user: Option<Uuid>,
    order: Uuid,
    note: &str,
) -> Result<OrderStatus, AppError> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query!(
        "SELECT status, user_id FROM orders WHERE id = $1 AND status <> 'cart' FOR UPDATE",
        order
    )
    .fetch_optional(&mut *tx)
    .await?
    .filter(|row| user.is_none() || row.user_id == user)
    .ok_or(AppError::NotFound)?;
    let status = OrderStatus::parse(&row.status).ok_or(AppError::Internal)?;
    if !status.cancellable() {
        return Err(AppError::Invalid(format!("This order is {}; it can no longer be cancelled.", status.label().to_lowercase())));
    }
    if status == OrderStatus::Paid {
        let charge = sqlx::query!(
            r#"SELECT gateway_reference AS "reference!", amount_cents, user_id, card_last4
               FROM payments WHERE order_id = $1 AND outcome = 'succeeded'"#,
            order
        )
        .fetch_one(&mut *tx)
        .await?;
        let refund = payments.refund(charge.reference, charge.amount_cents).await.map_err(|error| {
            tracing::warn!(%error, %order, "refund failed");
            let message = "The payment service could not refund right now; the order is unchanged. Try again.";
            match error {
                GatewayError::BreakerOpen(_) => AppError::Unavailable(message.into()),
                _ => AppError::Invalid(message.into()),
            }
        })?;
        sqlx::query!(
            r#"INSERT INTO payments (id, order_id, user_id, idempotency_key, outcome, amount_cents, card_last4, gateway_reference)
               VALUES ($1, $2, $3, $4, 'refunded', $5, $6, $7)"#,
            Uuid::new_v4(),
            order,
            charge.user_id,
            format!("refund-{order}"),
            charge.amount_cents,
            charge.card_last4,
            refund,
        )
        .execute(&mut *tx)
        .await?;
    }
    store::release_stock(&mut tx, order).await?;
    let note = if status == OrderStatus::Paid { format!("{note}; refunded") } else { note.to_string() };
    store::transition(&mut tx, order, OrderStatus::Cancelled, &note).await?;
    tx.commit().await?;
    Ok(OrderStatus::Cancelled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(number: &str) -> CardDetails {
        CardDetails::parse(number, "12/40", "123", (2026, 11)).unwrap()
    }

    fn request(number: &str, key: &str) -> ChargeRequest {
        ChargeRequest { idempotency_key: key.into(), amount_cents: 1000, currency: "EUR".into(), card: card(number) }
    }

    #[tokio::test]
    async fn test_cards_behave_as_documented() {
        let gateway = TestGateway::new(Duration::ZERO, Duration::from_millis(10));
        assert!(matches!(gateway.charge(request(test_cards::SUCCEEDS, "a")).await, Ok(ChargeOutcome::Approved { .. })));
        assert!(matches!(gateway.charge(request(test_cards::DECLINED, "b")).await, Ok(ChargeOutcome::Declined { .. })));
        assert!(matches!(gateway.charge(request(test_cards::GATEWAY_ERROR, "c")).await, Err(GatewayError::Failed(_))));
        assert!(matches!(gateway.charge(request(test_cards::SLOW, "d")).await, Ok(ChargeOutcome::Approved { .. })));
    }

    #[tokio::test]
    async fn the_gateway_answers_a_retry_with_the_first_outcome() {
        let gateway = TestGateway::new(Duration::ZERO, Duration::ZERO);
        let first = gateway.charge(request(test_cards::SUCCEEDS, "same")).await.unwrap();
        let second = gateway.charge(request(test_cards::SUCCEEDS, "same")).await.unwrap();
        assert_eq!(first, second);
    }

    fn payments(failure_threshold: u32, timeout: Duration) -> Payments {
        let breaker = BreakerSettings { failure_threshold, cool_down: Duration::from_secs(60) };
        Payments::new(Arc::new(TestGateway::new(Duration::ZERO, Duration::ZERO)), timeout, breaker)
    }

    #[tokio::test]
    async fn a_hanging_gateway_times_out() {
        let payments = payments(5, Duration::from_millis(50));
        let outcome = payments.charge(request(test_cards::HANGS, "h")).await;
        assert!(matches!(outcome, Err(GatewayError::Timeout)));
    }

    #[tokio::test]
    async fn errors_and_timeouts_open_the_breaker_and_then_nothing_reaches_the_gateway() {
        let payments = payments(2, Duration::from_millis(50));
        assert!(matches!(payments.charge(request(test_cards::GATEWAY_ERROR, "e1")).await, Err(GatewayError::Failed(_))));
        assert!(matches!(payments.charge(request(test_cards::HANGS, "e2")).await, Err(GatewayError::Timeout)));
        let refused = payments.charge(request(test_cards::SUCCEEDS, "e3")).await;
        assert!(matches!(refused, Err(GatewayError::BreakerOpen(_))), "{refused:?}");
        assert!(matches!(payments.refund("ch_1".into(), 100).await, Err(GatewayError::BreakerOpen(_))));
    }

    #[tokio::test]
    async fn declines_are_healthy_answers_and_do_not_open_the_breaker() {
        let payments = payments(2, Duration::from_millis(50));
        for key in ["d1", "d2", "d3"] {
            assert!(matches!(payments.charge(request(test_cards::DECLINED, key)).await, Ok(ChargeOutcome::Declined { .. })));
        }
        assert!(matches!(payments.charge(request(test_cards::GATEWAY_ERROR, "d4")).await, Err(GatewayError::Failed(_))));
        assert!(matches!(payments.charge(request(test_cards::INSUFFICIENT_FUNDS, "d5")).await, Ok(ChargeOutcome::Declined { .. })));
        assert!(matches!(payments.charge(request(test_cards::GATEWAY_ERROR, "d6")).await, Err(GatewayError::Failed(_))));
        assert_eq!(payments.breaker.state(), crate::resilience::BreakerState::Closed, "a decline resets the failure count");
    }
}
