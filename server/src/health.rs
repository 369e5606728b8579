//! Readiness: whether this copy's database and broker answer, checked at most once at a time and shared by
//! every caller. `crate::web` serves it as `/readyz`.

use crate::clickstream::ClickstreamProducer;
use sqlx::PgPool;
use std::{sync::Arc, time::Duration};
use tokio::{sync::Mutex, time::Instant};

/// How long each dependency may take to answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a passing answer is reused: a burst of probes costs one database query and one broker round trip.
/// A failing answer is shared only by the callers that waited for it, so recovery shows at once.
const ANSWER_FOR: Duration = Duration::from_secs(1);

/// The last readiness answer, shared by every caller: one check runs at a time, callers that arrive while it runs
/// share its answer, and a passing answer is reused for [`ANSWER_FOR`].
#[derive(Default)]
pub struct Readiness {
    last: Arc<Mutex<Option<Answer>>>,
}

/// The components that failed one check, and when it finished.
#[derive(Clone)]
struct Answer {
    at: Instant,
    failing: Vec<&'static str>,
}

impl Answer {
    /// Whether this answer serves a caller who asked at `asked`: the check ended while the caller waited for it,
    /// or it passed less than [`ANSWER_FOR`] ago.
    fn serves(&self, asked: Instant) -> bool {
        self.at >= asked || (self.failing.is_empty() && self.at.elapsed() < ANSWER_FOR)
    }
}

impl Readiness {
    /// The components failing now (an empty list: ready).
    ///
    /// Concurrent callers wait for the check in progress and share its answer. The check runs in its own task
    /// holding the lock, so a caller that gives up (a client that hangs up) neither cancels it nor lets a second
    /// check start beside it.
    pub async fn failing(&self, pool: &PgPool, producer: &ClickstreamProducer) -> Vec<&'static str> {
        let asked = Instant::now();
        let mut last = Arc::clone(&self.last).lock_owned().await;
        if let Some(answer) = last.as_ref().filter(|answer| answer.serves(asked)) {
            return answer.failing.clone();
        }
        let (pool, producer) = (pool.clone(), producer.clone());
        let check = tokio::spawn(async move {
            let failing = failing_components(&pool, &producer).await;
            *last = Some(Answer { at: Instant::now(), failing: failing.clone() });
            failing
        });
        check.await.unwrap_or_else(|error| {
            tracing::error!(%error, "the readiness check panicked");
            vec!["database", "broker"]
        })
    }
}

/// Checks the database and the broker (through the long-lived producer) side by side; logs each failure.
async fn failing_components(pool: &PgPool, producer: &ClickstreamProducer) -> Vec<&'static str> {
    let database = async {
        match tokio::time::timeout(CHECK_TIMEOUT, sqlx::query_scalar!("SELECT 1 AS \"one!\"").fetch_one(pool)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
        }
    };
    let broker = async { producer.fetch_metadata(CHECK_TIMEOUT).await.map_err(|error| format!("{error:#}")) };
    let (database, broker) = tokio::join!(database, broker);
    [("database", database), ("broker", broker)]
        .into_iter()
        .filter_map(|(component, result)| {
            let error = result.err()?;
            tracing::warn!(component, %error, "readiness check failed");
            Some(component)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passing_answer_is_reused_for_a_second() {
        let answer = Answer { at: Instant::now(), failing: Vec::new() };
        assert!(answer.serves(Instant::now()), "a fresh passing answer serves later callers");
        let old = Answer { at: Instant::now() - ANSWER_FOR, failing: Vec::new() };
        assert!(!old.serves(Instant::now()), "an answer older than {ANSWER_FOR:?} is checked again");
    }

    #[test]
    fn a_failing_answer_serves_only_the_callers_that_waited_for_it() {
        let asked = Instant::now();
        let answer = Answer { at: Instant::now(), failing: vec!["database"] };
        assert!(answer.serves(asked), "a caller that waited for the check shares it");
        assert!(!answer.serves(Instant::now() + Duration::from_millis(1)), "a later caller checks again");
    }
}
