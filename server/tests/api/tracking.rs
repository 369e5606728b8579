//! Clickstream: the producer endpoint and the worker that stores what it produced.

use crate::helpers::{
    shopper::{set_cookie, FIREFOX},
    spawn_app, TestApp,
};

#[tokio::test]
async fn the_visit_cookie_is_http_only_and_same_site() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    let cookie = set_cookie(&response, "cg_visit").expect("a visit cookie").to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Max-Age=1800"), "{cookie}");
}

#[tokio::test]
async fn a_page_view_reaches_the_workers_table_under_the_cookie_visit() {
    let app = TestApp::builder().with_worker().spawn().await;
    let visit = app.visit().await;

    let batch = serde_json::json!({
        "v": 1,
        // A visit id in the body is ignored: the cookie decides.
        "visit_id": "00000000-0000-0000-0000-000000000000",
        "events": [
            { "type": "page_view", "path": "/", "referrer": null, "title": "Cartograph", "client_ts": 1_700_000_000_000i64 },
            { "type": "page_view", "path": "/?page=2", "referrer": "/", "title": "Cartograph" }
        ]
    });
    let response = app
        .client
        .post(app.url("/api/events"))
        .header("content-type", "text/plain;charset=UTF-8")
        .body(batch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["accepted"], 2);

    let stored =
        app.wait_for_count(&format!("SELECT count(*) FROM clickstream_events WHERE visit_id = '{visit}'"), 2).await;
    assert_eq!(stored, 2, "both page views are stored under the cookie's visit");
    let paths: Vec<String> = sqlx::query_scalar("SELECT path FROM clickstream_events ORDER BY received_at, seq")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(paths, ["/", "/?page=2"]);
}

#[tokio::test]
async fn a_malformed_batch_is_refused_with_its_reason() {
    let app = spawn_app().await;
    app.visit().await;
    let response = app.client.post(app.url("/api/events")).body("{not json").send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("not JSON"));
}

#[tokio::test]
async fn a_batch_over_64_kib_is_refused() {
    let app = spawn_app().await;
    app.visit().await;
    let response = app.client.post(app.url("/api/events")).body(vec![b' '; 65 * 1024]).send().await.unwrap();
    assert_eq!(response.status(), 413);
}

