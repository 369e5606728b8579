//! The commerce events the server records itself: `checkout_begin` and `payment_result` decide a journey's
//! outcome, and `coupon_applied` and `coupon_rejected` say what the server decided, so they are never taken from
//! the browser. The checkout and payment server functions write them to
//! the clickstream outbox, and the worker relays them to `clickstream.v1` under the shopper's visit.

use super::schema::{ClickstreamRecord, EventKind, EventOrigin, SCHEMA_VERSION};
use sqlx::PgPool;
use uuid::Uuid;

/// The record of a server-side event. Its id derives from the visit and `dedup` (the order, and for a payment
/// the idempotency key), so a replayed payment yields the same event and is stored once.
pub fn record(visit: Uuid, user: Option<Uuid>, kind: EventKind, path: String, dedup: &str) -> ClickstreamRecord {
    let event_id = Uuid::new_v5(&visit, format!("server:{}:{dedup}", kind.name()).as_bytes());
    ClickstreamRecord {
        schema_version: SCHEMA_VERSION,
        event_id,
        visit_id: visit,
        user_id: user,
        received_at: chrono::Utc::now(),
        client_ts: None,
        seq: 0,
        user_agent: None,
        bot: false,
        origin: EventOrigin::Server,
        path,
        event: kind,
    }
}

/// Writes a server-side event to the outbox. Analytics never fail a purchase: an error is logged, not returned.
pub async fn emit(pool: &PgPool, record: &ClickstreamRecord) {
    let written = async {
        let payload = serde_json::to_value(record).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query!("INSERT INTO clickstream_outbox (visit_id, payload) VALUES ($1, $2)", record.visit_id, payload)
            .execute(pool)
            .await
    };
    if let Err(error) = written.await {
        tracing::warn!(%error, event = record.event.name(), visit = %record.visit_id, "could not record a commerce event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replayed_server_event_keeps_its_id_and_says_who_recorded_it() {
        let (visit, user, order) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let pay = |key: &str| {
            record(
                visit,
                Some(user),
                EventKind::PaymentResult { order_id: order, outcome: "succeeded".into() },
                "/o".into(),
                key,
            )
        };
        assert_eq!(pay("k1").event_id, pay("k1").event_id);
        assert_ne!(pay("k1").event_id, pay("k2").event_id);
        let json = serde_json::to_value(pay("k1")).unwrap();
        assert_eq!(json["origin"], "server");
        assert_eq!(json["type"], "payment_result");
    }
}
