//! Latency samples and their percentiles, shared by `cartograph-bench` and `cartograph-load`.

use std::time::Duration;

/// The latencies of one kind of request, kept whole (runs are short, so every sample fits in memory).
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    samples: Vec<Duration>,
    sorted: bool,
}

impl Latencies {
    pub fn record(&mut self, latency: Duration) {
        self.samples.push(latency);
        self.sorted = false;
    }

    /// Merges another worker's samples.
    pub fn extend(&mut self, other: Latencies) {
        self.samples.extend(other.samples);
        self.sorted = false;
    }

    /// The `p` quantile (0.0 to 1.0) in milliseconds, by the nearest-rank method; NaN without samples.
    pub fn percentile_ms(&mut self, p: f64) -> f64 {
        if self.samples.is_empty() {
            return f64::NAN;
        }
        if !self.sorted {
            self.samples.sort_unstable();
            self.sorted = true;
        }
        let rank = (p * self.samples.len() as f64).ceil().max(1.0) as usize;
        self.samples[rank.min(self.samples.len()) - 1].as_secs_f64() * 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut latencies = Latencies::default();
        for ms in (1..=100).rev() {
            latencies.record(Duration::from_millis(ms));
        }
        assert_eq!(latencies.percentile_ms(0.5), 50.0);
        assert_eq!(latencies.percentile_ms(0.99), 99.0);
        assert_eq!(latencies.percentile_ms(1.0), 100.0);
        assert_eq!(latencies.percentile_ms(0.0), 1.0);
        assert!(Latencies::default().percentile_ms(0.5).is_nan());
    }
}
