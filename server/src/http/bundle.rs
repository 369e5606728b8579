//! The WASM bundle, its JS glue and the stylesheet (`/pkg/…`).
//!
//! `scripts/lib/site.sh` writes brotli and gzip copies next to each file at build time, so a browser that takes
//! them gets the smallest copy with no compression work per request. The names carry no content hash, so a
//! cached copy is revalidated on every use (`no-cache`: a `304` when unchanged) and never outlives a deploy.

use axum::Router;
use http::{header::CACHE_CONTROL, HeaderValue};
use std::path::Path;
use tower_http::{services::ServeDir, set_header::SetResponseHeaderLayer};

/// The service for `/pkg`, reading from `<site_root>/pkg`.
pub fn router<S: Clone + Send + Sync + 'static>(site_root: &str) -> Router<S> {
    let files = ServeDir::new(Path::new(site_root).join("pkg")).precompressed_br().precompressed_gzip();
    Router::new()
        .fallback_service(files)
        .layer(SetResponseHeaderLayer::overriding(CACHE_CONTROL, HeaderValue::from_static("no-cache")))
}
