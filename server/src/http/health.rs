//! `/healthz` (the process answers), `/readyz` (its database and broker answer) and `/metrics` (Prometheus).
//! The shop's listener answers `/readyz` with the verdict alone; the internal listener adds the failing
//! components and the breakers, and serves `/metrics`.

use crate::{clickstream::ClickstreamProducer, state::AppState};
use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::{sync::Arc, time::Duration};
use tokio::{sync::Mutex, time::Instant};

/// How long each dependency may take to answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a passing answer is reused: a burst of probes costs one database query and one broker round trip.
/// A failing answer is shared only by the callers that waited for it, so recovery shows at once.
const ANSWER_FOR: Duration = Duration::from_secs(1);

/// `/healthz`: the process answers.
pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The public `/readyz`: 200 when the database and the broker answer, else 503; which component failed is the
/// internal listener's to tell.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if state.readiness.failing(&state.pool, &state.producer).await.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable" })))
    }
}

/// The internal `/readyz`: the same verdict, naming the failing components (the reasons go to the log), and
/// the breakers' states either way.
pub async fn ready_in_detail(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let failing = state.readiness.failing(&state.pool, &state.producer).await;
    // Informational: an open breaker sheds load from a failing dependency; it does not make this copy unready.
    let breakers = json!({
        "payments": state.payments.breaker.state().as_str(),
        "broker": state.producer.breaker_state().as_str(),
    });
    if failing.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ready", "breakers": breakers })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "failing": failing, "breakers": breakers })),
        )
    }
}

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

/// `/metrics`: samples what is read rather than counted (queue depth, breaker states), then renders.
pub async fn scrape(State(state): State<AppState>) -> axum::response::Response {
    use crate::prometheus::names;
    metrics::gauge!(names::PRODUCER_QUEUE_DEPTH).set(f64::from(state.producer.in_flight_count()));
    state.payments.breaker.report();
    state.producer.report_breaker();
    crate::prometheus::render()
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
