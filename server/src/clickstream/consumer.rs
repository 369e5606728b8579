//! The clickstream consumer: stores each event of `clickstream.v1` exactly once in `clickstream_events`.
//!
//! The insert ignores an event id it has seen, so a replay changes nothing. A record that can never be stored
//! is set aside in `clickstream_rejects` with its reason and the partition moves on ([`crate::consume::failure`]).

use super::store;
use crate::{
    consume::{
        failure::{retry_transient, set_aside, Attempt, StorageHealth},
        Handler,
    },
    shutdown::Shutdown,
};
use app::tracking::schema::{ClickstreamRecord, SCHEMA_VERSION};
use rdkafka::message::{BorrowedMessage, Message};
use sqlx::PgPool;

/// Stores clickstream events.
pub struct StoreEvents {
    pub pool: PgPool,
    /// The most events a visit may hold; enforced exactly.
    pub visit_max_events: u32,
    pub health: StorageHealth,
    pub shutdown: Shutdown,
}

impl Handler for StoreEvents {
    const NAME: &'static str = "clickstream";

    async fn handle(&self, message: &BorrowedMessage<'_>) -> bool {
        let Self { pool, visit_max_events: cap, health, shutdown } = self;
        let set_aside =
            |reason: String| async move { set_aside(pool, Self::NAME, health, shutdown, message, &reason).await };
        let record = match decode(message) {
            Ok(record) => record,
            Err(reason) => return set_aside(reason).await,
        };
        match retry_transient(Self::NAME, health, shutdown, || store::insert_event(pool, &record, *cap)).await {
            Attempt::Done(store::Stored::New | store::Stored::Duplicate) => true,
            Attempt::Done(store::Stored::VisitFull) => {
                set_aside(format!("{}: the visit already holds {cap} events", super::VISIT_FULL)).await
            }
            Attempt::Permanent(reason) => set_aside(reason).await,
            Attempt::Stopped => false,
        }
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
