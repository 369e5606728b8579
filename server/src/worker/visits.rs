//! Closing visits: idle for the configured time (30 minutes by default) or signed out, a visit is closed and
//! its journey PDF rendered and stored. `FOR NO KEY UPDATE SKIP LOCKED` lets several workers share the work
//! (a plain `FOR UPDATE` would block the journey row's foreign-key check from the store's own connection).

use crate::journey::{
    render,
    store::{self, JourneyStore, PgJourneyStore},
    VisitInfo,
};
use crate::shutdown::Shutdown;
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

/// When visits close.
#[derive(Debug, Clone, Copy)]
pub struct ClosingRules {
    /// A visit with no event for this long is over.
    pub idle: Duration,
    /// After a sign-out, wait this long for the visit's last events to arrive.
    pub sign_out_grace: Duration,
    /// How often to look.
    pub every: Duration,
}

/// Closes due visits until `shutdown`.
pub async fn close_visits_until(pool: PgPool, rules: ClosingRules, shutdown: Shutdown) {
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tokio::time::sleep(rules.every) => {}
        }
        match close_due_visits(&pool, rules).await {
            Ok(0) => {}
            Ok(closed) => tracing::info!(visits = closed, "closed visits and rendered their journeys"),
            Err(error) => tracing::warn!(error = %format!("{error:#}"), "closing visits failed; retrying later"),
        }
    }
}

/// Closes up to a batch of due visits, rendering and storing each journey; returns how many.
pub async fn close_due_visits(pool: &PgPool, rules: ClosingRules) -> anyhow::Result<u64> {
    let mut tx = pool.begin().await?;
    let due = sqlx::query!(
        r#"
        SELECT v.visit_id, v.user_agent, u.name AS "shopper?"
        FROM visits v
        LEFT JOIN visit_users vu ON vu.visit_id = v.visit_id
        LEFT JOIN users u ON u.id = COALESCE(v.user_id, vu.user_id)
        WHERE v.closed_at IS NULL
          AND (v.last_event_at < now() - make_interval(secs => $1)
               OR v.close_requested_at < now() - make_interval(secs => $2))
        ORDER BY v.last_event_at
        LIMIT 20
        FOR NO KEY UPDATE OF v SKIP LOCKED
        "#,
        rules.idle.as_secs_f64(),
        rules.sign_out_grace.as_secs_f64(),
    )
    .fetch_all(&mut *tx)
    .await?;
    let journeys = PgJourneyStore { pool: pool.clone() };
    for visit in &due {
        let events = store::load_events(pool, visit.visit_id).await?;
        let info = VisitInfo {
            visit_id: visit.visit_id,
            shopper: visit.shopper.clone(),
            device: store::describe_device(visit.user_agent.as_deref()),
            in_progress: false,
        };
        let count = events.len() as i32;
        let pdf = tokio::task::spawn_blocking(move || render(&info, &events, chrono::Utc::now())).await??;
        journeys.save(visit.visit_id, pdf, count).await?;
        sqlx::query!("UPDATE visits SET closed_at = now() WHERE visit_id = $1", visit.visit_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(due.len() as u64)
}

/// Asks for a visit to be closed (at sign-out); the worker closes it once its last events are in.
pub async fn request_close(pool: &PgPool, visit: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO visits (visit_id, started_at, last_event_at, close_requested_at) VALUES ($1, now(), now(), now())
           ON CONFLICT (visit_id) DO UPDATE SET close_requested_at = now()"#,
        visit
    )
    .execute(pool)
    .await
    .map(|_| ())
}
