//! `[http]`: what the HTTP server allows a client's connection.
//!
//! | key | environment variable | default |
//! |---|---|---|
//! | `header_read_timeout_secs` | `CARTOGRAPH_HTTP_HEADER_READ_TIMEOUT_SECS` | 10 (at least 1) |
//! | `idle_timeout_secs` | `CARTOGRAPH_HTTP_IDLE_TIMEOUT_SECS` | 60 (at least 1) |
//! | `max_connections` | `CARTOGRAPH_HTTP_MAX_CONNECTIONS` | 4096 (at least 1) |
//!
//! The limit for one request is the top-level `request_timeout_secs` (`CARTOGRAPH_REQUEST_TIMEOUT_SECS`).

use super::values;
use serde::{Deserialize, Serialize};
use std::{num::NonZeroUsize, time::Duration};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// The HTTP server closes a connection whose request headers take longer than this to arrive…
    #[serde(rename = "header_read_timeout_secs", with = "values::positive_secs")]
    pub header_read_timeout: Duration,
    /// …or that stays idle (no request in progress) for this long.
    #[serde(rename = "idle_timeout_secs", with = "values::positive_secs")]
    pub idle_timeout: Duration,
    /// The most connections the HTTP server holds open at once; past it new connections wait in the backlog.
    pub max_connections: NonZeroUsize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: NonZeroUsize::new(4_096).expect("positive"),
        }
    }
}
