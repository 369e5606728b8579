//! The worker: a Kafka consumer group that stores clickstream events; it also relays the catalog outbox
//! (`outbox`) and turns catalog events into notifications (`catalog`).
//!
//! Offsets are stored only after the database commit (at-least-once delivery); the insert ignores an event id
//! it has seen, so a replay changes nothing (exactly-once effect).

pub mod catalog;
pub mod outbox;
pub mod retention;
mod store;
pub mod visits;

use crate::{kafka::{at_least_once_consumer_config, lag_reporting_consumer, Topics}, shutdown::Shutdown};
use anyhow::Context;
use app::tracking::schema::ClickstreamRecord;
use rdkafka::{
    consumer::Consumer,
    message::{BorrowedMessage, Message},
};
use sqlx::PgPool;
use std::time::Duration;

/// What the worker needs to run.
pub struct WorkerConfig {
    pub brokers: String,
    pub group_id: String,
    /// The static member name (`group.instance.id`), if any.
    pub member: Option<String>,
    pub topics: Topics,
    pub closing: visits::ClosingRules,
}

/// How long a stopping consumer waits for the broker to take its last commit and its leaving the group.
pub(crate) const CLOSE_LIMIT: Duration = Duration::from_secs(10);

/// Consumes until `shutdown` fires, then commits what it stored and leaves the group.
pub async fn run(config: WorkerConfig, pool: PgPool, shutdown: Shutdown) -> anyhow::Result<()> {
    let consumer = crate::kafka::GroupConsumer::new(
        lag_reporting_consumer(
            at_least_once_consumer_config(&config.brokers, &config.group_id, config.member.as_deref())
                .set("partition.assignment.strategy", "cooperative-sticky"),
            &config.group_id,
        )
        .context("creating the Kafka consumer")?,
    );
    consumer
        .subscribe(&[&config.topics.clickstream])
        .with_context(|| format!("subscribing to {}", config.topics.clickstream))?;
    tracing::info!(group = %config.group_id, topic = %config.topics.clickstream, "worker consuming");
    let closer = tokio::spawn(visits::close_visits_until(pool.clone(), config.closing, shutdown.clone()));

    loop {
        let message = tokio::select! {
            _ = shutdown.wait() => break,
            message = consumer.recv() => message,
        };
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "consumer error; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if !store_with_retry(&pool, &message, &shutdown).await {
            break;
        }
        if let Err(error) = consumer.store_offset_from_message(&message) {
            tracing::warn!(%error, "could not store the consumer offset");
        }
    }

    shutdown.trigger();
    let _ = closer.await;
    consumer.close(CLOSE_LIMIT).await;
    Ok(())
}

/// Stores one message, retrying database failures until it succeeds or the worker is stopping.
async fn store_with_retry(pool: &PgPool, message: &BorrowedMessage<'_>, shutdown: &Shutdown) -> bool {
    let mut delay = Duration::from_millis(200);
    loop {
        let result = match decode(message) {
            Ok(record) => store::insert_event(pool, &record).await,
            Err(reason) => store::insert_reject(pool, message, &reason).await,
        };
        match result {
            Ok(()) => return true,
            Err(error) => {
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "storing a clickstream event failed");
                tokio::select! {
                    _ = shutdown.wait() => return false,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

fn decode(message: &BorrowedMessage<'_>) -> Result<ClickstreamRecord, String> {
    let payload = message.payload().ok_or_else(|| "empty payload".to_string())?;
    serde_json::from_slice(payload).map_err(|error| format!("undecodable record: {error}"))
}
