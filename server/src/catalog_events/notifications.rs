//! The notifications consumer: turns `catalog.v1` events into notifications for cart holders and admins.
//!
//! Offsets are stored only after the notifications commit; a replayed event adds nothing (one notification of
//! a kind per user per event). A record that can never be stored (undecodable, or refused by the database) is
//! set aside in `clickstream_rejects` with its reason, and the partition moves on; a transient failure is retried.

use crate::{
    consume::{
        failure::{retry_transient, set_aside, Attempt, StorageHealth},
        Handler,
    },
    shutdown::Shutdown,
};
use app::notifications::CatalogEvent;
use rdkafka::message::{BorrowedMessage, Message};
use sqlx::PgPool;

/// Turns catalog events into notifications.
pub struct Notify {
    pub pool: PgPool,
    pub health: StorageHealth,
    pub shutdown: Shutdown,
}

impl Handler for Notify {
    const NAME: &'static str = "catalog";

    async fn handle(&self, message: &BorrowedMessage<'_>) -> bool {
        handle(&self.pool, &self.health, message, &self.shutdown).await
    }
}

/// Records one event's notifications, or sets the record aside; false only when stopping first.
async fn handle(pool: &PgPool, health: &StorageHealth, message: &BorrowedMessage<'_>, shutdown: &Shutdown) -> bool {
    let event = match message.payload().map(serde_json::from_slice::<CatalogEvent>) {
        Some(Ok(event)) => event,
        Some(Err(error)) => {
            return set_aside(
                pool,
                Notify::NAME,
                health,
                shutdown,
                message,
                &format!("undecodable catalog event: {error}"),
            )
            .await
        }
        None => return set_aside(pool, Notify::NAME, health, shutdown, message, "empty payload").await,
    };
    match retry_transient(Notify::NAME, health, shutdown, || app::notifications::store::record(pool, &event)).await {
        Attempt::Done(added) => {
            tracing::info!(event_id = %event.event_id, product_id = event.product_id, notifications = added, "catalog event handled");
            true
        }
        Attempt::Permanent(reason) => set_aside(pool, Notify::NAME, health, shutdown, message, &reason).await,
        Attempt::Stopped => false,
    }
}
