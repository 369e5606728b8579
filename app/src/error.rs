//! The error type every server function returns.

use serde::{Deserialize, Serialize};
use server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};

/// What went wrong, in words a shopper can read. Internal details are logged, never sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("please sign in first")]
    Unauthorized,
    #[error("you are not allowed to do that")]
    Forbidden,
    #[error("{0}")]
    Invalid(String),
    #[error("something went wrong on our side; please try again")]
    Internal,
    #[error("could not reach the shop: {0}")]
    Transport(String),
    /// A dependency is down or failing (the database restarting, the payment gateway's breaker open); the
    /// request can be retried later as it is.
    #[error("{0}")]
    Unavailable(String),
    /// Too many attempts of this kind for now (failed payments, say); the message says when to try again.
    #[error("{0}")]
    Throttled(String),
}

impl AppError {
    /// The database is out of reach for a moment.
    pub fn database_unavailable() -> Self {
        AppError::Unavailable("The shop is briefly unavailable; please try again in a moment.".into())
    }
}

impl AppError {
    /// Sets the HTTP status of the page being rendered on the server from this error; does nothing in the
    /// browser. Server-function calls get their status in one place on the server (`server::http`); a page
    /// that shows an error gets it here, through [`crate::notices::ErrorView`].
    pub fn set_page_status(&self) {
        #[cfg(feature = "ssr")]
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(self.status());
        }
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// The HTTP status a server function answers with for this error.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Transport(_) => StatusCode::BAD_GATEWAY,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::RowNotFound => AppError::NotFound,
            other if database_unavailable(&other) => {
                tracing::warn!(error = %other, "database unavailable in a server function");
                AppError::database_unavailable()
            }
            other => {
                tracing::error!(error = %other, "database error in a server function");
                AppError::Internal
            }
        }
    }
}

/// Whether the database is down or unreachable (as opposed to a query being wrong): worth a 503 and a retry.
#[cfg(feature = "ssr")]
pub fn database_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        // Class 08: connection exceptions; 57P01-57P03: the server is shutting down or starting up.
        sqlx::Error::Database(db) => db.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

#[cfg(feature = "ssr")]
impl From<tower_sessions::session::Error> for AppError {
    fn from(error: tower_sessions::session::Error) -> Self {
        match error {
            // The store is the database: when it fails, the database is (almost always) out of reach.
            tower_sessions::session::Error::Store(error) => {
                tracing::warn!(%error, "session store unavailable in a server function");
                AppError::database_unavailable()
            }
            other => {
                tracing::error!(error = %other, "session error in a server function");
                AppError::Internal
            }
        }
    }
}
