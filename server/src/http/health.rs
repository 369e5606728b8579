//! `/healthz` (the process answers), `/readyz` (its database and broker answer; it also shows the breakers)
//! and `/metrics` (Prometheus).

use crate::startup::AppState;
use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};
use std::time::Duration;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = async {
        match tokio::time::timeout(CHECK_TIMEOUT, sqlx::query_scalar!("SELECT 1 AS \"one!\"").fetch_one(&state.pool)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("no answer within 2s".to_string()),
        }
    };
    let broker = async {
        crate::kafka::ping(state.settings.kafka_brokers(), CHECK_TIMEOUT).await.map_err(|e| e.to_string())
    };
    let (database, broker) = tokio::join!(database, broker);
    let failing: Vec<Value> = [("database", database), ("broker", broker)]
        .into_iter()
        .filter_map(|(name, result)| result.err().map(|error| json!({ "component": name, "error": error })))
        .collect();
    // Informational: an open breaker sheds load from a failing dependency; it does not make this copy unready.
    let breakers = json!({
        "payments": state.payments.breaker.state().as_str(),
        "broker": state.producer.breaker_state().as_str(),
    });
    if failing.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ready", "breakers": breakers })))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "failing": failing, "breakers": breakers })))
    }
}

/// `/metrics`: samples what is read rather than counted (queue depth, breaker states), then renders.
pub async fn scrape(State(state): State<AppState>) -> axum::response::Response {
    use crate::prometheus::names;
    metrics::gauge!(names::PRODUCER_QUEUE_DEPTH).set(f64::from(state.producer.in_flight_count()));
    state.payments.breaker.report();
    state.producer.report_breaker();
    crate::prometheus::render()
}
