//! Product images: SVGs generated at seed time and served from the database.

use crate::startup::AppState;
use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};

const SVG: &str = "image/svg+xml";

pub async fn product_image(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(slug) = file.strip_suffix(".svg") else { return StatusCode::NOT_FOUND.into_response() };
    match sqlx::query_scalar!("SELECT image_svg FROM products WHERE slug = $1", slug).fetch_optional(&state.pool).await {
        Ok(Some(svg)) => (
            [(header::CONTENT_TYPE, SVG), (header::CACHE_CONTROL, "public, max-age=3600")],
            // A strict CSP makes any script inside an SVG inert even if an admin uploads one.
            [(header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'")],
            svg,
        )
            .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => {
            tracing::error!(%error, "loading a product image");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

pub async fn favicon() -> Response {
    const ICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#12355b"/><path d="M6 24 L13 10 L19 19 L23 13 L27 24 Z" fill="#ffb703"/><circle cx="23" cy="8" r="2.5" fill="#fff"/></svg>"##;
    ([(header::CONTENT_TYPE, SVG), (header::CACHE_CONTROL, "public, max-age=86400")], ICON).into_response()
}
