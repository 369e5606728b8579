//! Retention: the worker deletes what is older than the configured limits, in small batches, oldest first.
//!
//! Each batch is one statement (its own short transaction) of at most `batch` rows, so a sweep never holds
//! long locks or bloats one transaction, and a table is swept until a batch comes back short. A row changed
//! while its batch runs is re-checked by the `DELETE` itself and kept if it no longer qualifies (a session
//! extended, a cart claimed at sign-in). Open visits are never deleted. Several workers may sweep at once:
//! they only wait briefly for each other's rows.
//!
//! A limit of 0 days keeps that table's rows forever.

use crate::{config::RetentionSettings, prometheus::names, shutdown::Shutdown};
use std::time::Duration;

/// Rows deleted per statement by the worker's sweeps.
pub const SWEEP_BATCH: i64 = 500;
/// The session table tower-sessions' `PostgresStore::migrate` creates when the web process starts.
const SESSION_TABLE: &str = "tower_sessions.session";

/// How long each kind of row is kept; `None` keeps it forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionRules {
    /// Stored clickstream events, by `received_at`.
    pub events: Option<Duration>,
    /// Set-aside records (`clickstream_rejects`), by `stored_at`.
    pub rejects: Option<Duration>,
    /// Closed visits with their journey PDFs and sign-in links, by `closed_at`.
    pub visits: Option<Duration>,
    /// Anonymous carts nobody touched, by `updated_at` (and their lines' `added_at`).
    pub anonymous_carts: Option<Duration>,
    /// Payment idempotency rows, by `created_at`.
    pub idempotency: Option<Duration>,
    /// Finished webhook deliveries with their attempts, by `finished_at`.
    pub webhooks: Option<Duration>,
}

impl RetentionRules {
    /// The limits configured in `CARTOGRAPH_RETENTION_*_DAYS` (`[retention]`).
    pub fn from_settings(settings: &RetentionSettings) -> Self {
        Self {
            events: settings.events,
            rejects: settings.rejects,
            visits: settings.visits,
            anonymous_carts: settings.anonymous_carts,
            idempotency: settings.idempotency,
            webhooks: settings.webhooks,
        }
    }
}

/// Rows one sweep deleted, per table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetentionReport {
    /// Rows of `clickstream_events`.
    pub clickstream_events: u64,
    /// Rows of `clickstream_rejects`.
    pub clickstream_rejects: u64,
    /// Closed visits (`visits`).
    pub visits: u64,
    /// Their journey PDFs (`journey_pdfs`).
    pub journey_pdfs: u64,
    /// Their sign-in links (`visit_users`).
    pub visit_users: u64,
    /// Anonymous carts (`orders`; their lines and status history cascade).
    pub anonymous_carts: u64,
    /// Rows of `idempotency`.
    pub idempotency: u64,
    /// Finished rows of `webhook_deliveries` (their attempts cascade).
    pub webhook_deliveries: u64,
    /// Expired rows of `tower_sessions.session`.
    pub sessions: u64,
}

impl RetentionReport {
    /// Every row deleted, all tables together.
    pub fn total(&self) -> u64 {
        self.by_table().iter().map(|(_, count)| count).sum()
    }

