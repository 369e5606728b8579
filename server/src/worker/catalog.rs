//! The notifications consumer: turns `catalog.v1` events into notifications for cart holders and admins.
//!
//! Offsets are stored only after the notifications commit; a replayed event adds nothing (one notification of
//! a kind per user per event). An undecodable record is logged and skipped: it can never become decodable.

use crate::{
    kafka::{at_least_once_consumer_config, lag_reporting_consumer},
    shutdown::Shutdown,
};
use anyhow::Context;
use app::notifications::CatalogEvent;
use rdkafka::{
    consumer::Consumer,
    message::Message,
};
use sqlx::PgPool;
use std::time::Duration;

/// Consumes `topic` in `group` until `shutdown`, then commits and leaves the group.
pub async fn run(
    brokers: &str,
    group: &str,
    member: Option<&str>,
    topic: &str,
    pool: PgPool,
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
        match message.payload().map(serde_json::from_slice::<CatalogEvent>) {
            Some(Ok(event)) => {
                if !record_with_retry(&pool, &event, &shutdown).await {
                    break;
                }
            }
            Some(Err(error)) => tracing::error!(%error, offset = message.offset(), "skipping an undecodable catalog event"),
            None => tracing::error!(offset = message.offset(), "skipping an empty catalog event"),
        }
        if let Err(error) = consumer.store_offset_from_message(&message) {
            tracing::warn!(%error, "could not store the catalog consumer offset");
        }
    }
    consumer.close(super::CLOSE_LIMIT).await;
    Ok(())
}

/// Stores an event's notifications, retrying database failures until done or stopping.
async fn record_with_retry(pool: &PgPool, event: &CatalogEvent, shutdown: &Shutdown) -> bool {
    let mut delay = Duration::from_millis(200);
    loop {
        match app::notifications::store::record(pool, event).await {
            Ok(added) => {
                tracing::info!(event_id = %event.event_id, product_id = event.product_id, notifications = added, "catalog event handled");
                return true;
            }
            Err(error) => {
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "storing notifications failed");
                tokio::select! {
                    _ = shutdown.wait() => return false,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}
