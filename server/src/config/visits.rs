//! `[visits]`: the visit cookie and the closing of idle visits.
//!
//! | key | environment variable | default |
//! |---|---|---|
//! | `idle_minutes` | `CARTOGRAPH_VISIT_IDLE_MINUTES` | 30 (at least 1): the worker closes a visit after this long without an event, and the visit cookie's `Max-Age` is the same |
//! | `sweep_secs` | `CARTOGRAPH_VISIT_SWEEP_SECS` | 15 |
//! | `max_events` | `CARTOGRAPH_VISIT_MAX_EVENTS` | 5000 (at least 1) |
//! | `signing_key` | `CARTOGRAPH_VISIT_SIGNING_KEY` | dev: the published dev key; production: required, not that one; at least [`MIN_VISIT_KEY_BYTES`] bytes in every mode |
//!
//! The signing key also keys the fingerprints of payment cards ([`app::orders::payment::Payments::new`]).

use super::values;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::{num::NonZeroU32, time::Duration};

/// The shortest visit-signing key accepted, in bytes.
pub const MIN_VISIT_KEY_BYTES: usize = 32;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VisitSettings {
    /// A visit with no event for this long is closed and its journey rendered; its cookie lasts as long.
    #[serde(rename = "idle_minutes", with = "values::positive_minutes")]
    pub idle: Duration,
    /// How often the worker looks for visits to close.
    #[serde(rename = "sweep_secs", with = "values::secs")]
    pub sweep: Duration,
    /// The most events one visit may hold; past it events go to the bad topic (`visit_full`).
    pub max_events: NonZeroU32,
    /// A signed-in shopper whose cart has not changed for this long is reminded of it on their next visit (once
    /// per cart); zero turns the reminder off.
    #[serde(rename = "cart_reminder_minutes", with = "values::minutes")]
    pub cart_reminder: Duration,
    /// The key that signs visit ids (HMAC-SHA256), at least 32 bytes; production refuses to start without one.
    #[serde(serialize_with = "values::hidden")]
    pub signing_key: Option<SecretString>,
}

impl Default for VisitSettings {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30 * 60),
            sweep: Duration::from_secs(15),
            max_events: NonZeroU32::new(5_000).expect("positive"),
            cart_reminder: Duration::from_secs(60 * 60),
            signing_key: None,
        }
    }
}

impl VisitSettings {
    /// The visit-signing key's bytes; always present after [`super::Settings::complete`].
    pub fn signing_key(&self) -> &[u8] {
        self.signing_key.as_ref().map(|key| key.expose_secret().as_bytes()).unwrap_or_default()
    }

    /// A key long enough, if one is set.
    pub(super) fn check(&self) -> Result<(), String> {
        if self.signing_key.as_ref().is_some_and(|key| key.expose_secret().len() < MIN_VISIT_KEY_BYTES) {
            return Err(format!(
                "CARTOGRAPH_VISIT_SIGNING_KEY must be at least {MIN_VISIT_KEY_BYTES} bytes (e.g. `openssl rand -hex 32`)"
            ));
        }
        Ok(())
    }
}
