//! Visit lists.

use super::{outcome, VisitListItem};
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
            outcome: outcome(row.paid, row.cart_adds).to_string(),
            closed: row.closed,
            shopper: row.shopper,
            has_document: row.has_document,
        }
    }
}

/// A user's visits: those their events name, and anonymous ones linked at sign-in.
pub async fn for_user(pool: &PgPool, user: Uuid) -> Result<Vec<VisitListItem>, sqlx::Error> {
    list(pool, Some(user), "").await
}

/// Every visit, newest first, optionally filtered by outcome.
pub async fn all(pool: &PgPool, outcome_filter: &str) -> Result<Vec<VisitListItem>, sqlx::Error> {
    list(pool, None, outcome_filter).await
}

async fn list(pool: &PgPool, user: Option<Uuid>, outcome_filter: &str) -> Result<Vec<VisitListItem>, sqlx::Error> {
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
          AND ($2 = ''
               OR ($2 = 'bought' AND v.paid)
               OR ($2 = 'abandoned cart' AND NOT v.paid AND v.cart_adds > 0)
               OR ($2 = 'browsed' AND NOT v.paid AND v.cart_adds = 0))
        ORDER BY v.started_at DESC
        LIMIT 500
        "#,
        user,
        outcome_filter
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}
