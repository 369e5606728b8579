//! `GET /journeys/{visit}.pdf`: a journey document for its owner (or an admin). Anyone else gets a 404,
//! never a 403 that would confirm the visit exists.
//!
//! A closed visit's document is the one the worker stored. An open visit is rendered on demand, at most once at a
//! time per visit and kept for a few seconds ([`super::renders`]); a render that outlasts the request timeout is
//! answered with a 503 and finishes in the background. A visit with fewer than two events, a bot's visit, and a
//! closed visit whose document could not be rendered have no document for their owner; an admin gets one rendered
//! on demand.

use super::renders::Served;
use super::store::{self, JourneyStore};
use super::VisitInfo;
use crate::{config::Settings, http::error::HttpError};
use app::auth::SessionUser;
use axum::{
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_sessions::Session;
use uuid::Uuid;

/// A document to send, and where it came from.
struct Document {
    pdf: Arc<Vec<u8>>,
    record: store::VisitRecord,
    /// `None` for the worker's stored document.
    on_demand: Option<(Served, Duration)>,
}

/// What a download finds.
enum Download {
    Found(Document),
    NotFound,
    /// The render did not finish within the request timeout.
    TooSlow,
}

/// What the download needs, taken from the application's state (`crate::state`).
#[derive(Clone)]
pub struct DownloadState {
    pub pool: PgPool,
    /// Journeys rendered on demand: one render at a time per visit, kept for a few seconds.
    pub renders: Arc<super::renders::OnDemandRenders>,
    pub settings: Arc<Settings>,
}

/// Serves a journey PDF: the stored one, or one rendered on demand; 404 for anyone but its owner or an admin.
pub async fn download(
    State(state): State<DownloadState>,
    session: Session,
    Path(file): Path<String>,
) -> Result<Response, HttpError> {
    let visit = file.strip_suffix(".pdf").and_then(|id| Uuid::parse_str(id).ok()).ok_or_else(HttpError::not_found)?;
    // Admin rights as the database has them now: a demoted admin reads only their own journeys.
    let reader = match app::server_context::current_user(&session, state.settings.session.rules(), &state.pool).await {
        Ok(Some(reader)) => reader,
        Ok(None) => return Err(HttpError::not_found()),
        Err(_) => return Err(HttpError::unavailable()),
    };
    match document(&state, visit, &reader).await {
        Ok(Download::Found(document)) => Ok(pdf_response(visit, document)),
        Ok(Download::NotFound) => Err(HttpError::not_found()),
        Ok(Download::TooSlow) => {
            tracing::warn!(%visit, "journey render outlasted the request timeout; it finishes in the background");
            Err(HttpError::unavailable().retry_after(Duration::from_secs(5)))
        }
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), %visit, "journey download failed");
            Err(HttpError::unavailable())
        }
    }
}

fn pdf_response(visit: Uuid, document: Document) -> Response {
    let Document { pdf, record, on_demand } = document;
    let filename =
        format!("cartograph-journey-{}-{}.pdf", record.started_at.format("%Y-%m-%d"), &visit.to_string()[..8]);
    // A stored document no longer changes; one rendered on demand is a snapshot of an open visit.
    let (cache, timing) = match on_demand {
        None => ("private, max-age=3600", "journey;desc=\"stored\"".to_string()),
        Some((Served::Rendered, took)) => {
            ("private, no-store", format!("journey;desc=\"rendered\";dur={:.1}", took.as_secs_f64() * 1000.0))
        }
        Some((Served::Cached, _)) => ("private, no-store", "journey;desc=\"cached\"".to_string()),
    };
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
            (header::CACHE_CONTROL, cache.to_string()),
            (header::HeaderName::from_static("server-timing"), timing),
        ],
        pdf.as_ref().clone(),
    )
        .into_response()
}

async fn document(state: &DownloadState, visit: Uuid, reader: &SessionUser) -> anyhow::Result<Download> {
    let Some(record) = store::visit_for_reader(&state.pool, visit, reader.id, reader.is_admin).await? else {
        return Ok(Download::NotFound);
    };
    if !record.gets_document && !reader.is_admin {
        return Ok(Download::NotFound);
    }
    if record.closed {
        let journeys = store::PgJourneyStore { pool: state.pool.clone() };
        if let Some(pdf) = journeys.load(visit).await? {
            return Ok(Download::Found(Document { pdf: Arc::new(pdf), record, on_demand: None }));
        }
        if !reader.is_admin {
            return Ok(Download::NotFound);
        }
    }
    let started = Instant::now();
    let (pool, info) = (state.pool.clone(), record.info.clone());
    let rendering = state.renders.get_or_render(visit, move || render_now(pool, info));
    match tokio::time::timeout(render_budget(state.settings.request_timeout), rendering).await {
        Ok(rendered) => {
            let (pdf, served) = rendered?;
            Ok(Download::Found(Document { pdf, record, on_demand: Some((served, started.elapsed())) }))
        }
        Err(_elapsed) => Ok(Download::TooSlow),
    }
}

/// How long a download waits for a render: a little less than the request timeout, so that the answer is this
/// handler's 503 with `Retry-After` rather than the timeout layer's.
fn render_budget(request_timeout: Duration) -> Duration {
    request_timeout.mul_f64(0.9)
}

/// Loads the visit's events and renders its journey on a blocking thread.
async fn render_now(pool: PgPool, mut info: VisitInfo) -> anyhow::Result<Vec<u8>> {
    let loaded = store::load_events(&pool, info.visit_id).await?;
    info.events_not_loaded = loaded.not_loaded;
    let pdf = tokio::task::spawn_blocking(move || super::render(&info, &loaded.events, chrono::Utc::now())).await??;
    Ok(pdf)
}

/// `GET /admin/insights.pdf?from=…&to=…`: the insights report of those days (the last seven without them), for
/// admins; anyone else gets a 404, as for a journey. A range the page would refuse gets its reason.
pub async fn insights_report(
    State(state): State<DownloadState>,
    session: Session,
    axum::extract::Query(range): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Response, HttpError> {
    match app::server_context::current_user(&session, state.settings.session.rules(), &state.pool).await {
        Ok(Some(reader)) if reader.is_admin => {}
        Ok(_) => return Err(HttpError::not_found()),
        Err(_) => return Err(HttpError::unavailable()),
    }
    let bound = |name: &str| range.get(name).map(String::as_str).unwrap_or_default();
    let range = app::insights::DayRange::parse(bound("from"), bound("to"), chrono::Utc::now().date_naive())
        .map_err(|error| HttpError::from_app(&error))?;
    let insights = app::insights::store::insights(&state.pool, range).await.map_err(|error| {
        tracing::error!(%error, "reading the insights failed");
        HttpError::unavailable()
    })?;
    let pdf = tokio::task::spawn_blocking(move || super::render_insights(&insights, chrono::Utc::now()))
        .await
        .map_err(|_| HttpError::unavailable())?
        .map_err(|error| {
            tracing::error!(error = %format!("{error:#}"), "rendering the insights report failed");
            HttpError::unavailable()
        })?;
    let filename = format!("cartograph-insights-{}-{}.pdf", range.from, range.to);
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        pdf,
    )
        .into_response())
}
