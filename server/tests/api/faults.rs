//! Fault tests: a worker process killed with `kill -9` in the middle of its work, and the database restarted under
//! a running app. The promises checked: no accepted event lost or counted twice; requests fail fast with 503 while
//! the database is away, and the app recovers by itself when it returns.

use crate::helpers::{worker_process::WorkerProcess, TestApp};
use reqwest::StatusCode;
use std::time::{Duration, Instant};

/// A `cartograph worker` process, killed with SIGKILL part-way through a batch; a worker task aborted in this
/// process is `journeys::an_aborted_worker_task_mid_stream_loses_and_duplicates_nothing`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_worker_process_mid_batch_loses_and_duplicates_nothing() {
    let app = TestApp::builder()
        .with_settings(|settings| {
            settings.collect.rate_per_visit = 10_000.0;
            settings.collect.rate_per_ip = 10_000.0;
        })
        .spawn()
        .await;
    app.client.get(app.url("/")).send().await.unwrap();

    // Every accepted event, by id: 4,000 of them in batches of 50, all sent before any worker runs.
    let mut accepted = Vec::new();
    for batch in 0..80 {
        let events: Vec<String> = (0..50)
            .map(|i| format!(r#"{{"type":"page_view","path":"/kill/{batch}/{i}","id":"ev-{batch}-{i}"}}"#))
            .collect();
        let body = format!(r#"{{"v":1,"events":[{}]}}"#, events.join(","));
        let response = app.client.post(app.url("/api/events")).body(body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let ids: serde_json::Value = response.json().await.unwrap();
        accepted.extend(ids["ids"].as_array().unwrap().iter().map(|id| id.as_str().unwrap().to_string()));
    }
    let total = accepted.len() as i64;
    assert_eq!(total, 4_000);

    let log = std::env::temp_dir().join(format!("cartograph-worker-{}.log", uuid::Uuid::new_v4().simple()));
    let mut first = WorkerProcess::start(&app.settings, &log);
    let deadline = Instant::now() + Duration::from_secs(60);
    let stored_at_kill = loop {
        let stored = app.count("SELECT count(*) FROM clickstream_events").await;
        if stored > 0 {
            first.kill_hard();
            break app.count("SELECT count(*) FROM clickstream_events").await;
        }
        assert!(Instant::now() < deadline, "the worker stored nothing in 60 s; log: {}", log.display());
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(stored_at_kill < total, "the worker was killed after it had finished ({stored_at_kill} stored)");

    // A replacement resumes from the last committed offsets: some events are delivered again.
    let _second = WorkerProcess::start(&app.settings, &log);
    let stored =
        app.wait_for_count_within("SELECT count(*) FROM clickstream_events", total, Duration::from_secs(150)).await;
    assert_eq!(stored, total, "every accepted event is stored; log: {}", log.display());

    let ids: Vec<String> =
        sqlx::query_scalar("SELECT event_id::text FROM clickstream_events").fetch_all(&app.pool).await.unwrap();
    let stored_ids: std::collections::HashSet<String> = ids.into_iter().collect();
    let expected: std::collections::HashSet<String> = accepted.into_iter().collect();
    assert_eq!(stored_ids, expected, "exactly the accepted events");
    // A redelivered event must not be counted twice in its visit's summary.
    let summarised = app.count("SELECT coalesce(sum(events), 0)::bigint FROM visits").await;
    assert_eq!(summarised, total, "each event counted once in the visit summaries");
    println!("worker kill -9: {stored_at_kill} of {total} events stored at the kill; all {total} after the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_fails_fast_with_503_and_recovers_without_an_app_restart() {
    let app = TestApp::builder()
        .with_private_postgres()
        .with_settings(|settings| settings.database.acquire_timeout = Duration::from_millis(1000))
        .spawn()
        .await;
    let (pen, _, _) = app.product("brass-fountain-pen").await;
    assert_eq!(app.client.get(app.url("/")).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.add_to_cart(pen, 1).await.status(), StatusCode::OK);

    app.postgres().stop_immediately();
    // The home page needs nothing but the catalog cache: it is still served, without a cart count it cannot read.
    let home = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK, "the home page from the catalog cache");
    let home = home.text().await.unwrap();
    assert!(home.contains("product-tile") && !home.contains("cart-count"), "no count rather than a wrong one");
    for (what, request) in [
        ("a search", app.client.get(app.url("/products?q=pen"))),
        ("a product page (its stock is read live)", app.client.get(app.url("/product/brass-fountain-pen"))),
        (
            "a server function",
            app.client
                .post(app.url("/api/cart_add"))
                .form(&[("product_id", pen.to_string()), ("quantity", "1".into())]),
        ),
        ("readiness", app.client.get(app.url("/readyz"))),
    ] {
        let started = Instant::now();
        let response = request.send().await.unwrap();
        let took = started.elapsed();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{what} while the database is down");
        assert!(took < Duration::from_secs(5), "{what} failed fast: {took:?}");
    }

    app.postgres().start_server();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = app.client.get(app.url("/")).send().await.unwrap().status();
        if status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "the app did not recover within 30 s of the database's return: {status}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(app.client.get(app.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
    let cart = app.add_to_cart(pen, 1).await;
    assert_eq!(cart.status(), StatusCode::OK, "server functions work again");
    let cart: serde_json::Value = cart.json().await.unwrap();
    assert_eq!(cart["lines"][0]["quantity"], 2, "and the cart from before the outage is intact: {cart}");
}
