//! Start-up: health endpoints, and a clear one-line error for each unreachable service.

use crate::helpers::{spawn_app, test_settings};
use cartograph::startup::Application;

#[tokio::test]
async fn healthz_answers_while_the_process_is_up() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"), "every response carries a request id");
}

#[tokio::test]
async fn readyz_is_ready_when_database_and_broker_answer() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

async fn start_error(change: impl FnOnce(&mut cartograph::config::Settings)) -> String {
    let mut settings = test_settings().await;
    settings.startup_timeout_secs = 3;
    change(&mut settings);
    match Application::build(settings).await {
        Ok(_) => panic!("the app started although a service is unreachable"),
        Err(error) => format!("{error:#}"),
    }
}

#[tokio::test]
async fn an_unreachable_database_is_named_at_start() {
    let error = start_error(|s| s.database_url = Some("postgres://postgres@127.0.0.1:1/nowhere".into())).await;
    assert!(error.starts_with("database unreachable at postgres://postgres@127.0.0.1:1/nowhere"), "{error}");
}

#[tokio::test]
async fn an_unreachable_broker_is_named_at_start() {
    let error = start_error(|s| s.kafka_brokers = Some("127.0.0.1:1".into())).await;
    assert!(error.starts_with("Kafka broker unreachable at 127.0.0.1:1"), "{error}");
}

#[tokio::test]
async fn an_unreachable_openid_provider_is_named_at_start() {
    let error = start_error(|s| s.oidc_issuer_url = Some("http://127.0.0.1:1".into())).await;
    assert!(error.starts_with("OpenID provider unreachable at http://127.0.0.1:1"), "{error}");
}
