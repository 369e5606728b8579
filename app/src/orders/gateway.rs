//! The payment gateway: the trait a provider implements, the built-in test gateway, and [`Payments`], which
//! puts every call behind a timeout and a circuit breaker and fingerprints cards for the failed-attempt throttle.

use super::CardDetails;
use crate::resilience::{BreakerSettings, CircuitBreaker, Permit};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::PgPool;
use std::{future::Future, pin::Pin, sync::Arc, time::Duration};
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

/// Test cards understood by [`TestGateway`]; any other valid card number is approved.
pub mod test_cards {
    pub const SUCCEEDS: &str = "4242424242424242";
    pub const DECLINED: &str = "4000000000000002";
    pub const INSUFFICIENT_FUNDS: &str = "4000000000009995";
    /// Refused by the gateway's processing (nothing charged); the gateway itself is healthy.
    pub const PROCESSING_ERROR: &str = "4000000000000119";
    /// Approved, but the answer arrives only after the gateway's slow-answer delay: the charge is taken first.
    pub const SLOW: &str = "4000000000000077";
}

/// The built-in gateway. It takes no money, and otherwise behaves like a real provider: latency, declines,
/// refusals, slow answers, idempotent retries, and books kept in its own tables (so the worker can find a
/// charge the web process started). Outages are switched by an operator in `test_gateway_outage`, never by a
/// card, so no shopper can make it fail for others.
pub struct TestGateway {
    pool: PgPool,
    latency: Duration,
    slow: Duration,
}

impl TestGateway {
    pub fn new(pool: PgPool, latency: Duration, slow: Duration) -> Self {
        Self { pool, latency, slow }
    }

    /// Waits the gateway's latency, then behaves as its outage setting says.
    async fn answer(&self) -> Result<(), GatewayError> {
        tokio::time::sleep(self.latency).await;
        let outage = sqlx::query_scalar!("SELECT mode FROM test_gateway_outage")
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        match outage.as_deref() {
            Some("errors") => Err(GatewayError::Unavailable("the test gateway is in an outage".into())),
            Some("hangs") => std::future::pending().await,
            _ => Ok(()),
        }
    }

    async fn recorded_charge(&self, key: &str) -> Result<Option<ChargeOutcome>, GatewayError> {
        let row =
            sqlx::query!("SELECT outcome, reference, reason FROM test_gateway_charges WHERE idempotency_key = $1", key)
                .fetch_optional(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(row.map(|row| match (row.outcome.as_str(), row.reference) {
            ("approved", Some(reference)) => ChargeOutcome::Approved { reference },
            _ => ChargeOutcome::Declined { reason: row.reason.unwrap_or_default() },
        }))
    }
}

fn unavailable(error: sqlx::Error) -> GatewayError {
    GatewayError::Unavailable(format!("the test gateway's books: {error}"))
}

impl PaymentGateway for TestGateway {
    fn charge(&self, request: ChargeRequest) -> GatewayFuture<'_, ChargeOutcome> {
        Box::pin(async move {
            self.answer().await?;
            if let Some(previous) = self.recorded_charge(&request.idempotency_key).await? {
                return Ok(previous);
            }
            let outcome = match request.card.number.as_str() {
                test_cards::DECLINED => ChargeOutcome::Declined { reason: "Your card was declined.".into() },
                test_cards::INSUFFICIENT_FUNDS => ChargeOutcome::Declined { reason: "Insufficient funds.".into() },
                test_cards::PROCESSING_ERROR => {
                    return Err(GatewayError::Rejected("this card could not be processed".into()));
                }
                _ => ChargeOutcome::Approved { reference: format!("ch_{}", Uuid::new_v4().simple()) },
            };
            let (label, reference, reason) = match &outcome {
                ChargeOutcome::Approved { reference } => ("approved", Some(reference.as_str()), None),
                ChargeOutcome::Declined { reason } => ("declined", None, Some(reason.as_str())),
            };
            let inserted = sqlx::query!(
                r#"INSERT INTO test_gateway_charges (idempotency_key, outcome, reference, reason, amount_cents)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (idempotency_key) DO NOTHING"#,
                request.idempotency_key,
                label,
                reference,
                reason,
                request.amount_cents
            )
            .execute(&self.pool)
            .await
            .map_err(unavailable)?
            .rows_affected();
            if inserted == 0 {
                // A concurrent retry with the same key was first: its outcome is the outcome.
                return self
                    .recorded_charge(&request.idempotency_key)
                    .await?
                    .ok_or_else(|| unavailable(sqlx::Error::RowNotFound));
            }
            if request.card.number == test_cards::SLOW {
                tokio::time::sleep(self.slow).await;
            }
            Ok(outcome)
        })
    }

