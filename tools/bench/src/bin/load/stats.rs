//! What the shoppers measured: per step, the count, the latencies and the errors by kind.

use cartograph_tools::common::latency::Latencies;
use std::{collections::BTreeMap, sync::Mutex, time::Duration};

/// One step's figures.
#[derive(Debug, Default)]
struct StepStats {
    ok: usize,
    latencies: Latencies,
    errors: BTreeMap<String, usize>,
}

/// Every step's figures, shared by all shoppers.
#[derive(Debug, Default)]
pub struct Stats {
    steps: Mutex<BTreeMap<&'static str, StepStats>>,
    counters: Mutex<BTreeMap<&'static str, u64>>,
}

impl Stats {
    /// Records a step that succeeded after `latency`.
    pub fn ok(&self, step: &'static str, latency: Duration) {
        let mut steps = self.steps.lock().expect("stats");
        let entry = steps.entry(step).or_default();
        entry.ok += 1;
        entry.latencies.record(latency);
    }

    /// Records a failed step; its latency still counts (a slow error is still slow).
    pub fn error(&self, step: &'static str, latency: Duration, kind: String) {
        let mut steps = self.steps.lock().expect("stats");
        let entry = steps.entry(step).or_default();
        entry.latencies.record(latency);
        *entry.errors.entry(kind).or_default() += 1;
    }

    /// Counts something that is not a request (visits, orders paid, events accepted).
    pub fn count(&self, what: &'static str, n: u64) {
        *self.counters.lock().expect("stats").entry(what).or_default() += n;
    }

    /// The end-of-run report: throughput, latency percentiles per step, errors by kind, counters.
    pub fn report(&self, elapsed: Duration) -> String {
        let seconds = elapsed.as_secs_f64();
        let mut steps = self.steps.lock().expect("stats");
        let mut out = format!(
            "{:<14} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>7}\n",
            "step", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
        );
        let (mut requests, mut errors) = (0, 0);
        for (step, stats) in steps.iter_mut() {
            let failed: usize = stats.errors.values().sum();
            let total = stats.ok + failed;
            requests += total;
            errors += failed;
            out.push_str(&format!(
                "{:<14} {:>8} {:>8.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>7}\n",
                step,
                total,
                total as f64 / seconds,
                stats.latencies.percentile_ms(0.5),
                stats.latencies.percentile_ms(0.9),
                stats.latencies.percentile_ms(0.99),
                stats.latencies.percentile_ms(1.0),
                failed
            ));
        }
        out.push_str(&format!("{:<14} {:>8} {:>8.1} {:>48}\n", "all", requests, requests as f64 / seconds, errors));
        out.push_str("\nerrors by kind:\n");
        let kinds: Vec<String> = steps
            .iter()
            .flat_map(|(step, stats)| stats.errors.iter().map(move |(kind, n)| format!("  {step}: {kind} × {n}")))
            .collect();
        out.push_str(&if kinds.is_empty() { "  none\n".to_string() } else { kinds.join("\n") + "\n" });
        out.push_str("\ncounts:\n");
        for (what, n) in self.counters.lock().expect("stats").iter() {
            out.push_str(&format!("  {what}: {n}\n"));
        }
        out
    }
}
