//! Rate limits per visit and per client IP, so one tab or one host cannot flood the producer: `governor`'s keyed
//! GCRA limiter (a token bucket without timers), with idle keys forgotten so memory stays bounded.
//!
//! Limits are per process: with several web copies behind a load balancer the effective limit scales with
//! them, which is fine for abuse protection (the broker, not fairness, is what is protected).

use governor::{
    clock::{Clock, DefaultClock},
    middleware::NoOpMiddleware,
    state::keyed::HashMapStateStore,
    Quota,
};
use std::{
    hash::Hash,
    num::NonZeroU32,
    sync::{Arc, RwLock},
    time::Duration,
};

/// A limit's shape: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub burst: f64,
    pub per_second: f64,
}

impl Rate {
    fn quota(self) -> Quota {
        let burst = NonZeroU32::new(self.burst.max(1.0).min(f64::from(u32::MAX)) as u32).unwrap_or(NonZeroU32::MIN);
        let period = Duration::from_secs_f64(1.0 / self.per_second.max(1e-6));
        Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX)).allow_burst(burst)
    }
}

type Keyed<K, C> = governor::RateLimiter<K, HashMapStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// A limit per key, keeping at most about `max_keys` keys (idle ones are forgotten first). The limit can change
/// while in use ([`RateLimiter::set_rate`], live settings).
pub struct RateLimiter<K: Hash + Eq + Clone, C: Clock = DefaultClock> {
    limiter: RwLock<Arc<Keyed<K, C>>>,
    clock: C,
    max_keys: usize,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(rate: Rate, max_keys: usize) -> Self {
        Self::with_clock(rate, max_keys, DefaultClock::default())
    }
}

impl<K: Hash + Eq + Clone, C: Clock + Clone> RateLimiter<K, C> {
    /// The same limit, on a clock of the caller's (tests move time by hand).
    pub fn with_clock(rate: Rate, max_keys: usize, clock: C) -> Self {
        let limiter = RwLock::new(Arc::new(governor::RateLimiter::hashmap_with_clock(rate.quota(), clock.clone())));
        Self { limiter, clock, max_keys }
    }

    /// A new limit from now on; every key starts again with a full burst.
    pub fn set_rate(&self, rate: Rate) {
        let limiter = Arc::new(governor::RateLimiter::hashmap_with_clock(rate.quota(), self.clock.clone()));
        *self.limiter.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = limiter;
    }

    fn current(&self) -> Arc<Keyed<K, C>> {
        Arc::clone(&self.limiter.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Takes one request's worth for `key`; `Err(wait)` says how long until one is free.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        let limiter = self.current();
        if limiter.len() >= self.max_keys {
            // Keys whose limit is back to full carry no state worth keeping.
            limiter.retain_recent();
        }
        limiter.check_key(key).map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }

    /// How many keys are remembered.
    pub fn keys(&self) -> usize {
        self.current().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn a_new_rate_applies_at_once_with_a_full_burst() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(Rate { burst: 1.0, per_second: 0.1 }, 100, clock.clone());
        assert!(limiter.check(&"visit").is_ok());
        assert!(limiter.check(&"visit").is_err());
        limiter.set_rate(Rate { burst: 3.0, per_second: 1.0 });
        for _ in 0..3 {
            assert!(limiter.check(&"visit").is_ok());
        }
        assert!(limiter.check(&"visit").is_err(), "the new burst, not more");
    }

    #[test]
    fn a_burst_is_allowed_then_refilled_over_time() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(Rate { burst: 3.0, per_second: 1.0 }, 100, clock.clone());
        for _ in 0..3 {
            assert!(limiter.check(&"visit").is_ok());
        }
        let wait = limiter.check(&"visit").unwrap_err();
        assert!(wait <= Duration::from_secs(1));
        assert!(limiter.check(&"other").is_ok(), "keys are independent");
        clock.advance(Duration::from_millis(1100));
        assert!(limiter.check(&"visit").is_ok());
    }

    #[test]
    fn memory_stays_bounded() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(Rate { burst: 2.0, per_second: 1.0 }, 10, clock.clone());
        for key in 0..1000 {
            clock.advance(Duration::from_secs(5));
            let _ = limiter.check(&key);
        }
        assert!(limiter.keys() <= 11);
    }
}
