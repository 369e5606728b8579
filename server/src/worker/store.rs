//! The worker's writes.

use app::tracking::schema::ClickstreamRecord;
use rdkafka::message::{BorrowedMessage, Message};
use sqlx::PgPool;

/// Stores an event once, whatever the number of deliveries.
pub async fn insert_event(pool: &PgPool, record: &ClickstreamRecord) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_value(record).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query!(
        r#"
        INSERT INTO clickstream_events
            (event_id, visit_id, user_id, event_type, path, received_at, client_ts, seq, user_agent, payload)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (event_id) DO NOTHING
        "#,
        record.event_id,
        record.visit_id,
        record.user_id,
        record.event.name(),
        record.path,
        // sqlx prefers `time` for timestamptz once both crates are enabled; chrono encodes the same column.
        record.received_at as _,
        record.client_ts,
        record.seq as i32,
        record.user_agent,
        payload,
    )
    .execute(pool)
    .await
    .map(|_| ())
}

/// Keeps a record the worker could not read, with the reason, instead of dropping it.
pub async fn insert_reject(pool: &PgPool, message: &BorrowedMessage<'_>, reason: &str) -> Result<(), sqlx::Error> {
    let payload = message.payload().map(|bytes| String::from_utf8_lossy(bytes).into_owned()).unwrap_or_default();
    sqlx::query!(
        r#"
        INSERT INTO clickstream_rejects (topic, kafka_partition, kafka_offset, reason, payload)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING
        "#,
        message.topic(),
        message.partition(),
        message.offset(),
        reason,
        payload,
    )
    .execute(pool)
    .await
    .map(|_| ())
}
