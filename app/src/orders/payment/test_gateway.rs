//! The built-in test gateway: no money moves, but it answers like a real provider, keeping its books in its own
//! tables.

use super::gateway::{
    test_cards, ChargeOutcome, ChargeRequest, GatewayError, GatewayFuture, PaymentGateway, RefundRequest,
};
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

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
