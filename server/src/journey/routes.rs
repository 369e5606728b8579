//! `GET /journeys/{visit}.pdf`: a journey document for its owner (or an admin). Anyone else gets a 404,
//! never a 403 that would confirm the visit exists.

use super::store::{self, JourneyStore};
use crate::startup::AppState;
use app::auth::SessionUser;
use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use tower_sessions::Session;
use uuid::Uuid;

pub async fn download(State(state): State<AppState>, session: Session, Path(file): Path<String>) -> Response {
    let Some(visit) = file.strip_suffix(".pdf").and_then(|id| Uuid::parse_str(id).ok()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let signed_in = app::server_context::signed_in_user(&session, state.settings.session_lifetime()).await;
    let Some(reader) = signed_in.ok().flatten() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match document(&state, visit, &reader).await {
        Ok(Some((pdf, record))) => {
            let filename = format!(
                "cartograph-journey-{}-{}.pdf",
                record.started_at.format("%Y-%m-%d"),
                &visit.to_string()[..8]
            );
            // A closed visit's document no longer changes; an open one is rendered fresh each time.
            let cache = if record.closed { "private, max-age=3600" } else { "private, no-store" };
            (
                [
                    (header::CONTENT_TYPE, "application/pdf".to_string()),
                    (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
                    (header::CACHE_CONTROL, cache.to_string()),
                ],
                pdf,
            )
                .into_response()
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), %visit, "journey download failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

async fn document(
    state: &AppState,
    visit: Uuid,
    reader: &SessionUser,
) -> anyhow::Result<Option<(Vec<u8>, store::VisitRecord)>> {
    let Some(record) = store::visit_for_reader(&state.pool, visit, reader.id, reader.is_admin).await? else {
        return Ok(None);
    };
    let journeys = store::PgJourneyStore { pool: state.pool.clone() };
    if record.closed {
        if let Some(pdf) = journeys.load(visit).await? {
            return Ok(Some((pdf, record)));
        }
    }
    let events = store::load_events(&state.pool, visit).await?;
    let info = record.info.clone();
    let pdf = tokio::task::spawn_blocking(move || super::render(&info, &events, chrono::Utc::now())).await??;
    Ok(Some((pdf, record)))
}
