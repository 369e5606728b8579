//! The catalog outbox relay: publishes committed catalog events to `catalog.v1` (key: product id), in order.
//!
//! One relay works at a time (a transaction-scoped advisory lock), so several worker copies are safe and a
//! product's events stay in order. Rows are marked published in the same transaction that locked them: if the
//! broker is down nothing is marked, and the rows go out once it is back. A crash between the broker's
//! acknowledgement and the commit re-sends a row; consumers ignore an event id they have seen.

use crate::{kafka::client_config, shutdown::Shutdown};
use anyhow::Context;
use futures::future::join_all;
use rdkafka::{
    producer::{FutureProducer, FutureRecord},
    ClientConfig,
};
use sqlx::PgPool;
use std::time::Duration;

/// The advisory lock key that elects the active relay ("catalog" in ASCII).
const RELAY_LOCK: i64 = 0x63_61_74_61_6c_6f_67;
/// Rows published per round.
const BATCH: i64 = 200;
/// How long one round waits for the broker.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Publishes outbox rows to one topic.
pub struct OutboxRelay {
    pool: PgPool,
    config: ClientConfig,
    producer: FutureProducer,
    topic: String,
}

impl OutboxRelay {
    pub fn new(pool: PgPool, brokers: &str, topic: String) -> anyhow::Result<Self> {
        let mut config = client_config(brokers);
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", DELIVERY_TIMEOUT.as_millis().to_string());
        let producer = config.create().context("creating the outbox relay's producer")?;
        Ok(Self { pool, config, producer, topic })
    }

    /// Publishes one batch of unpublished rows; returns how many went out (0 when another relay holds the lock).
    ///
    /// A failed delivery also replaces the producer, as the clickstream producer does: there, an idempotent
    /// producer that lived through a long outage never delivered again to the restarted broker. The rows stay
    /// unpublished and go out with the new one.
    pub async fn publish_batch(&mut self) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        let elected = sqlx::query_scalar!(r#"SELECT pg_try_advisory_xact_lock($1) AS "elected!""#, RELAY_LOCK)
            .fetch_one(&mut *tx)
            .await?;
        if !elected {
            return Ok(0);
        }
        let rows = sqlx::query!(
            "SELECT id, product_id, payload FROM catalog_outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",
            BATCH
        )
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let records: Vec<(String, String)> = rows.iter().map(|row| (row.product_id.to_string(), row.payload.to_string())).collect();
        // The idempotent producer keeps each partition's order, so one key's events arrive in id order.
        let deliveries = records.iter().map(|(key, payload)| {
            self.producer.send(FutureRecord::to(&self.topic).key(key).payload(payload), DELIVERY_TIMEOUT)
        });
        let failed = join_all(deliveries).await.into_iter().find_map(Result::err);
        if let Some((error, _)) = failed {
            self.producer = self.config.create().context("renewing the outbox relay's producer")?;
            anyhow::bail!("the broker did not acknowledge a catalog event: {error}");
        }
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        sqlx::query!("UPDATE catalog_outbox SET published_at = now() WHERE id = ANY($1)", &ids).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(ids.len())
    }

    /// Relays until `shutdown`, polling every `every` while idle and backing off while the broker is down.
    pub async fn run_until(mut self, every: Duration, shutdown: Shutdown) {
        let mut backoff = every;
        loop {
            let wait = match self.publish_batch().await {
                Ok(n) if n as i64 == BATCH => Duration::ZERO,
                Ok(n) => {
                    if n > 0 {
                        tracing::info!(events = n, topic = %self.topic, "relayed catalog events");
                    }
                    backoff = every;
                    every
                }
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), retry_in_ms = backoff.as_millis() as u64, "relaying catalog events failed; they stay in the outbox");
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    backoff
                }
            };
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
