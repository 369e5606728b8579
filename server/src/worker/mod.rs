//! The worker: a Kafka consumer group that stores clickstream events; it also relays the catalog outbox
//! (`outbox`) and turns catalog events into notifications (`catalog`).
//!
//! Offsets are stored only after the database commit (at-least-once delivery); the insert ignores an event id
//! it has seen, so a replay changes nothing (exactly-once effect). A record that can never be stored is set
//! aside in `clickstream_rejects` with its reason and the partition moves on ([`failure`]).

pub mod catalog;
pub mod failure;
pub mod outbox;
pub mod retention;
mod store;
pub mod visits;

use crate::{
    kafka::{at_least_once_consumer_config, lag_reporting_consumer, Topics},
    shutdown::Shutdown,
};
use anyhow::Context;
use app::tracking::schema::{ClickstreamRecord, SCHEMA_VERSION};
use failure::Attempt;
use rdkafka::{
    consumer::Consumer,
    message::{BorrowedMessage, Message},
};
use sqlx::PgPool;
use std::time::Duration;

/// What the worker needs to run.
pub struct WorkerConfig {
    pub kafka: crate::kafka::Connection,
    pub group_id: String,
    /// The static member name (`group.instance.id`), if any.
    pub member: Option<String>,
    pub topics: Topics,
    pub closing: visits::ClosingRules,
    /// The most events a visit may hold; the worker enforces it exactly.
    pub visit_max_events: u32,
    pub health: failure::StorageHealth,
}

/// How long a stopping consumer waits for the broker to take its last commit and its leaving the group.
pub(crate) const CLOSE_LIMIT: Duration = Duration::from_secs(10);

/// Consumes until `shutdown` fires, then commits what it stored and leaves the group.
pub async fn run(config: WorkerConfig, pool: PgPool, shutdown: Shutdown) -> anyhow::Result<()> {
    let consumer = crate::kafka::GroupConsumer::new(
        lag_reporting_consumer(
            at_least_once_consumer_config(&config.kafka, &config.group_id, config.member.as_deref())
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
        if !store(&pool, &config, &message, &shutdown).await {
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

/// The consumer's name in metrics and readiness.
const CLICKSTREAM: &str = "clickstream";

/// Stores one message, or sets it aside when it can never be stored. Returns false only when the worker is
/// stopping before the message was dealt with (its offset must not be stored).
async fn store(pool: &PgPool, config: &WorkerConfig, message: &BorrowedMessage<'_>, shutdown: &Shutdown) -> bool {
    let health = &config.health;
    let record = match decode(message) {
        Ok(record) => record,
        Err(reason) => return failure::set_aside(pool, CLICKSTREAM, health, shutdown, message, &reason).await,
    };
    let cap = config.visit_max_events;
    match failure::retry_transient(CLICKSTREAM, health, shutdown, || store::insert_event(pool, &record, cap)).await {
        Attempt::Done(store::Stored::New | store::Stored::Duplicate) => true,
        Attempt::Done(store::Stored::VisitFull) => {
            let reason = format!("{}: the visit already holds {cap} events", crate::tracking::VISIT_FULL);
            failure::set_aside(pool, CLICKSTREAM, health, shutdown, message, &reason).await
        }
        Attempt::Permanent(reason) => failure::set_aside(pool, CLICKSTREAM, health, shutdown, message, &reason).await,
        Attempt::Stopped => false,
    }
}

fn decode(message: &BorrowedMessage<'_>) -> Result<ClickstreamRecord, String> {
    let payload = message.payload().ok_or_else(|| "empty payload".to_string())?;
    let record: ClickstreamRecord =
        serde_json::from_slice(payload).map_err(|error| format!("undecodable record: {error}"))?;
    if record.schema_version != SCHEMA_VERSION {
        return Err(format!("unsupported schema version {}", record.schema_version));
    }
    Ok(record)
}