    fn find_charge(&self, idempotency_key: String) -> GatewayFuture<'_, Option<ChargeOutcome>> {
        Box::pin(async move {
            self.answer().await?;
            self.recorded_charge(&idempotency_key).await
        })
    }

    fn refund(&self, request: RefundRequest) -> GatewayFuture<'_, String> {
        Box::pin(async move {
            self.answer().await?;
            let reference = format!("re_{}", Uuid::new_v4().simple());
            sqlx::query_scalar!(
                r#"INSERT INTO test_gateway_refunds (idempotency_key, charge_reference, reference, amount_cents)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
                   RETURNING reference"#,
                request.idempotency_key,
                request.charge_reference,
                reference,
                request.amount_cents
            )
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)
        })
    }
}

/// How many failed attempts (declines and refusals) are allowed within a window before payments are refused.
#[derive(Clone, Copy, Debug)]
pub struct AttemptLimits {
    pub per_user: u32,
    pub per_card: u32,
    pub window: Duration,
}

impl Default for AttemptLimits {
    fn default() -> Self {
        Self { per_user: 5, per_card: 5, window: Duration::from_secs(15 * 60) }
    }
}

/// The gateway with the timeout every call gets, behind a circuit breaker: once the gateway keeps failing,
/// shoppers are told at once instead of each waiting for the timeout.
#[derive(Clone)]
pub struct Payments {
    pub gateway: Arc<dyn PaymentGateway>,
    pub timeout: Duration,
    pub breaker: Arc<CircuitBreaker>,
    pub limits: AttemptLimits,
    /// After this long a charge or refund still in flight is no live request's any more: the worker settles it.
    pub settle_after: Duration,
    card_key: Arc<[u8]>,
}

impl Payments {
    /// The gateway behind a fresh (closed) breaker named `payments`. `card_key` keys card fingerprints.
    pub fn new(gateway: Arc<dyn PaymentGateway>, timeout: Duration, breaker: BreakerSettings, card_key: &[u8]) -> Self {
        Self {
            gateway,
            timeout,
            breaker: Arc::new(CircuitBreaker::new("payments", breaker)),
            limits: AttemptLimits::default(),
            settle_after: timeout * 3,
            card_key: card_key.into(),
        }
    }

    /// A keyed hash of the card number: the same card gives the same value, which reveals nothing without the key.
    pub fn fingerprint(&self, card: &CardDetails) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.card_key).expect("HMAC takes keys of any length");
        mac.update(b"card-fingerprint:");
        mac.update(card.number.as_bytes());
        mac.finalize().into_bytes()[..16].iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// Leave to call the gateway, or how long its breaker still refuses calls.
    pub fn permit(&self) -> Result<Permit, GatewayError> {
        self.breaker.try_acquire().map_err(|open| GatewayError::BreakerOpen(open.retry_after))
    }

    /// One charge under `permit`. Only failures of the gateway itself count against the breaker.
    pub async fn charge(&self, permit: Permit, request: ChargeRequest) -> Result<ChargeOutcome, GatewayError> {
        let result = self.call(permit, self.gateway.charge(request)).await;
        metrics::counter!(PAYMENTS_METRIC, "outcome" => charge_outcome_label(&result)).increment(1);
        result
    }

    pub async fn find_charge(&self, idempotency_key: String) -> Result<Option<ChargeOutcome>, GatewayError> {
        let permit = self.permit()?;
        self.call(permit, self.gateway.find_charge(idempotency_key)).await
    }

    pub async fn refund(&self, permit: Permit, request: RefundRequest) -> Result<String, GatewayError> {
        self.call(permit, self.gateway.refund(request)).await
    }

    async fn call<T>(&self, permit: Permit, call: GatewayFuture<'_, T>) -> Result<T, GatewayError> {
        let result = tokio::time::timeout(self.timeout, call).await.unwrap_or(Err(GatewayError::Timeout));
        permit.record(result.as_ref().err().is_some_and(GatewayError::is_gateway_failure));
        result
    }
}

