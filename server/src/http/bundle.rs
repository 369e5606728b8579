//! The WASM bundle, its JS glue and the stylesheet (`/pkg/…`).
//!
//! `scripts/lib/site.sh` writes brotli and gzip copies next to each file at build time, so a browser that takes
//! them gets the smallest copy with no compression work per request. It also writes content-hashed copies
//! (`cartograph.<16 hex>.wasm`), which the pages name (`hash.txt`, read by [`names`] for the two bundles and by
//! Leptos for the stylesheet): those never change, so
//! browsers keep them for a year without asking again. The plain names are revalidated on every use
//! (`no-cache`: a `304` when unchanged), so a cached copy never outlives a deploy.

use axum::{extract::Request, middleware::Next, response::Response, Router};
use http::{header::CACHE_CONTROL, HeaderValue};
use std::path::{Path, PathBuf};
use tower_http::services::ServeDir;

const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

/// The service for `/pkg`, reading from `<site_root>/pkg`.
pub fn router<S: Clone + Send + Sync + 'static>(site_root: &str) -> Router<S> {
    let files = ServeDir::new(Path::new(site_root).join("pkg")).precompressed_br().precompressed_gzip();
    Router::new().fallback_service(files).layer(axum::middleware::from_fn(cache_control))
}

/// The file naming the hashed copies, when the site build wrote one: absolute, as Leptos joins it to the
/// binary's folder.
pub fn hash_file(site_root: &str) -> Option<PathBuf> {
    let file = std::path::absolute(Path::new(site_root).join("pkg").join("hash.txt")).ok()?;
    file.is_file().then_some(file)
}

/// The bundle names the pages load: the hashed ones `hash.txt` lists (`js: <hash>`, `wasm: <hash>`, and
/// `account-js`, `account-wasm`, `back-office-js`, `back-office-wasm`), else the plain ones.
pub fn names(site_root: &str) -> app::BundleNames {
    let plain = app::BundleNames::default();
    let mut names = plain.clone();
    let Some(hashes) = hash_file(site_root).and_then(|file| std::fs::read_to_string(file).ok()) else { return names };
    for (kind, hash) in hashes.lines().filter_map(|line| line.split_once(':')) {
        let (name, plain) = match kind.trim() {
            "js" => (&mut names.shop.js, &plain.shop.js),
            "wasm" => (&mut names.shop.wasm, &plain.shop.wasm),
            "account-js" => (&mut names.account.js, &plain.account.js),
            "account-wasm" => (&mut names.account.wasm, &plain.account.wasm),
            "back-office-js" => (&mut names.back_office.js, &plain.back_office.js),
            "back-office-wasm" => (&mut names.back_office.wasm, &plain.back_office.wasm),
            _ => continue,
        };
        *name = format!("{plain}.{}", hash.trim());
    }
    names
}

async fn cache_control(request: Request, next: Next) -> Response {
    let hashed = is_hashed(request.uri().path());
    let mut response = next.run(request).await;
    let value = if hashed && response.status().is_success() { IMMUTABLE } else { REVALIDATE };
    response.headers_mut().insert(CACHE_CONTROL, value);
    response
}

/// Whether a path names a content-hashed copy: `cartograph.<16 hex digits>.<js|wasm|css>`.
fn is_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let mut parts = name.split('.');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(_), Some(hash), Some("js" | "wasm" | "css"), None)
            if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    )
}

#[cfg(test)]
mod tests {
    use super::is_hashed;

    #[test]
    fn only_content_hashed_names_are_kept_for_a_year() {
        assert!(is_hashed("/pkg/cartograph.0123456789abcdef.wasm"));
        assert!(is_hashed("/cartograph.fedcba9876543210.css"));
        for plain in
            ["/pkg/cartograph.wasm", "/pkg/cartograph.0123.js", "/pkg/cartograph.0123456789ABCDEF.js", "/pkg/hash.txt"]
        {
            assert!(!is_hashed(plain), "{plain}");
        }
    }
}
