//! The notifications consumer: turns `catalog.v1` events into notifications for cart holders and admins.
//!
//! Offsets are stored only after the notifications commit; a replayed event adds nothing (one notification of
//! a kind per user per event). A record that can never be stored (undecodable, or refused by the database) is
//! set aside in `clickstream_rejects` with its reason, and the partition moves on; a transient failure is retried.

use super::failure::{retry_transient, set_aside, Attempt, StorageHealth};
use crate::{
    kafka::{at_least_once_consumer_config, lag_reporting_consumer},
    shutdown::Shutdown,
};
use anyhow::Context;
use app::notifications::CatalogEvent;
use rdkafka::{
    consumer::Consumer,
    message::{BorrowedMessage, Message},
};
use sqlx::PgPool;
use std::time::Duration;

/// Consumes `topic` in `group` until `shutdown`, then commits and leaves the group.
pub async fn run(
    brokers: &crate::kafka::Connection,
    group: &str,
    member: Option<&str>,
    topic: &str,
    pool: PgPool,
    health: StorageHealth,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let consumer = crate::kafka::GroupConsumer::new(
        lag_reporting_consumer(&mut at_least_once_consumer_config(brokers, group, member), group)
            .context("creating the catalog consumer")?,
    );
    consumer.subscribe(&[topic]).with_context(|| format!("subscribing to {topic}"))?;
    tracing::info!(%group, %topic, "notifications consumer started");
    loop {
        let message = tokio::select! {
            _ = shutdown.wait() => break,
            message = consumer.recv() => message,
        };
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "catalog consumer error; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if !handle(&pool, &health, &message, &shutdown).await {
            break;
        }
        if let Err(error) = consumer.store_offset_from_message(&message) {
            tracing::warn!(%error, "could not store the catalog consumer offset");
        }
    }
    consumer.close(super::CLOSE_LIMIT).await;
    Ok(())
}

/// The consumer's name in metrics and readiness.
const CATALOG: &str = "catalog";

/// Records one event's notifications, or sets the record aside; false only when stopping first.
async fn handle(pool: &PgPool, health: &StorageHealth, message: &BorrowedMessage<'_>, shutdown: &Shutdown) -> bool {
    let event = match message.payload().map(serde_json::from_slice::<CatalogEvent>) {
        Some(Ok(event)) => event,
        Some(Err(error)) => {
            return set_aside(pool, CATALOG, health, shutdown, message, &format!("undecodable catalog event: {error}"))
                .await
        }
        None => return set_aside(pool, CATALOG, health, shutdown, message, "empty payload").await,
    };
    match retry_transient(CATALOG, health, shutdown, || app::notifications::store::record(pool, &event)).await {
        Attempt::Done(added) => {
            tracing::info!(event_id = %event.event_id, product_id = event.product_id, notifications = added, "catalog event handled");
            true
        }
        Attempt::Permanent(reason) => set_aside(pool, CATALOG, health, shutdown, message, &reason).await,
        Attempt::Stopped => false,
    }
}
