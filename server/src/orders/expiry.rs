//! Order expiry: an unpaid order whose reservation lapsed is expired and its stock released. The web process
//! sweeps; several copies may sweep at once (`app::orders::store::expire_reservations` skips locked rows).

use crate::shutdown::Shutdown;
use sqlx::PgPool;
use std::time::Duration;

/// Expires lapsed reservations every `every` until `shutdown`.
pub async fn sweep_until(pool: PgPool, every: Duration, shutdown: Shutdown) {
    shutdown
        .every(every, || async {
            loop {
                match app::orders::store::expire_reservations(&pool, 100).await {
                    Ok(0) => break,
                    Ok(count) => tracing::info!(orders = count, "expired unpaid orders and released their stock"),
                    Err(error) => {
                        tracing::warn!(%error, "expiring reservations failed; retrying later");
                        break;
                    }
                }
            }
        })
        .await
}
