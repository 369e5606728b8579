//! `[retention]`: how long the worker keeps what it stores, in days (`0` keeps it forever).
//!
//! | key | environment variable | default |
//! |---|---|---|
//! | `events_days` | `CARTOGRAPH_RETENTION_EVENTS_DAYS` | 90: stored clickstream events |
//! | `rejects_days` | `CARTOGRAPH_RETENTION_REJECTS_DAYS` | 30: undecodable or unstorable records (`clickstream_rejects`) |
//! | `visits_days` | `CARTOGRAPH_RETENTION_VISITS_DAYS` | 180: closed visits with their journey PDFs |
//! | `anonymous_carts_days` | `CARTOGRAPH_RETENTION_ANONYMOUS_CARTS_DAYS` | 30: anonymous carts not touched for this long |
//! | `idempotency_days` | `CARTOGRAPH_RETENTION_IDEMPOTENCY_DAYS` | 7: payment idempotency rows |
//! | `webhooks_days` | `CARTOGRAPH_RETENTION_WEBHOOKS_DAYS` | 30: webhook deliveries that finished (delivered or gave up), with their attempts |
//! | `sweep_secs` | `CARTOGRAPH_RETENTION_SWEEP_SECS` | 3600 (at least 1) |
//!
//! Expired sessions are deleted at every sweep, whatever these say.

use super::values;
use serde::{Deserialize, Serialize};
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

/// Each limit is `None` where the setting is `0` (kept forever).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    #[serde(rename = "events_days", with = "values::days_or_forever")]
    pub events: Option<Duration>,
    #[serde(rename = "rejects_days", with = "values::days_or_forever")]
    pub rejects: Option<Duration>,
    #[serde(rename = "visits_days", with = "values::days_or_forever")]
    pub visits: Option<Duration>,
    #[serde(rename = "anonymous_carts_days", with = "values::days_or_forever")]
    pub anonymous_carts: Option<Duration>,
    #[serde(rename = "idempotency_days", with = "values::days_or_forever")]
    pub idempotency: Option<Duration>,
    #[serde(rename = "webhooks_days", with = "values::days_or_forever")]
    pub webhooks: Option<Duration>,
    /// How often the worker applies retention (in small batches).
    #[serde(rename = "sweep_secs", with = "values::positive_secs")]
    pub sweep: Duration,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            events: Some(DAY * 90),
            rejects: Some(DAY * 30),
            visits: Some(DAY * 180),
            anonymous_carts: Some(DAY * 30),
            idempotency: Some(DAY * 7),
            webhooks: Some(DAY * 30),
            sweep: Duration::from_secs(3_600),
        }
    }
}
