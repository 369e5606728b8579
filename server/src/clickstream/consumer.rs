//! The clickstream consumer: stores each event of `clickstream.v1` exactly once in `clickstream_events`.
//!
//! The insert ignores an event id it has seen, so a replay changes nothing. A record that can never be stored
//! is set aside in `clickstream_rejects` with its reason and the partition moves on ([`crate::consume::failure`]).

use super::store;
use crate::consume::{
    failure::{Attempt, Writes},
    Handler,
};
use app::tracking::schema::{is_supported_version, ClickstreamRecord};
use rdkafka::message::{BorrowedMessage, Message};

/// Stores clickstream events.
pub struct StoreEvents {
    pub writes: Writes,
    /// The most events a visit may hold; enforced exactly.
    pub visit_max_events: u32,
}

impl Handler for StoreEvents {
    const NAME: &'static str = "clickstream";

    async fn handle(&self, message: &BorrowedMessage<'_>) -> bool {
        let Self { writes, visit_max_events: cap } = self;
        let record = match decode(message) {
            Ok(record) => record,
            Err(reason) => return writes.set_aside(Self::NAME, message, &reason).await,
        };
        match writes.retry(Self::NAME, || store::insert_event(&writes.pool, &record, *cap)).await {
            Attempt::Done(store::Stored::New | store::Stored::Duplicate) => true,
            Attempt::Done(store::Stored::VisitFull) => {
                let reason = format!("{}: the visit already holds {cap} events", super::VISIT_FULL);
                writes.set_aside(Self::NAME, message, &reason).await
            }
            Attempt::Permanent(reason) => writes.set_aside(Self::NAME, message, &reason).await,
            Attempt::Stopped => false,
        }
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