/// The `outcome` label of `cartograph_payments_total`.
fn charge_outcome_label(result: &Result<ChargeOutcome, GatewayError>) -> &'static str {
    match result {
        Ok(ChargeOutcome::Approved { .. }) => "approved",
        Ok(ChargeOutcome::Declined { .. }) => "declined",
        Err(GatewayError::Rejected(_)) => "rejected",
        Err(GatewayError::Unavailable(_)) => "failed",
        Err(GatewayError::Timeout) => "timeout",
        Err(GatewayError::BreakerOpen(_)) => "breaker_open",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A gateway that answers each call with the next of a script, and counts the calls that reached it.
    struct Scripted {
        script: std::sync::Mutex<Vec<Result<ChargeOutcome, GatewayError>>>,
        calls: AtomicU32,
    }

    impl PaymentGateway for Scripted {
        fn charge(&self, _: ChargeRequest) -> GatewayFuture<'_, ChargeOutcome> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let next = self.script.lock().unwrap().remove(0);
            Box::pin(async move {
                if next == Err(GatewayError::Timeout) {
                    std::future::pending::<()>().await;
                }
                next
            })
        }
        fn find_charge(&self, _: String) -> GatewayFuture<'_, Option<ChargeOutcome>> {
            Box::pin(async { Ok(None) })
        }
        fn refund(&self, _: RefundRequest) -> GatewayFuture<'_, String> {
            Box::pin(async { Ok("re_1".into()) })
        }
    }

    fn payments(script: Vec<Result<ChargeOutcome, GatewayError>>) -> (Payments, Arc<Scripted>) {
        let gateway = Arc::new(Scripted { script: std::sync::Mutex::new(script), calls: AtomicU32::new(0) });
        let breaker = BreakerSettings { failure_threshold: 2, cool_down: Duration::from_secs(60) };
        (Payments::new(gateway.clone(), Duration::from_millis(50), breaker, b"key"), gateway)
    }

    fn request() -> ChargeRequest {
        let card = CardDetails::parse(test_cards::SUCCEEDS, "12/40", "123", (2026, 11)).unwrap();
        ChargeRequest { idempotency_key: "k".into(), amount_cents: 1000, currency: "EUR".into(), card }
    }

    async fn charge(payments: &Payments) -> Result<ChargeOutcome, GatewayError> {
        match payments.permit() {
            Ok(permit) => payments.charge(permit, request()).await,
            Err(open) => Err(open),
        }
    }

    #[tokio::test]
    async fn outages_and_timeouts_open_the_breaker_and_then_nothing_reaches_the_gateway() {
        let (payments, gateway) =
            payments(vec![Err(GatewayError::Unavailable("503".into())), Err(GatewayError::Timeout)]);
        assert_eq!(charge(&payments).await, Err(GatewayError::Unavailable("503".into())));
        assert_eq!(charge(&payments).await, Err(GatewayError::Timeout));
        assert!(matches!(charge(&payments).await, Err(GatewayError::BreakerOpen(_))));
        assert_eq!(gateway.calls.load(Ordering::SeqCst), 2, "the third call never reached the gateway");
    }

    #[tokio::test]
    async fn what_a_card_can_cause_never_opens_the_breaker() {
        let declined = Ok(ChargeOutcome::Declined { reason: "no".into() });
        let rejected = Err(GatewayError::Rejected("this card could not be processed".into()));
        let script = vec![rejected.clone(), declined.clone(), rejected.clone(), rejected, declined];
        let (payments, gateway) = payments(script);
        for _ in 0..5 {
            assert!(!matches!(charge(&payments).await, Err(GatewayError::BreakerOpen(_))));
        }
        assert_eq!(payments.breaker.state(), crate::resilience::BreakerState::Closed);
        assert_eq!(gateway.calls.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn a_card_fingerprint_is_stable_keyed_and_not_the_number() {
        let (payments, _) = payments(vec![]);
        let card = request().card;
        let print = payments.fingerprint(&card);
        assert_eq!(print, payments.fingerprint(&card));
        assert_eq!(print.len(), 32);
        assert!(!print.contains("4242"));
        let (other_key, _) = {
            let breaker = BreakerSettings { failure_threshold: 2, cool_down: Duration::from_secs(60) };
            let gateway = Arc::new(Scripted { script: Default::default(), calls: AtomicU32::new(0) });
            (Payments::new(gateway, Duration::from_millis(50), breaker, b"another key"), ())
        };
        assert_ne!(print, other_key.fingerprint(&card), "another key gives another fingerprint");
    }
}
