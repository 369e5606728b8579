//! Closing visits: idle for the configured time (30 minutes by default) or signed out, a visit is closed and
//! its journey PDF rendered and stored.
//!
//! One visit per transaction: the closer locks one due visit (`FOR NO KEY UPDATE SKIP LOCKED`, so several workers
//! share the work, and a plain `FOR UPDATE` would block the journey row's foreign-key check from the store's own
//! connection), renders and stores its journey, marks it closed and commits, then takes the next, until none is
//! due. Visits whose shopper signed out come first, then the longest idle. A visit with fewer than two events, or a
//! bot's, is closed without a document; a visit whose journey cannot be rendered or stored is closed with the
//! error in `visits.render_error`, so it is never retried in a loop and the visits behind it go on.

use crate::journey::{
    render,
    store::{self, JourneyStore, PgJourneyStore},
    VisitInfo,
};
use crate::shutdown::Shutdown;
use anyhow::Context;
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

/// The longest a closing render may take; past it the visit is closed with an error (the render is bounded in
/// pages, so only a broken one takes this long).
const RENDER_LIMIT: Duration = Duration::from_secs(60);
/// The most of a render or storage error kept in `visits.render_error`.
const ERROR_CHARS: usize = 1_000;

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

/// How a visit was closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closing {
    /// Its journey was rendered and stored.
    Rendered,
    /// It had fewer than two events, or was a bot's: no document.
    WithoutDocument,
    /// Rendering or storing its journey failed; the error is kept with the visit.
    Failed(String),
}

/// One closed visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedVisit {
    /// The visit.
    pub visit_id: Uuid,
    /// With or without its journey, or with the error that stopped it.
    pub closing: Closing,
}

/// Every `rules.every`, closes every due visit, until `shutdown`.
pub async fn close_visits_until(pool: PgPool, rules: ClosingRules, shutdown: Shutdown) {
    shutdown
        .every(rules.every, || async {
            match close_due(&pool, rules, &shutdown).await {
                Ok(0) => {}
                Ok(closed) => tracing::info!(visits = closed, "closed visits and rendered their journeys"),
                Err(error) => tracing::warn!(error = %format!("{error:#}"), "closing visits failed; retrying later"),
            }
        })
        .await
}

/// Closes due visits one per transaction until none is due; returns how many.
pub async fn close_due_visits(pool: &PgPool, rules: ClosingRules) -> anyhow::Result<u64> {
    close_due(pool, rules, &Shutdown::default()).await
}

/// Closes due visits until none is due or `shutdown` fires (the visit in hand is finished first).
async fn close_due(pool: &PgPool, rules: ClosingRules, shutdown: &Shutdown) -> anyhow::Result<u64> {
    let mut closed = 0;
    while !shutdown.is_stopping() {
        match close_next_visit(pool, rules).await {
            Ok(Some(_)) => closed += 1,
            Ok(None) => break,
            Err(error) if closed > 0 => {
                return Err(error.context(format!("after closing {closed} visits")));
            }
            Err(error) => return Err(error),
        }
    }
    Ok(closed)
}

