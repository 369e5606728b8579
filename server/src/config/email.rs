//! `[email]`: how the worker sends the shopper's email (`crate::email`).
//!
//! | key | environment variable | default |
//! |---|---|---|
//! | `smtp_url` | `CARTOGRAPH_SMTP_URL` | unset: messages wait in the `emails` table, unsent (`scripts/run.sh` sets it to its local sink). `smtp://host:port` (plain, for a sink on this machine), `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://user:pass@host:465` |
//! | `from` | `CARTOGRAPH_EMAIL_FROM` | `Cartograph <shop@cartograph.test>` |
//! | `timeout_secs` | `CARTOGRAPH_EMAIL_TIMEOUT_SECS` | 10: the longest one attempt may take (at least 1) |
//! | `retry_base_secs` | `CARTOGRAPH_EMAIL_RETRY_BASE_SECS` | 30: the wait after the first failure, doubled after each (at least 1; at most an hour) |
//! | `max_attempts` | `CARTOGRAPH_EMAIL_MAX_ATTEMPTS` | 12 (about seven hours): then the message is marked failed (at least 1) |

use super::values;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// The SMTP server's URL; it may carry a password, so it is a secret.
    #[serde(serialize_with = "values::hidden")]
    pub smtp_url: Option<SecretString>,
    pub from: String,
    #[serde(rename = "timeout_secs", with = "values::positive_secs")]
    pub timeout: Duration,
    #[serde(rename = "retry_base_secs", with = "values::positive_secs")]
    pub retry_base: Duration,
    #[serde(deserialize_with = "values::at_least_one")]
    pub max_attempts: i32,
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "Cartograph <shop@cartograph.test>".into(),
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(30),
            max_attempts: 12,
        }
    }
}
