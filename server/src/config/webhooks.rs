//! `[webhooks]`: how the worker delivers webhooks (`crate::webhooks`).
//!
//! | key | environment variable | default |
//! |---|---|---|
//! | `timeout_secs` | `CARTOGRAPH_WEBHOOK_TIMEOUT_SECS` | 10: the longest one attempt waits for an answer (at least 1) |
//! | `retry_base_secs` | `CARTOGRAPH_WEBHOOK_RETRY_BASE_SECS` | 30: the wait after the first failure, doubled after each (at least 1; at most an hour) |
//! | `retry_for_minutes` | `CARTOGRAPH_WEBHOOK_RETRY_FOR_MINUTES` | 1440: after this long a delivery gives up (at least 1) |
//! | `disable_after` | `CARTOGRAPH_WEBHOOK_DISABLE_AFTER` | 20: failed attempts in a row that turn an endpoint off (at least 1) |
//! | `allow_private` | `CARTOGRAPH_WEBHOOK_ALLOW_PRIVATE` | false: no delivery to private, link-local or (in production) loopback addresses |
//!
//! In production deliveries go to `https://` URLs only, whatever these say.

use super::values;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    #[serde(rename = "timeout_secs", with = "values::positive_secs")]
    pub timeout: Duration,
    #[serde(rename = "retry_base_secs", with = "values::positive_secs")]
    pub retry_base: Duration,
    #[serde(rename = "retry_for_minutes", with = "values::positive_minutes")]
    pub retry_for: Duration,
    #[serde(deserialize_with = "values::at_least_one")]
    pub disable_after: i32,
    pub allow_private: bool,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(30),
            retry_for: Duration::from_secs(24 * 3_600),
            disable_after: 20,
            allow_private: false,
        }
    }
}
