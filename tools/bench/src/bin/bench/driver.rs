//! A closed-loop load driver: a fixed number of workers, each sending its next request when the last one is
//! answered, a warm-up that is not counted, then a fixed measuring window.

use cartograph_tools::common::latency::Latencies;
use std::{
    future::Future,
    time::{Duration, Instant},
};

/// What one measuring window produced.
#[derive(Debug, Default)]
pub struct Run {
    /// Operations completed inside the window.
    pub ops: usize,
    pub latencies: Latencies,
    /// From the window's start to the last operation's end.
    pub elapsed: Duration,
}

impl Run {
    /// Operations per second.
    pub fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    pub fn p99_ms(&mut self) -> f64 {
        self.latencies.percentile_ms(0.99)
    }
}

/// How long and how wide a closed loop runs.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub concurrency: usize,
    pub warmup: Duration,
    pub window: Duration,
}

/// Runs `op(worker, n)` on `shape.concurrency` tokio tasks until the window closes. An operation's error stops
/// the run: a benchmark that counts failures as work would report nonsense.
pub async fn closed_loop<F, Fut>(shape: Shape, op: F) -> anyhow::Result<Run>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let start = Instant::now() + shape.warmup;
    let end = start + shape.window;
    let workers = (0..shape.concurrency).map(|worker| {
        let op = op.clone();
        tokio::spawn(async move {
            let (mut latencies, mut ops, mut last) = (Latencies::default(), 0, start);
            let mut n = 0;
            loop {
                let began = Instant::now();
                if began >= end {
                    break;
                }
                op(worker, n).await?;
                n += 1;
                let finished = Instant::now();
                if began >= start {
                    latencies.record(finished - began);
                    ops += 1;
                    last = finished;
                }
            }
            anyhow::Ok((ops, latencies, last))
        })
    });
    let mut run = Run::default();
    let mut last = start;
    for worker in futures::future::join_all(workers).await {
        let (ops, latencies, finished) = worker??;
        run.ops += ops;
        run.latencies.extend(latencies);
        last = last.max(finished);
    }
    run.elapsed = last.saturating_duration_since(start).max(Duration::from_millis(1));
    Ok(run)
}
