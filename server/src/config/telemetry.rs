//! `[telemetry]`: trace export and the listeners for metrics and the detailed readiness.
//!
//! | key | environment variable | default |
//! |---|---|---|
//! | `otlp_endpoint` | `CARTOGRAPH_OTLP_ENDPOINT` | unset: no trace export |
//! | `worker_metrics_addr` | `CARTOGRAPH_WORKER_METRICS_ADDR` | `127.0.0.1:9465`; `off` disables it |
//! | `internal_addr` | `CARTOGRAPH_INTERNAL_ADDR` | `127.0.0.1:9464`; `off` disables it |

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// An OpenTelemetry collector's OTLP/HTTP base URL (e.g. `http://127.0.0.1:4318`); traces are exported to
    /// its `/v1/traces` when set, and not at all otherwise.
    pub otlp_endpoint: Option<String>,
    /// Where the worker serves `/metrics` (it has no other listener); `off` (or empty) disables it.
    pub worker_metrics_addr: String,
    /// Where the web process serves `/metrics` and the detailed `/readyz` (components, breakers), apart from
    /// the shop's own listener; `off` (or empty) disables it. Keep it off the public network.
    pub internal_addr: String,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            worker_metrics_addr: "127.0.0.1:9465".into(),
            internal_addr: "127.0.0.1:9464".into(),
        }
    }
}

impl TelemetrySettings {
    /// Where the worker serves `/metrics`, unless disabled.
    pub fn worker_metrics_addr(&self) -> Option<SocketAddr> {
        listener_addr(&self.worker_metrics_addr)
    }

    /// Where the web process serves `/metrics` and the detailed `/readyz`, unless disabled.
    pub fn internal_addr(&self) -> Option<SocketAddr> {
        listener_addr(&self.internal_addr)
    }

    /// Trims the OTLP endpoint (blank is unset) and checks it and the listeners.
    pub(super) fn complete(&mut self) -> Result<(), String> {
        self.otlp_endpoint = self.otlp_endpoint.take().map(|url| url.trim().to_string()).filter(|url| !url.is_empty());
        if let Some(url) = &self.otlp_endpoint {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!("CARTOGRAPH_OTLP_ENDPOINT must be an http(s):// URL, got {url}"));
            }
        }
        for (name, value) in [
            ("CARTOGRAPH_WORKER_METRICS_ADDR", &self.worker_metrics_addr),
            ("CARTOGRAPH_INTERNAL_ADDR", &self.internal_addr),
        ] {
            if !switched_off(value) && value.trim().parse::<SocketAddr>().is_err() {
                return Err(format!("{name} must be host:port or off, got {value}"));
            }
        }
        Ok(())
    }
}

/// Whether a listener setting says `off` (or nothing).
fn switched_off(value: &str) -> bool {
    let value = value.trim();
    value.is_empty() || value.eq_ignore_ascii_case("off")
}

/// A listener setting's address, unless it is switched off.
fn listener_addr(value: &str) -> Option<SocketAddr> {
    if switched_off(value) {
        return None;
    }
    value.trim().parse().ok()
}
