//! The worker's writes.

use app::tracking::schema::{ClickstreamRecord, EventKind};
use rdkafka::message::{BorrowedMessage, Message};
use sqlx::PgPool;

/// Stores an event once, whatever the number of deliveries, and counts it in its visit's summary in the
/// same transaction (only when it was new, so a replay changes nothing).
pub async fn insert_event(pool: &PgPool, record: &ClickstreamRecord) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_value(record).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query!(
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
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        let kind = record.event.name();
        let count = |name: &str| i32::from(kind == name);
        let paid = matches!(&record.event, EventKind::PaymentResult { outcome, .. } if outcome == "succeeded");
        sqlx::query!(
            r#"
            INSERT INTO visits (visit_id, user_id, started_at, last_event_at, events, page_views, clicks, cart_adds,
                                checkouts, paid, user_agent)
            VALUES ($1, $2, $3, $3, 1, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (visit_id) DO UPDATE SET
                user_id = COALESCE(visits.user_id, EXCLUDED.user_id),
                started_at = LEAST(visits.started_at, EXCLUDED.started_at),
                last_event_at = GREATEST(visits.last_event_at, EXCLUDED.last_event_at),
                events = visits.events + 1,
                page_views = visits.page_views + EXCLUDED.page_views,
                clicks = visits.clicks + EXCLUDED.clicks,
                cart_adds = visits.cart_adds + EXCLUDED.cart_adds,
                checkouts = visits.checkouts + EXCLUDED.checkouts,
                paid = visits.paid OR EXCLUDED.paid,
                user_agent = COALESCE(visits.user_agent, EXCLUDED.user_agent),
                -- A late event reopens a closed visit; the sweeper closes it again and renders it anew.
                closed_at = NULL
            "#,
            record.visit_id,
            record.user_id,
            record.received_at as _,
            count("page_view"),
            count("click"),
            count("cart_add"),
            count("checkout_begin"),
            paid,
            record.user_agent,
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
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
