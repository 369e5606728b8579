//! The clickstream consumer's writes.

use app::{
    insights::{
        self,
        store::{self as insights_store, PathStep, VisitBefore},
    },
    recommend::store as recommend,
    tracking::schema::{ClickstreamRecord, EventKind, EventOrigin, EventType},
};
use sqlx::PgPool;

/// What became of an event.
#[derive(Debug, PartialEq, Eq)]
pub enum Stored {
    New,
    /// Seen before (a redelivery): nothing changed.
    Duplicate,
    /// The visit already holds `cap` events: not stored.
    VisitFull,
}

/// Stores an event once, whatever the number of deliveries, and counts it in its visit's summary in the
/// same transaction (only when it was new, so a replay changes nothing). A visit holds at most `cap` events
/// (the server's own commerce events always count); its summary row is locked while checking, so the cap is
/// exact however many workers share the visit's partition over time.
///
/// Only the server's `checkout_begin` and `payment_result` move a visit's funnel: a browser cannot claim a
/// purchase. A new product view or paid order also moves the recommendations' counts, and a slot shown, clicked
/// or opened its figures (`app::recommend::store`).
pub async fn insert_event(pool: &PgPool, record: &ClickstreamRecord, cap: u32) -> Result<Stored, sqlx::Error> {
    let payload = serde_json::to_value(record).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let mut tx = pool.begin().await?;
    let visit = sqlx::query!(
        r#"SELECT events, pending_search, pending_search_day AS "pending_search_day: chrono::NaiveDate",
                  path_pages, path_day AS "path_day: chrono::NaiveDate",
                  (started_at AT TIME ZONE 'UTC')::date AS "started!: chrono::NaiveDate"
           FROM visits WHERE visit_id = $1 FOR UPDATE"#,
        record.visit_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let held = visit.as_ref().map_or(0, |visit| visit.events);
    let before = visit.map_or_else(VisitBefore::default, |visit| VisitBefore {
        pending: visit.pending_search.zip(visit.pending_search_day),
        path: visit.path_pages,
        path_day: visit.path_day,
        started: Some(visit.started),
    });
    let from_server = record.origin == EventOrigin::Server;
    if held >= cap as i32 && !from_server {
        let seen =
            sqlx::query_scalar!("SELECT 1 AS \"one!\" FROM clickstream_events WHERE event_id = $1", record.event_id)
                .fetch_optional(&mut *tx)
                .await?;
        return Ok(if seen.is_some() { Stored::Duplicate } else { Stored::VisitFull });
    }
    let kind = record.event.event_type();
    let count = |of: EventType| i32::from(kind == of);
    let checkout = i32::from(from_server && kind == EventType::CheckoutBegin);
    let paid =
        from_server && matches!(&record.event, EventKind::PaymentResult { outcome, .. } if outcome == "succeeded");
    let last_path = (kind == EventType::PageView).then_some(record.path.as_str());
    // A search that found products waits for a product view (insights: did it lead anywhere?); any other search
    // ends the wait, and so does the product view.
    let search = match &record.event {
        EventKind::Search { query, results } => {
            Some(if *results > 0 { insights::normalize_query(query) } else { String::new() })
        }
        _ => None,
    };
    // A page view's step along the visit's path (insights: the top paths).
    let step = PathStep::of(record, &before);
    // The event, once, and (only if it is new) its visit's summary: one statement, one round trip.
    let stored = sqlx::query_scalar!(
        r#"
        WITH stored AS (
            INSERT INTO clickstream_events
                (event_id, visit_id, user_id, event_type, path, received_at, client_ts, seq, user_agent, payload)
            VALUES ($16, $1, $2, $17, $18, $3, $19, $20, $9, $21)
            ON CONFLICT (event_id) DO NOTHING
            RETURNING visit_id
        )
        INSERT INTO visits (visit_id, user_id, started_at, last_event_at, events, page_views, clicks, cart_adds,
                            checkouts, paid, user_agent, bot, product_views, last_path, pending_search,
                            pending_search_day, path_pages, path_day)
        SELECT visit_id, $2, $3, $3, 1, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULLIF($13, ''),
               CASE WHEN $13 <> '' THEN ($3::timestamptz AT TIME ZONE 'UTC')::date END,
               COALESCE($14::text[], '{}'), $15
        FROM stored
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
            product_views = visits.product_views + EXCLUDED.product_views,
            last_path = COALESCE(EXCLUDED.last_path, visits.last_path),
            pending_search = CASE WHEN $13 IS NOT NULL THEN EXCLUDED.pending_search
                                  WHEN EXCLUDED.product_views > 0 THEN NULL ELSE visits.pending_search END,
            pending_search_day = CASE WHEN $13 IS NOT NULL THEN EXCLUDED.pending_search_day
                                      WHEN EXCLUDED.product_views > 0 THEN NULL ELSE visits.pending_search_day END,
            path_pages = COALESCE($14::text[], visits.path_pages),
            path_day = COALESCE(visits.path_day, $15),
            user_agent = COALESCE(visits.user_agent, EXCLUDED.user_agent),
            -- Like the device, the first user agent decides whether the visit is a bot's (the server's own events
            -- carry none).
            bot = CASE WHEN visits.user_agent IS NULL THEN EXCLUDED.bot ELSE visits.bot END,
            -- A late event reopens a closed visit; the sweeper closes it again and renders it anew.
            closed_at = NULL
        RETURNING 1 AS "one!"
        "#,
        record.visit_id,
        record.user_id,
        record.received_at as _,
        count(EventType::PageView),
        count(EventType::Click),
        count(EventType::CartAdd),
        checkout,
        paid,
        record.user_agent,
        record.bot && !from_server,
        count(EventType::ProductView),
        last_path,
        search,
        step.as_ref().map(|step| step.grown.as_slice()),
        step.as_ref().map(|step| step.day) as _,
        record.event_id,
        record.event.name(),
        record.path,
        record.client_ts,
        record.seq as i32,
        payload,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if stored.is_none() {
        return Ok(Stored::Duplicate);
    }
    insights_store::record(&mut tx, record, &before, step.as_ref()).await?;
    // The recommendations' counts, in the same transaction: a redelivery counts nothing twice. A bot's views
    // count nothing; only the server's word says an order was paid.
    if !record.bot && !from_server {
        if let EventKind::ProductView { product_id, .. } = &record.event {
            recommend::record_view(&mut tx, record.visit_id, *product_id, record.received_at).await?;
        }
        recommend::record_slot_event(&mut tx, record).await?;
    }
    if let (EventKind::PaymentResult { order_id, .. }, true) = (&record.event, paid) {
        let day = record.received_at.date_naive();
        recommend::record_purchase(&mut tx, *order_id, record.visit_id, day).await?;
    }
    tx.commit().await?;
    Ok(Stored::New)
}