/// Closes the next due visit, if any: requested closes (sign-out) first, then the longest idle.
pub async fn close_next_visit(pool: &PgPool, rules: ClosingRules) -> anyhow::Result<Option<ClosedVisit>> {
    let mut tx = pool.begin().await?;
    let due = sqlx::query!(
        r#"
        SELECT v.visit_id, v.user_agent, v.events, v.bot, u.name AS "shopper?"
        FROM visits v
        LEFT JOIN visit_users vu ON vu.visit_id = v.visit_id
        LEFT JOIN users u ON u.id = COALESCE(v.user_id, vu.user_id)
        WHERE v.closed_at IS NULL
          AND (v.last_event_at < now() - make_interval(secs => $1)
               OR v.close_requested_at < now() - make_interval(secs => $2))
        ORDER BY v.close_requested_at IS NULL, v.close_requested_at, v.last_event_at
        LIMIT 1
        FOR NO KEY UPDATE OF v SKIP LOCKED
        "#,
        rules.idle.as_secs_f64(),
        rules.sign_out_grace.as_secs_f64(),
    )
    .fetch_optional(&mut *tx)
    .await
    .context("finding a due visit")?;
    let Some(visit) = due else { return Ok(None) };

    let closing = if store::gets_document(visit.events, visit.bot) {
        let info = VisitInfo {
            visit_id: visit.visit_id,
            shopper: visit.shopper,
            device: store::describe_device(visit.user_agent.as_deref()),
            in_progress: false,
            events_not_loaded: 0,
        };
        match render_and_store(pool, info).await {
            Ok(()) => Closing::Rendered,
            // The database went away, not this visit's fault: leave it due (the transaction rolls back) and let
            // the next sweep retry it.
            Err(error) if is_transient(&error) => return Err(error.context("rendering a journey")),
            Err(error) => {
                let error = format!("{error:#}");
                tracing::warn!(visit = %visit.visit_id, %error, "journey not rendered; the visit is closed without it");
                Closing::Failed(error.chars().take(ERROR_CHARS).collect())
            }
        }
    } else {
        Closing::WithoutDocument
    };
    let error = match &closing {
        Closing::Failed(error) => Some(error.as_str()),
        Closing::Rendered | Closing::WithoutDocument => None,
    };
    sqlx::query!(
        r#"UPDATE visits SET closed_at = now(), render_error = $2,
                             render_failed_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() END
           WHERE visit_id = $1"#,
        visit.visit_id,
        error,
    )
    .execute(&mut *tx)
    .await
    .context("marking the visit closed")?;
    app::webhooks::store::enqueue_journey(&mut tx, visit.visit_id).await.context("writing the visit's webhooks")?;
    tx.commit().await.context("committing the closed visit")?;
    Ok(Some(ClosedVisit { visit_id: visit.visit_id, closing }))
}

/// Loads the visit's events, renders its journey on a blocking thread and stores the document.
async fn render_and_store(pool: &PgPool, mut info: VisitInfo) -> anyhow::Result<()> {
    let visit = info.visit_id;
    let loaded = store::load_events(pool, visit).await.context("loading the visit's events")?;
    info.events_not_loaded = loaded.not_loaded;
    let count = i32::try_from(loaded.events.len()).unwrap_or(i32::MAX);
    let rendering = tokio::task::spawn_blocking(move || render(&info, &loaded.events, chrono::Utc::now()));
    let pdf = tokio::time::timeout(RENDER_LIMIT, rendering)
        .await
        .map_err(|_| anyhow::anyhow!("rendering took longer than {RENDER_LIMIT:?}"))?
        .context("the render panicked")?
        .context("rendering the journey")?;
    PgJourneyStore { pool: pool.clone() }.save(visit, pdf, count).await.context("storing the journey")?;
    Ok(())
}

/// Whether a failure is the database being unreachable for a moment (connection lost or refused, pool exhausted,
/// server shutting down) rather than something about the visit. A statement timeout or a data error is about the
/// visit: retrying it would wedge the closer on it, so it is marked instead.
///
/// Narrower on purpose than the consumers' [`super::failure::classify`]: a consumer must never lose an event,
/// so it retries whatever is not plainly the record's fault; a closer that marks a visit loses only a PDF an
/// admin can still render on demand, so it retries only what is plainly the database's.
fn is_transient(error: &anyhow::Error) -> bool {
    error.chain().filter_map(|cause| cause.downcast_ref::<sqlx::Error>()).any(|error| match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            code.starts_with("08") || ["57P01", "57P02", "57P03", "40001", "40P01"].contains(&&*code)
        }),
        _ => false,
    })
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

#[cfg(test)]
mod tests {
    use super::is_transient;
    use anyhow::Context;

    #[test]
    fn only_an_unreachable_database_is_retried() {
        let pool_gone: anyhow::Result<()> = Err(sqlx::Error::PoolTimedOut).context("loading the visit's events");
        assert!(is_transient(&pool_gone.unwrap_err()));
        let io = sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"));
        assert!(is_transient(&anyhow::Error::new(io)));
        let decode = sqlx::Error::Decode("not a bigint".into());
        assert!(!is_transient(&anyhow::Error::new(decode).context("loading the visit's events")));
        assert!(!is_transient(&anyhow::anyhow!("printpdf could not write the journey report")));
    }
}
