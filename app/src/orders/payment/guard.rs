//! [`Payments`]: the gateway as the flow calls it, every call behind a timeout and a circuit breaker, with the
//! card fingerprints and [`AttemptLimits`] of the failed-attempt throttle.

use super::gateway::{
    ChargeOutcome, ChargeRequest, GatewayError, GatewayFuture, PaymentGateway, RefundRequest, PAYMENTS_METRIC,
};
use crate::orders::CardDetails;
use crate::resilience::{BreakerSettings, CircuitBreaker, Permit};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::{sync::Arc, time::Duration};

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
    use crate::orders::payment::test_cards;
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
