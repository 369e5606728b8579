//! Token buckets per visit and per client IP, so one tab or one host cannot flood the producer.
//!
//! Limits are per process: with several web copies behind a load balancer the effective limit scales with
//! them, which is fine for abuse protection (the broker, not fairness, is what is protected).

use std::{
    collections::HashMap,
    hash::Hash,
    sync::Mutex,
    time::{Duration, Instant},
};

/// A bucket's shape: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub burst: f64,
    pub per_second: f64,
}

/// Buckets by key; idle buckets are forgotten so memory stays bounded.
pub struct RateLimiter<K> {
    rate: Rate,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
    max_keys: usize,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(rate: Rate, max_keys: usize) -> Self {
        Self { rate, buckets: Mutex::new(HashMap::new()), max_keys }
    }

    /// Takes one token for `key`; `Err(wait)` says how long until one is free.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= self.max_keys && !buckets.contains_key(key) {
            // Drop full (idle) buckets first; they carry no state worth keeping.
            let rate = self.rate;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate.per_second < rate.burst
            });
        }
        let (tokens, at) = buckets.entry(key.clone()).or_insert((self.rate.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate.per_second).min(self.rate.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refilled_over_time() {
        let limiter = RateLimiter::new(Rate { burst: 3.0, per_second: 1.0 }, 100);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check(&"visit", start).is_ok());
        }
        let wait = limiter.check(&"visit", start).unwrap_err();
        assert!(wait <= Duration::from_secs(1));
        assert!(limiter.check(&"other", start).is_ok(), "keys are independent");
        assert!(limiter.check(&"visit", start + Duration::from_millis(1100)).is_ok());
    }

    #[test]
    fn memory_stays_bounded() {
        let limiter = RateLimiter::new(Rate { burst: 2.0, per_second: 1.0 }, 10);
        let start = Instant::now();
        for key in 0..1000 {
            let _ = limiter.check(&key, start + Duration::from_secs(key as u64 * 5));
        }
        assert!(limiter.buckets.lock().unwrap().len() <= 11);
    }
}
