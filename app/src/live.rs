//! Live settings: what an operator changes while the shop runs, without a restart. The server reloads them from
//! its live file (`server::live`) on every copy; what they govern reads them at each use through a [`Live`]
//! handle (the banner in the header, the drills where the faults are injected). Rate limits and breaker
//! thresholds are live too, applied by the server straight to the limiters and breakers.

use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};

/// The values in force.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LiveValues {
    /// A notice at the top of every page (maintenance, an incident), or none.
    pub banner: Option<String>,
    pub drills: Drills,
}

/// Faults injected on purpose, for drills. All off (zero) unless the live file turns them on.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Drills {
    /// The share of charges and refunds that fail as a gateway error without reaching the gateway (0 to 1).
    pub payment_failure_rate: f64,
    /// Added before each charge and refund reaches the gateway.
    pub payment_latency_ms: u64,
    /// Added to each catalog read that goes to the database (a cached read is not slowed).
    pub slow_catalog_ms: u64,
    /// Added before each clickstream batch is handed to the broker.
    pub broker_produce_delay_ms: u64,
}

impl Drills {
    /// The most a drill may add to one call: longer would only hold connections, not teach anything.
    pub const MAX_DELAY_MS: u64 = 60_000;

    /// Whether any drill is on.
    pub fn any(&self) -> bool {
        *self != Self::default()
    }

    /// Why these drills cannot apply, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.payment_failure_rate) {
            return Err(format!("drills.payment_failure_rate must be from 0 to 1, got {}", self.payment_failure_rate));
        }
        for (name, value) in [
            ("payment_latency_ms", self.payment_latency_ms),
            ("slow_catalog_ms", self.slow_catalog_ms),
            ("broker_produce_delay_ms", self.broker_produce_delay_ms),
        ] {
            if value > Self::MAX_DELAY_MS {
                return Err(format!("drills.{name} must be at most {} ms, got {value}", Self::MAX_DELAY_MS));
            }
        }
        Ok(())
    }
}

impl LiveValues {
    /// The longest banner shown.
    pub const MAX_BANNER_CHARS: usize = 300;

    /// Why these values cannot apply, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        if let Some(banner) = &self.banner {
            if banner.chars().count() > Self::MAX_BANNER_CHARS {
                return Err(format!("banner must be at most {} characters", Self::MAX_BANNER_CHARS));
            }
            if banner.chars().any(char::is_control) {
                return Err("banner must be one line without control characters".into());
            }
        }
        self.drills.check()
    }
}

/// The live values of one process, shared by everything that reads them; [`Live::set`] replaces them at once.
#[derive(Clone, Debug, Default)]
pub struct Live(Arc<RwLock<Arc<LiveValues>>>);

impl Live {
    pub fn new(values: LiveValues) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(values))))
    }

    /// The values in force now.
    pub fn get(&self) -> Arc<LiveValues> {
        // Whole values are swapped in: a panic elsewhere cannot leave one half-written.
        Arc::clone(&self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    pub fn set(&self, values: LiveValues) {
        *self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(values);
    }
}

/// Waits `ms` milliseconds, if any (a drill's delay).
#[cfg(feature = "ssr")]
pub async fn delay(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}

/// Whether a drill failing `rate` of calls fails this one.
#[cfg(feature = "ssr")]
pub fn fails(rate: f64) -> bool {
    // uuid's v4 generator is the random source the crate already has.
    rate > 0.0 && (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0 < rate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_drills_and_unprintable_banners_are_refused() {
        let drills = |drills: Drills| LiveValues { banner: None, drills }.check();
        assert!(drills(Drills { payment_failure_rate: 1.0, payment_latency_ms: 60_000, ..Drills::default() }).is_ok());
        assert!(drills(Drills { payment_failure_rate: 1.5, ..Drills::default() }).unwrap_err().contains("from 0 to 1"));
        assert!(drills(Drills { payment_failure_rate: f64::NAN, ..Drills::default() }).is_err());
        assert!(drills(Drills { slow_catalog_ms: 60_001, ..Drills::default() }).unwrap_err().contains("slow_catalog"));
        let banner = |text: &str| LiveValues { banner: Some(text.into()), drills: Drills::default() }.check();
        assert!(banner("Back at 10:00 UTC").is_ok());
        assert!(banner("two\nlines").is_err());
        assert!(banner(&"x".repeat(301)).is_err());
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_failure_rate_fails_about_that_share() {
        assert!(!(0..1000).any(|_| fails(0.0)));
        assert!((0..1000).all(|_| fails(1.0)));
        let failed = (0..10_000).filter(|_| fails(0.3)).count();
        assert!((2_500..3_500).contains(&failed), "{failed} of 10,000 at 0.3");
    }

    #[test]
    fn a_set_replaces_the_values_for_every_holder() {
        let live = Live::default();
        let other = live.clone();
        live.set(LiveValues { banner: Some("Maintenance".into()), drills: Drills::default() });
        assert_eq!(other.get().banner.as_deref(), Some("Maintenance"));
    }
}
