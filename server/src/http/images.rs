//! Product images: the generated SVG artwork, or an image an admin uploaded (PNG, JPEG or WebP).

use crate::{config::Settings, http::error::HttpError};
use app::admin::{store::UploadedImage, MAX_IMAGE_BYTES};
use axum::{
    extract::{Multipart, Path, State},
    http::header,
    response::{IntoResponse, Redirect, Response},
};
use tower_sessions::Session;

const SVG: &str = "image/svg+xml";

/// What the image routes need, taken from the application's state (`crate::state`).
#[derive(Clone)]
pub struct ImageState {
    pub pool: sqlx::PgPool,
    pub settings: std::sync::Arc<Settings>,
}

/// `GET /images/products/{slug}` (a `.svg` suffix is accepted for old links).
pub async fn product_image(State(state): State<ImageState>, Path(file): Path<String>) -> Response {
    let slug = file.strip_suffix(".svg").unwrap_or(&file);
    let found = sqlx::query!("SELECT image_svg, image_upload, image_upload_type FROM products WHERE slug = $1", slug)
        .fetch_optional(&state.pool)
        .await;
    let (content_type, body) = match found {
        Ok(Some(row)) => match (row.image_upload, row.image_upload_type) {
            (Some(bytes), Some(content_type)) => (content_type, bytes),
            _ => (SVG.to_string(), row.image_svg.into_bytes()),
        },
        Ok(None) => return HttpError::not_found().into_response(),
        Err(error) => {
            tracing::error!(%error, "loading a product image");
            return HttpError::unavailable().into_response();
        }
    };
    (
        [
            (header::CONTENT_TYPE, content_type.as_str()),
            // Edits change the image under the same URL: revalidate within minutes.
            (header::CACHE_CONTROL, "public, max-age=300"),
            // A strict CSP keeps anything active inside an image inert.
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'"),
        ],
        body,
    )
        .into_response()
}

/// The image type, read from the file's first bytes (never from its name or the browser's claim).
pub fn sniff_image_type(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some("image/png"),
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

/// `POST /admin/products/{id}/image` (multipart, field `image`): admins only; type and size checked.
pub async fn upload_product_image(
    State(state): State<ImageState>,
    session: Session,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> Response {
    let signed_in = app::server_context::current_user(&session, state.settings.session.rules(), &state.pool).await;
    let admin = match signed_in.and_then(app::server_context::admin) {
        Ok(admin) => admin,
        Err(error) => return HttpError::from_app(&error).into_response(),
    };
    let back = |error: Option<&str>| {
        let target = match error {
            None => format!("/admin/products/{id}?saved=1"),
            Some(code) => format!("/admin/products/{id}?image_error={code}"),
        };
        Redirect::to(&target).into_response()
    };
    let image = match read_image(multipart).await {
        Ok(image) => image,
        Err(message) => return back(Some(message)),
    };
    match app::admin::store::set_image(&state.pool, admin.id, id, Some(image)).await {
        Ok(()) => back(None),
        Err(app::error::AppError::NotFound) => HttpError::not_found().into_response(),
        Err(_) => back(Some("not-saved")),
    }
}

/// The upload's image, or the code of why it was refused (`app::admin::IMAGE_ERRORS`).
async fn read_image(mut multipart: Multipart) -> Result<UploadedImage, &'static str> {
    while let Some(mut field) = multipart.next_field().await.map_err(|_| "cut-short")? {
        if field.name() != Some("image") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| "cut-short")? {
            if bytes.len() + chunk.len() > MAX_IMAGE_BYTES {
                return Err("too-large");
            }
            bytes.extend_from_slice(&chunk);
        }
        if bytes.is_empty() {
            return Err("missing");
        }
        let content_type = sniff_image_type(&bytes).ok_or("type")?;
        return Ok(UploadedImage { bytes, content_type });
    }
    Err("missing")
}

pub async fn favicon() -> Response {
    const ICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#12355b"/><path d="M6 24 L13 10 L19 19 L23 13 L27 24 Z" fill="#ffb703"/><circle cx="23" cy="8" r="2.5" fill="#fff"/></svg>"##;
    ([(header::CONTENT_TYPE, SVG), (header::CACHE_CONTROL, "public, max-age=86400")], ICON).into_response()
}

#[cfg(test)]
mod tests {
    use super::sniff_image_type;

    #[test]
    fn image_types_come_from_the_bytes() {
        assert_eq!(sniff_image_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff_image_type(b"\xFF\xD8\xFF\xE0...."), Some("image/jpeg"));
        assert_eq!(sniff_image_type(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image_type(b"<svg onload=alert(1)>"), None, "SVG uploads could carry scripts");
        assert_eq!(sniff_image_type(b"GIF89a"), None);
    }
}
