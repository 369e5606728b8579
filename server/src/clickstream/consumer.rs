//! The clickstream consumer: stores each event of `clickstream.v1` exactly once in `clickstream_events`.
//!
//! The insert ignores an event id it has seen, so a replay changes nothing. A record that can never be stored
//! is set aside in `clickstream_rejects` with its reason and the partition moves on ([`crate::consume::failure`]).

use super::store;
use crate::consume::{
    failure::{Attempt, Writes},
    Handler,
};
use app::{
    notifications::store as notifications,
    tracking::schema::{is_supported_version, ClickstreamRecord, EventType},
};
use rdkafka::message::{BorrowedMessage, Message};
use std::time::Duration;

/// Stores clickstream events.
pub struct StoreEvents {
    pub writes: Writes,
    /// The most events a visit may hold; enforced exactly.
    pub visit_max_events: u32,
    /// How long a signed-in shopper's cart stays unchanged before their next visit reminds them of it (`None`:
    /// never).
    pub cart_reminder: Option<Duration>,
}

impl Handler for StoreEvents {
    const NAME: &'static str = "clickstream";

    async fn handle(&self, message: &BorrowedMessage<'_>) -> bool {
        let Self { writes, visit_max_events: cap, cart_reminder } = self;
        let record = match decode(message) {
            Ok(record) => record,
            Err(reason) => return writes.set_aside(Self::NAME, message, &reason).await,
        };
        match writes.retry(Self::NAME, || store::insert_event(&writes.pool, &record, *cap)).await {
            Attempt::Done(store::Stored::New) => {
                remind_of_cart(writes, &record, *cart_reminder).await;
                true
            }
            Attempt::Done(store::Stored::Duplicate) => true,
            Attempt::Done(store::Stored::VisitFull) => {
                let reason = format!("{}: the visit already holds {cap} events", super::VISIT_FULL);
                writes.set_aside(Self::NAME, message, &reason).await
            }
            Attempt::Permanent(reason) => writes.set_aside(Self::NAME, message, &reason).await,
            Attempt::Stopped => false,
        }
    }
}

/// A signed-in shopper's page view may be the start of their next visit: the moment to remind them of the cart
/// they left (at most once per cart, whatever the redeliveries). A failure is logged: the next page view tries
/// again, and a reminder never holds up the stream.
async fn remind_of_cart(writes: &Writes, record: &ClickstreamRecord, after: Option<Duration>) {
    let (Some(after), Some(user)) = (after, record.user_id) else { return };
    if record.event.event_type() != EventType::PageView {
        return;
    }
    match notifications::remind_of_cart(&writes.pool, user, record.visit_id, after).await {
        Ok(true) => tracing::info!(%user, visit = %record.visit_id, "reminded a shopper of the cart they left"),
        Ok(false) => {}
        Err(error) => tracing::warn!(%error, %user, "could not check for a cart to remind of"),
    }
}

fn decode(message: &BorrowedMessage<'_>) -> Result<ClickstreamRecord, String> {
    let payload = message.payload().ok_or_else(|| "empty payload".to_string())?;
    let record: ClickstreamRecord =
        serde_json::from_slice(payload).map_err(|error| format!("undecodable record: {error}"))?;
    if !is_supported_version(u64::from(record.schema_version)) {
        return Err(format!("unsupported schema version {}", record.schema_version));
    }
    Ok(record)
}
