//! `[session]`: how long a signed-in session lasts.
//!
//! | key | environment variable | default |
//! |---|---|---|
//! | `idle_minutes` | `CARTOGRAPH_SESSION_IDLE_MINUTES` | 120 (at least 1) |
//! | `absolute_minutes` | `CARTOGRAPH_SESSION_ABSOLUTE_MINUTES` | 720 |
//! | `touch_secs` | `CARTOGRAPH_SESSION_TOUCH_SECS` | 60 |
//!
//! The lifetime and touch defaults are [`SessionRules::default`]'s, which the app falls back on.

use super::values;
use app::server_context::SessionRules;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// A session ends after this long without a request…
    #[serde(rename = "idle_minutes", with = "values::positive_minutes")]
    pub idle: Duration,
    /// …and this long after sign-in, however active.
    #[serde(rename = "absolute_minutes", with = "values::minutes")]
    pub absolute: Duration,
    /// An active session is saved again (sliding its idle expiry) at most this often.
    #[serde(rename = "touch_secs", with = "values::secs")]
    pub touch: Duration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        let rules = SessionRules::default();
        Self { idle: Duration::from_secs(120 * 60), absolute: rules.lifetime, touch: rules.touch_every }
    }
}

impl SessionSettings {
    /// The session rules server functions follow.
    pub fn rules(&self) -> SessionRules {
        SessionRules { lifetime: self.absolute, touch_every: self.touch }
    }
}