    /// The counts under the table names used as the metric's `table` label.
    pub fn by_table(&self) -> [(&'static str, u64); 9] {
        [
            ("clickstream_events", self.clickstream_events),
            ("clickstream_rejects", self.clickstream_rejects),
            ("visits", self.visits),
            ("journey_pdfs", self.journey_pdfs),
            ("visit_users", self.visit_users),
            ("orders", self.anonymous_carts),
            ("idempotency", self.idempotency),
            ("webhook_deliveries", self.webhook_deliveries),
            (SESSION_TABLE, self.sessions),
        ]
    }
}

/// Deletes everything past its limit, `batch` rows per statement, and expired sessions; returns the counts.
pub async fn apply_once(
    pool: &sqlx::PgPool,
    rules: &RetentionRules,
    batch: i64,
) -> Result<RetentionReport, sqlx::Error> {
    let batch = batch.max(1);
    let mut report = RetentionReport::default();
    if let Some(limit) = rules.events {
        report.clickstream_events = sweep("clickstream_events", batch, || delete_events(pool, limit, batch)).await?;
    }
    if let Some(limit) = rules.rejects {
        report.clickstream_rejects = sweep("clickstream_rejects", batch, || delete_rejects(pool, limit, batch)).await?;
    }
    if let Some(limit) = rules.visits {
        loop {
            let gone = delete_closed_visits(pool, limit, batch).await?;
            report.visits += gone.visits;
            report.journey_pdfs += gone.journey_pdfs;
            report.visit_users += gone.visit_users;
            count_deleted("visits", gone.visits);
            count_deleted("journey_pdfs", gone.journey_pdfs);
            count_deleted("visit_users", gone.visit_users);
            if gone.visits < batch as u64 {
                break;
            }
        }
    }
    if let Some(limit) = rules.anonymous_carts {
        report.anonymous_carts = sweep("orders", batch, || delete_anonymous_carts(pool, limit, batch)).await?;
    }
    if let Some(limit) = rules.idempotency {
        report.idempotency = sweep("idempotency", batch, || delete_idempotency(pool, limit, batch)).await?;
    }
    if let Some(limit) = rules.webhooks {
        report.webhook_deliveries =
            sweep("webhook_deliveries", batch, || delete_webhook_deliveries(pool, limit, batch)).await?;
    }
    if session_table_exists(pool).await? {
        report.sessions = sweep(SESSION_TABLE, batch, || delete_expired_sessions(pool, batch)).await?;
    }
    Ok(report)
}

/// Applies retention now and then every `every` until `shutdown`; a failed sweep is logged and tried again at
/// the next one.
pub async fn run_until(pool: sqlx::PgPool, rules: RetentionRules, every: Duration, shutdown: Shutdown) {
    loop {
        let started = std::time::Instant::now();
        let applied = tokio::select! {
            _ = shutdown.wait() => return,
            applied = apply_once(&pool, &rules, SWEEP_BATCH) => applied,
        };
        match applied {
            Ok(report) if report.total() == 0 => {}
            Ok(report) => tracing::info!(
                clickstream_events = report.clickstream_events,
                clickstream_rejects = report.clickstream_rejects,
                visits = report.visits,
                journey_pdfs = report.journey_pdfs,
                visit_users = report.visit_users,
                anonymous_carts = report.anonymous_carts,
                idempotency = report.idempotency,
                webhook_deliveries = report.webhook_deliveries,
                sessions = report.sessions,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "retention deleted old rows"
            ),
            Err(error) => {
                tracing::warn!(%error, retry_in_secs = every.as_secs(), "retention failed; trying again later")
            }
        }
        if !shutdown.sleep(every).await {
            return;
        }
    }
}

/// Runs `delete_batch` until a batch deletes fewer than `batch` rows, counting each batch in the metrics.
async fn sweep<F, Fut>(table: &'static str, batch: i64, mut delete_batch: F) -> Result<u64, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, sqlx::Error>>,
{
    let mut total = 0;
    loop {
        let deleted = delete_batch().await?;
        count_deleted(table, deleted);
        total += deleted;
        if deleted < batch as u64 {
            return Ok(total);
        }
    }
}

fn count_deleted(table: &'static str, rows: u64) {
    if rows > 0 {
        metrics::counter!(names::RETENTION_DELETED, "table" => table).increment(rows);
    }
}

// Tables without a one-column key are deleted by `ctid`: a row updated since the inner `SELECT` has a new
// `ctid` and is skipped (the next sweep sees it again).

async fn delete_events(pool: &sqlx::PgPool, limit: Duration, batch: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        r#"
        DELETE FROM clickstream_events WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM clickstream_events
            WHERE received_at < now() - make_interval(secs => $1)
            ORDER BY received_at LIMIT $2))
        "#,
        limit.as_secs_f64(),
        batch,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

async fn delete_rejects(pool: &sqlx::PgPool, limit: Duration, batch: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        r#"
        DELETE FROM clickstream_rejects WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM clickstream_rejects
            WHERE stored_at < now() - make_interval(secs => $1)
            ORDER BY stored_at LIMIT $2))
        "#,
        limit.as_secs_f64(),
        batch,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// What deleting one batch of closed visits removed.
struct ClosedVisitsGone {
    visits: u64,
    journey_pdfs: u64,
    visit_users: u64,
}

