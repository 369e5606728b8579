//! Settling payments left in flight (a crash, a cancelled request or a gateway timeout between the `charging`
//! row and the answer): the worker asks the gateway what became of each key. Several workers may settle at once.

use crate::shutdown::Shutdown;
use app::orders::payment::Payments;
use sqlx::PgPool;
use std::time::Duration;

/// Settles payments left in flight every `every` until `shutdown`.
pub async fn settle_until(pool: PgPool, payments: Payments, every: Duration, shutdown: Shutdown) {
    shutdown
        .every(every, || async {
            match app::orders::payment::settle_in_flight(&pool, &payments, 20).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(payments = count, "settled payments left in flight"),
                Err(error) => tracing::warn!(%error, "settling payments in flight failed; retrying later"),
            }
        })
        .await
}
