//! `/healthz` (the process answers) and `/readyz` (its database and broker answer).

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
    if failing.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "failing": failing })))
    }
}