/// Closed visits past the limit, with their journey PDFs (which would cascade anyway; deleted here to count
/// them) and their sign-in links, in one statement.
async fn delete_closed_visits(
    pool: &sqlx::PgPool,
    limit: Duration,
    batch: i64,
) -> Result<ClosedVisitsGone, sqlx::Error> {
    let gone = sqlx::query!(
        r#"
        WITH gone AS (
            DELETE FROM visits
            WHERE visit_id = ANY(ARRAY(
                    SELECT visit_id FROM visits
                    WHERE closed_at < now() - make_interval(secs => $1)
                    ORDER BY closed_at LIMIT $2))
              AND closed_at < now() - make_interval(secs => $1)
            RETURNING visit_id
        ),
        pdfs AS (DELETE FROM journey_pdfs WHERE visit_id IN (SELECT visit_id FROM gone) RETURNING 1),
        links AS (DELETE FROM visit_users WHERE visit_id IN (SELECT visit_id FROM gone) RETURNING 1)
        SELECT (SELECT count(*) FROM gone) AS "visits!",
               (SELECT count(*) FROM pdfs) AS "journey_pdfs!",
               (SELECT count(*) FROM links) AS "visit_users!"
        "#,
        limit.as_secs_f64(),
        batch,
    )
    .fetch_one(pool)
    .await?;
    let count = |n: i64| u64::try_from(n).unwrap_or_default();
    Ok(ClosedVisitsGone {
        visits: count(gone.visits),
        journey_pdfs: count(gone.journey_pdfs),
        visit_users: count(gone.visit_users),
    })
}

/// Anonymous carts untouched for the limit: no line added and no event in their visit since. Their lines and
/// status history cascade. A cart with a payment row is left alone (that key would block the delete).
async fn delete_anonymous_carts(pool: &sqlx::PgPool, limit: Duration, batch: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        r#"
        DELETE FROM orders
        WHERE id = ANY(ARRAY(
                SELECT o.id FROM orders o
                WHERE o.status = 'cart' AND o.user_id IS NULL
                  AND o.updated_at < now() - make_interval(secs => $1)
                  AND NOT EXISTS (SELECT 1 FROM order_lines l
                                  WHERE l.order_id = o.id AND l.added_at >= now() - make_interval(secs => $1))
                  AND NOT EXISTS (SELECT 1 FROM visits v
                                  WHERE v.visit_id = o.visit_id AND v.last_event_at >= now() - make_interval(secs => $1))
                  AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id)
                ORDER BY o.updated_at LIMIT $2))
          AND status = 'cart' AND user_id IS NULL
          AND updated_at < now() - make_interval(secs => $1)
        "#,
        limit.as_secs_f64(),
        batch,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

async fn delete_idempotency(pool: &sqlx::PgPool, limit: Duration, batch: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        r#"
        DELETE FROM idempotency WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM idempotency
            WHERE created_at < now() - make_interval(secs => $1)
            ORDER BY created_at LIMIT $2))
        "#,
        limit.as_secs_f64(),
        batch,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Deliveries that finished (delivered, or gave up) longer ago than `limit`; a waiting one is never deleted.
async fn delete_webhook_deliveries(pool: &sqlx::PgPool, limit: Duration, batch: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        r#"
        DELETE FROM webhook_deliveries WHERE id = ANY(ARRAY(
            SELECT id FROM webhook_deliveries
            WHERE state <> 'pending' AND finished_at < now() - make_interval(secs => $1)
            ORDER BY finished_at LIMIT $2))
          AND state <> 'pending'
        "#,
        limit.as_secs_f64(),
        batch,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// The worker may start before any web process created the session table.
async fn session_table_exists(pool: &sqlx::PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(SESSION_TABLE).fetch_one(pool).await
}

/// Sessions past their expiry. The table is created at run time by tower-sessions, so this query cannot be
/// checked at compile time. A session saved (extended) meanwhile is re-checked and kept.
async fn delete_expired_sessions(pool: &sqlx::PgPool, batch: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        r#"
        DELETE FROM tower_sessions.session
        WHERE id = ANY(ARRAY(SELECT id FROM tower_sessions.session WHERE expiry_date < now() LIMIT $1))
          AND expiry_date < now()
        "#,
    )
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_take_the_configured_days() {
        let settings: RetentionSettings = serde_json::from_value(serde_json::json!({
            "events_days": 90,
            "rejects_days": 30,
            "visits_days": 180,
            "anonymous_carts_days": 0,
            "idempotency_days": 7,
            "webhooks_days": 30,
            "sweep_secs": 3600,
        }))
        .unwrap();
        let rules = RetentionRules::from_settings(&settings);
        assert_eq!(rules.events, Some(Duration::from_secs(90 * 86_400)));
        assert_eq!(rules.rejects, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(rules.visits, Some(Duration::from_secs(180 * 86_400)));
        assert_eq!(rules.anonymous_carts, None, "0 days keeps anonymous carts forever");
        assert_eq!(rules.idempotency, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(rules.webhooks, Some(Duration::from_secs(30 * 86_400)));
    }

    #[test]
    fn the_report_totals_every_table() {
        let report =
            RetentionReport { clickstream_events: 5, visits: 2, journey_pdfs: 2, sessions: 1, ..Default::default() };
        assert_eq!(report.total(), 10);
        assert!(report.by_table().contains(&("tower_sessions.session", 1)));
    }
}
