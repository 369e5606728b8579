//! The error answer of the server's own handlers (sign-in, the event endpoint, journey downloads, image
//! uploads): one type, so every error answer has one shape. It carries a status, a title and a message a person
//! can read, and how long to wait when waiting helps; the cause is logged where the error is made, never sent.
//!
//! What a browser navigates to (sign-in, downloads, an upload form) answers with the small HTML error page; the
//! event endpoint, which the tracker calls with `fetch`, answers `{"error": message}` JSON, plus its details.

use axum::{
    response::{Html, IntoResponse, Response},
    Json,
};
use http::{header, StatusCode};
use serde_json::{Map, Value};
use std::{borrow::Cow, time::Duration};

/// A handler's error answer. Build one with [`HttpError::page`] or [`HttpError::json`].
#[derive(Debug)]
pub struct HttpError {
    status: StatusCode,
    title: &'static str,
    message: Cow<'static, str>,
    retry_after: Option<Duration>,
    /// `None` for the HTML page; the JSON body's fields besides `error` otherwise.
    json: Option<Map<String, Value>>,
}

impl HttpError {
    /// An error page for a browser: `title` as its heading, `message` under it.
    pub fn page(status: StatusCode, title: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self { status, title, message: message.into(), retry_after: None, json: None }
    }

    /// A JSON error for a script: `{"error": message}`.
    pub fn json(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self { status, title: "", message: message.into(), retry_after: None, json: Some(Map::new()) }
    }

    /// The page for what does not exist, or is not the caller's to see (the same answer, so it tells nothing).
    pub fn not_found() -> Self {
        Self::page(StatusCode::NOT_FOUND, "Not found", "We could not find that.")
    }

    /// The page for a moment of trouble on our side (a database restarting, a render outlasting the request).
    pub fn unavailable() -> Self {
        Self::page(StatusCode::SERVICE_UNAVAILABLE, "Briefly unavailable", "Please try again in a moment.")
    }

    /// The page for an app error, with its status and words.
    pub fn from_app(error: &app::error::AppError) -> Self {
        let title = match error {
            app::error::AppError::NotFound => "Not found",
            app::error::AppError::Unauthorized => "Please sign in",
            app::error::AppError::Forbidden => "Not allowed",
            _ => "Something went wrong",
        };
        Self::page(error.status(), title, error.to_string())
    }

    /// Says how long to wait before trying again (`Retry-After`, in whole seconds, at least 1).
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// Adds a field to a JSON error's body (a page has no fields: nothing changes).
    pub fn with(mut self, field: &str, value: impl serde::Serialize) -> Self {
        if let Some(json) = self.json.as_mut() {
            json.insert(field.to_string(), serde_json::to_value(value).unwrap_or(Value::Null));
        }
        self
    }

    /// The status it answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut response = match self.json {
            Some(mut fields) => {
                fields.insert("error".into(), Value::String(self.message.into_owned()));
                (self.status, Json(Value::Object(fields))).into_response()
            }
            None => (self.status, Html(page(self.title, &self.message))).into_response(),
        };
        if let Some(wait) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, wait.as_secs().max(1).into());
        }
        response
    }
}

/// A small, friendly HTML page for errors outside the Leptos app.
fn page(title: &str, message: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Cartograph</title>\
         <link rel=\"stylesheet\" href=\"/pkg/cartograph.css\"></head><body><main class=\"error-page\">\
         <h1>{title}</h1><p>{message}</p><p><a href=\"/\">Back to the shop</a></p></main></body></html>",
        title = app::escape_html(title),
        message = app::escape_html(message),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> String {
        String::from_utf8(axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_page_escapes_its_words_and_a_json_error_keeps_its_fields() {
        let page = HttpError::page(StatusCode::BAD_REQUEST, "Sign-in expired", "<script>").into_response();
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        let html = body(page).await;
        assert!(html.contains("<h1>Sign-in expired</h1>") && html.contains("&lt;script&gt;"), "{html}");

        let json = HttpError::json(StatusCode::TOO_MANY_REQUESTS, "slow down")
            .with("rejected", ["a"])
            .retry_after(Duration::from_millis(200))
            .into_response();
        assert_eq!(json.headers()[header::RETRY_AFTER], "1", "at least a second");
        let value: Value = serde_json::from_str(&body(json).await).unwrap();
        assert_eq!(value, serde_json::json!({ "error": "slow down", "rejected": ["a"] }));
    }
}