async fn topic_records(app: &TestApp, topic: &str) -> Vec<cartograph::kafka::StoredRecord> {
    let topic = format!("{}{topic}", app.settings.kafka.topic_prefix);
    cartograph::kafka::read_topic(&app.settings.kafka.connection(), &topic, std::time::Duration::from_secs(15))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_batch_reaches_the_topic_keyed_by_visit_with_its_ids_in_order() {
    let app = spawn_app().await;
    let visit = app.visit().await;
    let batch = r#"{"v":1,"events":[
        {"type":"page_view","path":"/","referrer":null,"title":"Home","id":"e1"},
        {"type":"search","path":"/products?q=tent","query":"tent","results":3,"id":"e2"},
        {"type":"cart_add","path":"/product/ridgeline-2-tent","product_id":1,"quantity":1,"id":"e3"}]}"#;
    let response = app.post_events(batch).await;
    assert_eq!(response.status(), 202);
    let body: serde_json::Value = response.json().await.unwrap();
    let ids: Vec<String> = body["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 3);

    let mut records = topic_records(&app, "clickstream.v1").await;
    records.sort_by_key(|r| (r.partition, r.offset));
    assert!(records.iter().all(|r| r.key.as_deref() == Some(visit.as_str())), "keyed by the cookie's visit");
    let values: Vec<serde_json::Value> = records.iter().map(|r| serde_json::from_str(&r.payload).unwrap()).collect();
    let stored_ids: Vec<&str> = values.iter().map(|v| v["event_id"].as_str().unwrap()).collect();
    assert_eq!(stored_ids, ids.iter().map(String::as_str).collect::<Vec<_>>(), "same ids, same order");
    let types: Vec<&str> = values.iter().map(|v| v["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["page_view", "search", "cart_add"]);
    assert_eq!(values[0]["schema_version"], app::tracking::schema::SCHEMA_VERSION);
    assert_eq!(values[0]["bot"], false);
}

#[tokio::test]
async fn rejected_events_land_in_the_bad_topic_with_their_reason() {
    let app = spawn_app().await;
    app.visit().await;
    let batch = r#"{"v":1,"events":[{"type":"page_view","path":"/"},{"type":"cart_add","path":"/","product_id":1,"quantity":-5}]}"#;
    let response = app.post_events(batch).await;
    assert_eq!(response.status(), 202);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["accepted"], 1);
    assert!(body["rejected"][0].as_str().unwrap().contains("quantity"));
    app.post_events("not even json").await;
    let bad = topic_records(&app, "clickstream.bad.v1").await;
    let reasons: Vec<String> = bad
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.payload).unwrap()["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("quantity must be 1 to 99")));
    assert!(reasons.iter().any(|r| r.contains("not JSON")));
}

#[tokio::test]
async fn a_retried_batch_is_stored_once() {
    let app = TestApp::builder().with_worker().spawn().await;
    let visit = app.visit().await;
    let batch = r#"{"v":1,"events":[{"type":"page_view","path":"/retry","id":"retry-1"}]}"#;
    let first: serde_json::Value = app.post_events(batch).await.json().await.unwrap();
    let second: serde_json::Value = app.post_events(batch).await.json().await.unwrap();
    assert_eq!(first["ids"], second["ids"], "the tracker's id makes the server id stable");
    let query = format!("SELECT count(*) FROM clickstream_events WHERE visit_id = '{visit}'");
    assert_eq!(app.wait_for_count(&query, 1).await, 1);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(app.wait_for_count(&query, 2).await, 1, "the duplicate delivery changed nothing");
}

#[tokio::test]
async fn bots_are_flagged_not_dropped() {
    let app = spawn_app().await;
    app.visit().await;
    let response = app.post_events_as(r#"{"v":1,"events":[{"type":"page_view","path":"/"}]}"#, "curl/8.5.0").await;
    assert_eq!(response.status(), 202);
    let records = topic_records(&app, "clickstream.v1").await;
    let value: serde_json::Value = serde_json::from_str(&records[0].payload).unwrap();
    assert_eq!(value["bot"], true);
}

#[tokio::test]
async fn a_flood_from_one_visit_is_rate_limited_with_retry_after() {
    let app = TestApp::builder()
        .with_settings(|settings| {
            // A burst of one batch, then one every ten seconds: timing-proof under a loaded test run.
            settings.collect.rate_per_visit = 0.1;
        })
        .spawn()
        .await;
    app.visit().await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let response = app.post_events("{}").await;
        statuses.push((response.status().as_u16(), response.headers().get("retry-after").is_some()));
    }
    assert_eq!(statuses[0].0, 400, "the first (malformed) batch is read: {statuses:?}");
    assert!(statuses[1..].iter().all(|(status, retry)| *status == 429 && *retry), "{statuses:?}");
}

#[tokio::test]
async fn no_byte_string_gets_a_server_error_and_the_pipeline_still_stores() {
    let app = TestApp::builder().with_worker().spawn().await;
    app.visit().await;
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for round in 0..40 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 300) as usize;
        let body: Vec<u8> = (0..len).map(|i| (seed.rotate_left(i as u32 % 64) as u8) ^ (round as u8)).collect();
        let response = app.client.post(app.url("/api/events")).body(body).send().await.unwrap();
        assert!(response.status().is_client_error() || response.status() == 202, "{}", response.status());
    }
    app.an_ordinary_event_is_stored_within(std::time::Duration::from_secs(10)).await;
}

/// The review's M2: behind a proxy that appends to `X-Forwarded-For`, the leftmost entries are the client's own
/// claims. Only the rightmost address no trusted proxy vouches for is the client, and IPv6 counts per /64.
#[tokio::test]
async fn behind_a_trusted_proxy_a_spoofed_forwarded_entry_buys_no_new_rate_limit_bucket() {
    let app = TestApp::builder()
        .with_settings(|settings| {
            // One batch per address, then one every ten seconds.
            settings.collect.rate_per_ip = 0.1;
            settings.collect.trusted_proxies = "127.0.0.1".parse().unwrap();
        })
        .with_worker()
        .spawn()
        .await;
    app.visit().await;
    let post_as = |forwarded: &'static str| {
        let app = &app;
        async move {
            let batch = format!(
                r#"{{"v":1,"events":[{{"type":"page_view","path":"/from/{}","id":"{}"}}]}}"#,
                forwarded.len(),
                uuid::Uuid::new_v4()
            );
            let response = app
                .client
                .post(app.url("/api/events"))
                .header("content-type", "text/plain;charset=UTF-8")
                .header("user-agent", FIREFOX)
                .header("x-forwarded-for", forwarded)
                .body(batch)
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        }
    };
    assert_eq!(post_as("203.0.113.7").await, 202);
    assert_eq!(post_as("198.51.100.99, 203.0.113.7").await, 429, "a made-up left entry is the same client");
    assert_eq!(post_as("2001:db8:1:2::1").await, 202);
    assert_eq!(post_as("2001:db8:1:2:ffff::9").await, 429, "the same /64 is the same client");
    assert_eq!(post_as("203.0.113.8").await, 202, "another client has its own bucket");
    app.an_ordinary_event_is_stored_within(std::time::Duration::from_secs(10)).await;
}
