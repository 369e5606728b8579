//! Visit lists.

use super::{VisitFilter, VisitListItem, VisitOutcome};
use sqlx::PgPool;
use uuid::Uuid;

struct Row {
    visit_id: Uuid,
    started_at: chrono::DateTime<chrono::Utc>,
    duration_secs: i64,
    page_views: i32,
    cart_adds: i32,
    paid: bool,
    closed: bool,
    shopper: Option<String>,
    has_document: bool,
}

impl From<Row> for VisitListItem {
    fn from(row: Row) -> Self {
        VisitListItem {
            visit_id: row.visit_id,
            started_at: row.started_at,
            duration_secs: row.duration_secs,
            page_views: row.page_views,
            outcome: VisitOutcome::of(row.paid, row.cart_adds > 0),
            closed: row.closed,
            shopper: row.shopper,
            has_document: row.has_document,
        }
    }
}

/// A user's visits: those their events name, and anonymous ones linked at sign-in.
pub async fn for_user(pool: &PgPool, user: Uuid) -> Result<Vec<VisitListItem>, sqlx::Error> {
    list(pool, Some(user), &VisitFilter::default()).await
}

/// Every visit, newest first, filtered.
pub async fn all(pool: &PgPool, filter: &VisitFilter) -> Result<Vec<VisitListItem>, sqlx::Error> {
    list(pool, None, filter).await
}

async fn list(pool: &PgPool, user: Option<Uuid>, filter: &VisitFilter) -> Result<Vec<VisitListItem>, sqlx::Error> {
    // The filter as the two facts an outcome is made of (`VisitOutcome::of`): paid, and added to the cart.
    let (paid, added_to_cart) = match filter.outcome {
        None => (None, None),
        Some(VisitOutcome::Bought) => (Some(true), None),
        Some(VisitOutcome::AbandonedCart) => (Some(false), Some(true)),
        Some(VisitOutcome::Browsed) => (Some(false), Some(false)),
    };
    let (since, until) = filter.range.map(|range| range.bounds()).unzip();
    let rows = sqlx::query_as!(
        Row,
        r#"
        SELECT v.visit_id, v.started_at AS "started_at: chrono::DateTime<chrono::Utc>",
               extract(epoch FROM v.last_event_at - v.started_at)::bigint AS "duration_secs!",
               v.page_views, v.cart_adds, v.paid, v.closed_at IS NOT NULL AS "closed!", u.name AS "shopper?",
               -- An open visit is rendered on demand unless it is too small or a bot's (the journey routes' rule);
               -- a closed one has the document the worker stored, if any.
               CASE WHEN v.closed_at IS NULL THEN v.events >= 2 AND NOT v.bot
                    ELSE EXISTS (SELECT 1 FROM journey_pdfs p WHERE p.visit_id = v.visit_id)
               END AS "has_document!"
        FROM visits v
        LEFT JOIN visit_users vu ON vu.visit_id = v.visit_id
        LEFT JOIN users u ON u.id = COALESCE(v.user_id, vu.user_id)
        WHERE ($1::uuid IS NULL OR v.user_id = $1 OR vu.user_id = $1)
          AND ($2::bool IS NULL OR v.paid = $2)
          AND ($3::bool IS NULL OR (v.cart_adds > 0) = $3)
          AND NOT ($4 AND v.bot)
          AND ($5::timestamptz IS NULL OR v.started_at >= $5)
          AND ($6::timestamptz IS NULL OR v.started_at < $6)
          AND ($7::smallint IS NULL OR v.furthest_stage >= $7)
          AND (($8::text IS NULL AND $9::text IS NULL AND $11::text IS NULL) OR EXISTS (
                  SELECT 1 FROM clickstream_events e
                  WHERE e.visit_id = v.visit_id
                    AND ($8::text IS NULL OR split_part(split_part(e.path, '?', 1), '#', 1) = $8)
                    AND ($9::text IS NULL OR e.event_type = $9)
                    -- The slot (a known name: no pattern characters) shown, clicked, or a product opened from it.
                    AND ($11::text IS NULL OR e.payload ->> 'slot' = $11 OR e.payload ->> 'label' = 'rec-' || $11
                         OR e.path ~ ('[?&]rec=' || $11 || '($|[&#])'))))
          AND ($12::text[] IS NULL OR v.path_pages = $12)
          AND ($10::text IS NULL OR EXISTS (
                  SELECT 1 FROM clickstream_events e
                  WHERE e.visit_id = v.visit_id AND e.event_type = 'search'
                    AND lower(regexp_replace(btrim(e.payload ->> 'query'), '\s+', ' ', 'g')) = $10))
        ORDER BY v.started_at DESC
        LIMIT 500
        "#,
        user,
        paid,
        added_to_cart,
        filter.from_insights(),
        since as _,
        until as _,
        filter.reached.map(|stage| stage.number()),
        filter.page,
        filter.event.map(|kind| kind.as_str()),
        filter.search,
        filter.slot.map(|slot| slot.as_str()),
        filter.path.as_deref(),
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}
