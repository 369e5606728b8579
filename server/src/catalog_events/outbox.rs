//! The outbox relays: publish committed rows to their topic, in order. The catalog outbox goes to `catalog.v1`
//! (key: product id); the clickstream outbox (the commerce events the server records at checkout and payment)
//! goes to `clickstream.v1` (key: visit id).
//!
//! One relay per outbox works at a time (a transaction-scoped advisory lock), so several worker copies are safe
//! and a key's events stay in order. Rows are marked published in the same transaction that locked them: if the
//! broker is down nothing is marked, and the rows go out once it is back. A crash between the broker's
//! acknowledgement and the commit re-sends a row; consumers ignore an event id they have seen. A row the broker
//! refuses for good (too large, invalid) is marked failed with the error and skipped: the rows behind it go on.

use crate::{kafka::client_config, shutdown::Shutdown};
use anyhow::Context;
use futures::future::join_all;
use rdkafka::{
    error::KafkaError,
    producer::{FutureProducer, FutureRecord},
    types::RDKafkaErrorCode,
    ClientConfig,
};
use sqlx::{PgPool, Postgres, Transaction};
use std::time::Duration;

/// Rows published per round.
const BATCH: i64 = 200;
/// How long one round waits for the broker.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// An unpublished row: its id, its message key and its payload.
pub struct OutboxRow {
    pub id: i64,
    pub key: String,
    pub payload: String,
}

/// Which outbox table a relay drains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbox {
    Catalog,
    Clickstream,
}

impl Outbox {
    /// The advisory lock key that elects the active relay ("catalog" and "clicks" in ASCII).
    fn lock(self) -> i64 {
        match self {
            Outbox::Catalog => 0x63_61_74_61_6c_6f_67,
            Outbox::Clickstream => 0x63_6c_69_63_6b_73,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Outbox::Catalog => "catalog",
            Outbox::Clickstream => "clickstream",
        }
    }

    async fn due(self, tx: &mut Transaction<'_, Postgres>) -> Result<Vec<OutboxRow>, sqlx::Error> {
        Ok(match self {
            Outbox::Catalog => sqlx::query!(
                "SELECT id, product_id, payload FROM catalog_outbox
                 WHERE published_at IS NULL AND failed_at IS NULL ORDER BY id LIMIT $1",
                BATCH
            )
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .map(|row| OutboxRow { id: row.id, key: row.product_id.to_string(), payload: row.payload.to_string() })
            .collect(),
            Outbox::Clickstream => sqlx::query!(
                "SELECT id, visit_id, payload FROM clickstream_outbox
                 WHERE published_at IS NULL AND failed_at IS NULL ORDER BY id LIMIT $1",
                BATCH
            )
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .map(|row| OutboxRow { id: row.id, key: row.visit_id.to_string(), payload: row.payload.to_string() })
            .collect(),
        })
    }

    async fn mark_published(self, tx: &mut Transaction<'_, Postgres>, ids: &[i64]) -> Result<(), sqlx::Error> {
        match self {
            Outbox::Catalog => {
                sqlx::query!("UPDATE catalog_outbox SET published_at = now() WHERE id = ANY($1)", ids)
                    .execute(&mut **tx)
                    .await?
            }
            Outbox::Clickstream => {
                sqlx::query!("UPDATE clickstream_outbox SET published_at = now() WHERE id = ANY($1)", ids)
                    .execute(&mut **tx)
                    .await?
            }
        };
        Ok(())
    }

    async fn mark_failed(self, tx: &mut Transaction<'_, Postgres>, id: i64, error: &str) -> Result<(), sqlx::Error> {
        match self {
            Outbox::Catalog => {
                sqlx::query!("UPDATE catalog_outbox SET failed_at = now(), error = $2 WHERE id = $1", id, error)
                    .execute(&mut **tx)
                    .await?
            }
            Outbox::Clickstream => {
                sqlx::query!("UPDATE clickstream_outbox SET failed_at = now(), error = $2 WHERE id = $1", id, error)
                    .execute(&mut **tx)
                    .await?
            }
        };
        Ok(())
    }
}

/// Whether the broker (or librdkafka) will refuse this message however often it is sent.
fn refused_for_good(error: &KafkaError) -> bool {
    use RDKafkaErrorCode::*;
    matches!(
        error.rdkafka_error_code(),
        Some(MessageSizeTooLarge | InvalidMessageSize | InvalidMessage | InvalidRecord | MessageBatchTooLarge)
    )
}

/// Publishes one outbox's rows to one topic.
pub struct OutboxRelay {
    pool: PgPool,
    outbox: Outbox,
    config: ClientConfig,
    producer: FutureProducer,
    topic: String,
}

impl OutboxRelay {
    pub fn new(
        pool: PgPool,
        brokers: &crate::kafka::Connection,
        outbox: Outbox,
        topic: String,
    ) -> anyhow::Result<Self> {
        let mut config = client_config(brokers);
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", DELIVERY_TIMEOUT.as_millis().to_string());
        let producer = config.create().context("creating an outbox relay's producer")?;
        Ok(Self { pool, outbox, config, producer, topic })
    }

    /// Publishes one batch of unpublished rows; returns how many it dealt with (published or marked failed), 0
    /// when another relay holds the lock.
    ///
    /// A failed delivery also replaces the producer, as the clickstream producer does: there, an idempotent
    /// producer that lived through a long outage never delivered again to the restarted broker. The rows stay
    /// unpublished and go out with the new one.
    pub async fn publish_batch(&mut self) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        let elected = sqlx::query_scalar!(r#"SELECT pg_try_advisory_xact_lock($1) AS "elected!""#, self.outbox.lock())
            .fetch_one(&mut *tx)
            .await?;
        if !elected {
            return Ok(0);
        }
        let rows = self.outbox.due(&mut tx).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        // The idempotent producer keeps each partition's order, so one key's events arrive in id order.
        let deliveries = rows.iter().map(|row| {
            self.producer.send(FutureRecord::to(&self.topic).key(&row.key).payload(&row.payload), DELIVERY_TIMEOUT)
        });
        let results = join_all(deliveries).await;
        let mut published = Vec::with_capacity(rows.len());
        let mut refused = Vec::new();
        for (row, result) in rows.iter().zip(results) {
            match result {
                Ok(_) => published.push(row.id),
                Err((error, _)) if refused_for_good(&error) => refused.push((row.id, error.to_string())),
                Err((error, _)) => {
                    self.producer = self.config.create().context("renewing an outbox relay's producer")?;
                    anyhow::bail!("the broker did not acknowledge an {} outbox event: {error}", self.outbox.name());
                }
            }
        }
        for (id, error) in &refused {
            tracing::error!(outbox = self.outbox.name(), id, %error, "the broker refuses an outbox row for good; marked failed");
            self.outbox.mark_failed(&mut tx, *id, error).await?;
        }
        self.outbox.mark_published(&mut tx, &published).await?;
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Relays until `shutdown`, polling every `every` while idle and backing off while the broker is down.
    pub async fn run_until(mut self, every: Duration, shutdown: Shutdown) {
        let mut backoff = every;
        loop {
            let wait = match self.publish_batch().await {
                Ok(n) if n as i64 == BATCH => Duration::ZERO,
                Ok(n) => {
                    if n > 0 {
                        tracing::info!(events = n, topic = %self.topic, "relayed outbox events");
                    }
                    backoff = every;
                    every
                }
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), retry_in_ms = backoff.as_millis() as u64, "relaying outbox events failed; they stay in the outbox");
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    backoff
                }
            };
            if !shutdown.sleep(wait).await {
                return;
            }
        }
    }
}
