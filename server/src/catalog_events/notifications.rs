//! The notifications consumer: turns `catalog.v1` events into notifications for cart holders and admins.
//!
//! Offsets are stored only after the notifications commit; a replayed event adds nothing (one notification of
//! a kind per user per event). A record that can never be stored (undecodable, or refused by the database) is
//! set aside in `clickstream_rejects` with its reason, and the partition moves on; a transient failure is retried.

use crate::consume::{
    failure::{Attempt, Writes},
    Handler,
};
use app::notifications::CatalogEvent;
use rdkafka::message::{BorrowedMessage, Message};

/// Turns catalog events into notifications.
pub struct Notify {
    pub writes: Writes,
}

impl Handler for Notify {
    const NAME: &'static str = "catalog";

    /// Records one event's notifications, or sets the record aside; false only when stopping first.
    async fn handle(&self, message: &BorrowedMessage<'_>) -> bool {
        let writes = &self.writes;
        let event = match message.payload().map(serde_json::from_slice::<CatalogEvent>) {
            Some(Ok(event)) => event,
            Some(Err(error)) => {
                let reason = format!("undecodable catalog event: {error}");
                return writes.set_aside(Self::NAME, message, &reason).await;
            }
            None => return writes.set_aside(Self::NAME, message, "empty payload").await,
        };
        match writes.retry(Self::NAME, || app::notifications::store::record(&writes.pool, &event)).await {
            Attempt::Done(added) => {
                tracing::info!(event_id = %event.event_id, product_id = event.product_id, notifications = added, "catalog event handled");
                true
            }
            Attempt::Permanent(reason) => writes.set_aside(Self::NAME, message, &reason).await,
            Attempt::Stopped => false,
        }
    }
}
