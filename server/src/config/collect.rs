//! `[collect]`: the producer endpoint (`POST /api/events`): its rate limits, its concurrency cap, whom it
//! believes about the client's address, and its circuit breaker around the broker.
//!
//! | key | environment variable | default |
//! |---|---|---|
//! | `rate_per_visit` | `CARTOGRAPH_COLLECT_RATE_PER_VISIT` | 5 batches a second (above 0) |
//! | `rate_per_ip` | `CARTOGRAPH_COLLECT_RATE_PER_IP` | 50 batches a second (above 0) |
//! | `max_concurrency` | `CARTOGRAPH_COLLECT_MAX_CONCURRENCY` | 64 (at least 1) |
//! | `trusted_proxies` | `CARTOGRAPH_TRUSTED_PROXIES` | empty: the connection's peer is the client |
//! | `broker_breaker_failures` | `CARTOGRAPH_BROKER_BREAKER_FAILURES` | 3 (at least 1) |
//! | `broker_breaker_cooldown_secs` | `CARTOGRAPH_BROKER_BREAKER_COOLDOWN_SECS` | 15 (at least 1) |

use super::values;
use crate::client_ip::TrustedProxies;
use app::resilience::BreakerSettings;
use serde::{Deserialize, Serialize};
use std::{
    num::{NonZeroU32, NonZeroUsize},
    time::Duration,
};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CollectSettings {
    /// Limits in batches per second (bursts of ten times that are allowed), per visit and per address.
    #[serde(deserialize_with = "values::positive_f64")]
    pub rate_per_visit: f64,
    #[serde(deserialize_with = "values::positive_f64")]
    pub rate_per_ip: f64,
    /// The most `POST /api/events` requests handled at once; past it the endpoint answers 503 with `Retry-After`.
    pub max_concurrency: NonZeroUsize,
    /// The proxies (addresses or CIDR ranges, comma-separated) whose `X-Forwarded-For` is believed; the client
    /// is the rightmost address none of them vouches for. Empty: the connection's peer is the client.
    pub trusted_proxies: TrustedProxies,
    /// Batches the broker did not acknowledge in time, in a row, that open the endpoint's breaker…
    pub broker_breaker_failures: NonZeroU32,
    /// …and how long the endpoint then answers 503 at once.
    #[serde(rename = "broker_breaker_cooldown_secs", with = "values::positive_secs")]
    pub broker_breaker_cooldown: Duration,
}

impl Default for CollectSettings {
    fn default() -> Self {
        Self {
            rate_per_visit: 5.0,
            rate_per_ip: 50.0,
            max_concurrency: NonZeroUsize::new(64).expect("positive"),
            trusted_proxies: TrustedProxies::default(),
            broker_breaker_failures: NonZeroU32::new(3).expect("positive"),
            broker_breaker_cooldown: Duration::from_secs(15),
        }
    }
}

impl CollectSettings {
    /// The producer endpoint's circuit breaker around the broker.
    pub fn broker_breaker(&self) -> BreakerSettings {
        BreakerSettings {
            failure_threshold: self.broker_breaker_failures.get(),
            cool_down: self.broker_breaker_cooldown,
        }
    }
}
