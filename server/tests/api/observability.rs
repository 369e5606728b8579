//! `/metrics` on the web listener and on the worker's own listener.

use crate::helpers::{free_port, shopper::SUCCEEDS, spawn_app, TestApp};
use cartograph::journey::closer::{close_due_visits, ClosingRules};
use std::time::Duration;

/// The value of the first series whose name and labels start with `series` (e.g. `name{route="/"`).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|line| line.starts_with(series)).find_map(|line| line.rsplit(' ').next()?.parse().ok())
}

fn assert_positive(text: &str, series: &str) {
    let found = value(text, series);
    assert!(found.is_some_and(|v| v > 0.0), "{series} should be positive, found {found:?} in:\n{text}");
}

#[tokio::test]
async fn metrics_count_requests_by_matched_route_events_and_payments() {
    let app = spawn_app().await;
    assert_eq!(app.client.get(app.url("/product/wool-beanie")).send().await.unwrap().status(), 200);
    assert_eq!(app.client.get(app.url("/no-such-page")).send().await.unwrap().status(), 404);
    let batch = r#"{"v":1,"events":[{"type":"page_view","path":"/","id":"m-1"},{"type":"page_view","path":"no-slash","id":"m-2"}]}"#;
    assert_eq!(app.client.post(app.url("/api/events")).body(batch).send().await.unwrap().status(), 202);
    let order = app.pending_order("wool-beanie", 1).await;
    assert_eq!(app.pay(&order, SUCCEEDS, "metrics-payment").await.status(), 200);

    // A scraper: no cookies, scraping more often than any page would be allowed to post events.
    let scraper = reqwest::Client::new();
    for _ in 0..3 {
        let response = scraper.get(app.internal_url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().get(reqwest::header::SET_COOKIE).is_none(), "no visit or session cookie");
    }
    let response = scraper.get(app.internal_url("/metrics")).send().await.unwrap();
    assert!(response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain"));
    let text = response.text().await.unwrap();

    assert_positive(&text, r#"cartograph_http_request_duration_seconds_count{route="/product/{slug}",status="2xx"}"#);
    assert_positive(&text, r#"cartograph_http_request_duration_seconds_count{route="/api/events",status="2xx"}"#);
    assert_positive(&text, r#"cartograph_http_request_duration_seconds_count{route="unmatched",status="4xx"}"#);
    assert!(!text.contains("wool-beanie") && !text.contains("no-such-page"), "raw paths never become labels");
    assert_positive(&text, "cartograph_clickstream_events_accepted_total");
    assert_positive(&text, r#"cartograph_clickstream_events_rejected_total{reason="invalid"}"#);
    assert_positive(&text, r#"cartograph_clickstream_batches_total{outcome="accepted"}"#);
    assert_positive(&text, r#"cartograph_payments_total{outcome="approved"}"#);
    assert!(value(&text, "cartograph_producer_queue_depth").is_some(), "{text}");
    // Other tests in this process share the recorder (and open breakers): only the series' presence is ours.
    assert!(value(&text, r#"cartograph_circuit_breaker_state{breaker="payments"}"#).is_some(), "{text}");
    assert!(text.contains("# HELP cartograph_http_request_duration_seconds"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_serves_consumer_lag_and_journey_renders_on_its_own_listener() {
    let port = free_port();
    let app = TestApp::builder()
        .with_settings(|settings| settings.telemetry.worker_metrics_addr = format!("127.0.0.1:{port}"))
        .with_worker()
        .spawn()
        .await;
    let group = app.settings.kafka.consumer_group.clone();
    let visit = app.visit().await;
    // Two events: a visit with fewer is closed without rendering a journey.
    let batch = r#"{"v":1,"events":[{"type":"page_view","path":"/","id":"w-1"},{"type":"page_view","path":"/cart","id":"w-2"}]}"#;
    assert_eq!(app.client.post(app.url("/api/events")).body(batch).send().await.unwrap().status(), 202);
    app.wait_for_count(&format!("SELECT count(*) FROM visits WHERE visit_id = '{visit}' AND events = 2"), 1).await;
    sqlx::query(&format!("UPDATE visits SET last_event_at = now() - interval '31 minutes' WHERE visit_id = '{visit}'"))
        .execute(&app.pool)
        .await
        .unwrap();
    let rules = ClosingRules {
        idle: Duration::from_secs(1800),
        sign_out_grace: Duration::from_secs(5),
        every: Duration::from_secs(1),
    };
    assert_eq!(close_due_visits(&app.pool, rules).await.unwrap(), 1, "the visit closes and its journey is rendered");

    // librdkafka reports statistics every 2 s; the lag gauge appears with the first report after assignment.
    let lag_series = format!(
        r#"cartograph_consumer_lag{{group="{group}",topic="{}clickstream.v1""#,
        app.settings.kafka.topic_prefix
    );
    let notifications_series = format!(r#"cartograph_consumer_lag{{group="{group}.notifications""#);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap().text().await.unwrap();
        let settled = value(&text, &lag_series) == Some(0.0) && text.contains(&notifications_series);
        if settled || tokio::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(value(&text, &lag_series), Some(0.0), "the stored event is committed: no lag\n{text}");
    assert!(text.contains(&notifications_series), "both consumer groups report\n{text}");
    assert_positive(&text, "cartograph_journey_pdfs_rendered_total");
    assert_positive(&text, "cartograph_journey_render_seconds_count");
}
