//! Graceful shutdown on SIGINT or SIGTERM, and the stop switch every background task watches.

use std::{future::Future, time::Duration};
use tokio_util::sync::CancellationToken;

/// Resolves when the process is asked to stop.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested");
}

/// A stop switch that many tasks can watch: a [`CancellationToken`] with the waits our loops need.
#[derive(Clone, Default)]
pub struct Shutdown(CancellationToken);

impl Shutdown {
    /// Asks every watcher to stop.
    pub fn trigger(&self) {
        self.0.cancel();
    }

    /// Whether [`Shutdown::trigger`] has been called.
    pub fn is_stopping(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Waits `period`, or less if the stop comes first: false when it did, so a loop can `return`.
    pub async fn sleep(&self, period: Duration) -> bool {
        tokio::select! {
            _ = self.wait() => false,
            _ = tokio::time::sleep(period) => true,
        }
    }

    /// Resolves once [`Shutdown::trigger`] has been called.
    pub async fn wait(&self) {
        self.0.cancelled().await;
    }

    /// Runs `job` every `period` (the first time one period from now) until the stop; a job in hand is finished.
    pub async fn every<F, Fut>(&self, period: Duration, mut job: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        while self.sleep(period).await {
            job().await;
        }
    }

    /// Runs `round` until the stop, for a queue worked in batches of `batch` (webhook deliveries, email): a full
    /// round is followed by the next at once, a short one by `poll`, a failed one (logged as `what` failed) by four
    /// polls. A round in hand is dropped at the stop: the queue's leases bring its rows back.
    pub async fn drain<F, Fut>(&self, batch: usize, poll: Duration, what: &str, mut round: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = anyhow::Result<usize>>,
    {
        loop {
            let done = tokio::select! {
                _ = self.wait() => return,
                done = round() => done,
            };
            let pause = match done {
                Ok(done) if done == batch => Duration::ZERO,
                Ok(_) => poll,
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "{what} failed; trying again shortly");
                    poll * 4
                }
            };
            if !self.sleep(pause).await {
                return;
            }
        }
    }
}

/// The wait before the attempt after `attempts` failed ones: `base`, doubled after each further failure, at most
/// `max` (webhook deliveries, email).
pub fn doubling_backoff(base: Duration, attempts: i32, max: Duration) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(20);
    base.saturating_mul(1 << doublings).min(max)
}
