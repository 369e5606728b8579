//! What the server hands to server functions through Leptos context.

use crate::error::AppError;
use leptos::prelude::use_context;
use sqlx::PgPool;

/// The database pool the server provided for this request.
pub fn pool() -> Result<PgPool, AppError> {
    use_context::<PgPool>().ok_or_else(|| {
        tracing::error!("no database pool in the Leptos context");
        AppError::Internal
    })
}

/// Sets the HTTP status of a failed server function from its error, then passes the result on.
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let (Err(error), Some(response)) = (&result, use_context::<leptos_axum::ResponseOptions>()) {
        response.set_status(error.status());
    }
    result
}
