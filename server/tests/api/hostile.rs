//! Hostile traffic: no single request, record, visit or client can stop the pipeline. Every test ends by
//! sending one ordinary event from another visit and asserting that it is stored.

use crate::helpers::{
    free_port,
    shopper::{set_cookie, visit_of, FIREFOX, SUCCEEDS},
    test_settings, TestApp,
};
use rdkafka::producer::{FutureProducer, FutureRecord};
use reqwest::StatusCode;
use std::time::Duration;

/// An app with a worker that is already storing (one event in and out), so what follows measures the pipeline,
/// not the first group join.
async fn app_with_a_storing_worker() -> TestApp {
    let app = TestApp::builder().with_worker().spawn().await;
    app.an_ordinary_event_is_stored_within(Duration::from_secs(30)).await;
    app
}

#[tokio::test]
async fn the_nul_event_is_refused_naming_the_field_and_the_next_event_is_stored_within_5_s() {
    let app = app_with_a_storing_worker().await;
    app.visit().await;
    // The request from the issue, byte for byte.
    let nul = r#"{"v":1,"events":[{"type":"page_view","path":"/a\u0000b","client_ts":1796132500000,"id":"0123456789abcdef0123456789abcdef"}]}"#;
    let response = app.post_events(nul).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.unwrap();
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("path contains the control character U+0000"), "{error}");

    let elapsed = app.an_ordinary_event_is_stored_within(Duration::from_secs(5)).await;
    assert!(elapsed <= Duration::from_secs(5));
    let bad = format!("{}clickstream.bad.v1", app.settings.kafka.topic_prefix);
    let records =
        cartograph::kafka::read_topic(&app.settings.kafka.connection(), &bad, Duration::from_secs(15)).await.unwrap();
    assert!(
        records.iter().any(|r| r.payload.contains("U+0000")),
        "the refused event is in the bad topic with its reason"
    );
    assert_eq!(app.count("SELECT count(*) FROM clickstream_events WHERE path LIKE '/a%b'").await, 0);
}

/// Records no endpoint would produce — a NUL PostgreSQL refuses, bytes that are not JSON, a schema the worker
/// cannot read, an over-long value — sent straight to the topic under the same key (so the same partition) as the
/// ordinary event behind them.
#[tokio::test]
async fn poison_records_in_the_topic_are_set_aside_with_their_bytes_and_the_partition_moves_on() {
    let app = app_with_a_storing_worker().await;
    let visit = app.visit().await;
    let record = |path: &str, version: u16, id: &str| {
        serde_json::json!({
            "schema_version": version, "event_id": uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, id.as_bytes()),
            "visit_id": visit, "user_id": null, "received_at": "2026-12-01T10:00:00Z", "client_ts": null, "seq": 0,
            "user_agent": FIREFOX, "bot": false, "path": path, "type": "page_view", "referrer": null, "title": "x"
        })
        .to_string()
        .into_bytes()
    };
    let poison: Vec<(&str, Vec<u8>)> = vec![
        ("rejected by the database", record("/nul\u{0}", 1, "p1")),
        ("undecodable record", b"\xff\x00 not json at all".to_vec()),
        ("unsupported schema version 9", record("/v9", 9, "p2")),
        // Valid for `text`, refused by `jsonb` (SQLSTATE 22P05): only the payload column holds the title.
        (
            "rejected by the database",
            String::from_utf8(record("/nul-title", 1, "p3"))
                .unwrap()
                .replace(r#""title":"x""#, r#""title":"\u0000""#)
                .into_bytes(),
        ),
    ];
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", app.settings.kafka.brokers())
        .set("message.max.bytes", "10000000")
        .create()
        .unwrap();
    let topic = format!("{}clickstream.v1", app.settings.kafka.topic_prefix);
    let mut sent = Vec::new();
    for (_, payload) in &poison {
        let delivered = producer
            .send(FutureRecord::to(&topic).key(&visit).payload(payload), Duration::from_secs(10))
            .await
            .map_err(|(error, _)| error)
            .unwrap();
        sent.push(delivered);
    }
    // The ordinary event of the same visit, behind the poison in the same partition.
    let behind =
        r#"{"v":1,"events":[{"type":"page_view","path":"/behind-the-poison","referrer":null,"title":"x","id":"b1"}]}"#;
    let response = app.post_events(behind).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let query = "SELECT count(*) FROM clickstream_events WHERE path = '/behind-the-poison'";
    assert_eq!(app.wait_for_count_within(query, 1, Duration::from_secs(10)).await, 1, "the partition moved on");

    let rejects: Vec<(String, Vec<u8>, String)> =
        sqlx::query_as("SELECT reason, raw, payload FROM clickstream_rejects ORDER BY kafka_offset")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(rejects.len(), poison.len(), "{:?}", rejects.iter().map(|r| &r.0).collect::<Vec<_>>());
    for ((reason, raw, readable), (expected, payload)) in rejects.iter().zip(&poison) {
        assert!(reason.contains(expected), "{reason} should say {expected}");
        assert_eq!(raw, payload, "the raw bytes are kept as delivered");
        assert!(!readable.contains('\0'));
    }
    assert_eq!(rejects[1].2, "\u{fffd}\\u{0} not json at all", "the readable copy escapes the raw NUL byte");
    app.an_ordinary_event_is_stored_within(Duration::from_secs(5)).await;
}

/// A failure that is not the record's (here: the table is briefly missing) is retried, never skipped; the
/// worker's `/readyz` names the failing consumer while it lasts, and `/metrics` counts the retries.
#[tokio::test]
async fn a_transient_storage_failure_is_retried_reported_and_loses_nothing() {
    let port = free_port();
    let app = TestApp::builder()
        .with_settings(|settings| settings.telemetry.worker_metrics_addr = format!("127.0.0.1:{port}"))
        .spawn()
        .await;
    sqlx::query("ALTER TABLE clickstream_events RENAME TO clickstream_events_away").execute(&app.pool).await.unwrap();
    app.spawn_worker();
    app.client.get(app.url("/")).send().await.unwrap();
    let response =
        app.post_events(r#"{"v":1,"events":[{"type":"page_view","path":"/during-the-outage","id":"o1"}]}"#).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    let readyz = format!("http://127.0.0.1:{port}/readyz");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let unready = loop {
        let response = reqwest::get(&readyz).await;
        if let Ok(response) = response {
            if response.status() == StatusCode::SERVICE_UNAVAILABLE {
                break response.json::<serde_json::Value>().await.unwrap();
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "the worker never reported the failing writes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(unready["failing"], serde_json::json!(["clickstream"]));
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"cartograph_worker_storage_retries_total{consumer="clickstream"}"#), "{metrics}");
    assert_eq!(app.count("SELECT count(*) FROM clickstream_rejects").await, 0, "nothing was set aside");

    sqlx::query("ALTER TABLE clickstream_events_away RENAME TO clickstream_events").execute(&app.pool).await.unwrap();
    let query = "SELECT count(*) FROM clickstream_events WHERE path = '/during-the-outage'";
    assert_eq!(
        app.wait_for_count_within(query, 1, Duration::from_secs(20)).await,
        1,
        "the event waited, and is stored"
    );
    let ready = reqwest::get(&readyz).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    app.an_ordinary_event_is_stored_within(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_thousand_batches_without_a_visit_cookie_create_no_visit_and_store_nothing() {
    let app = app_with_a_storing_worker().await;
    let visits_before = app.count("SELECT count(*) FROM visits").await;
    let cookieless = reqwest::Client::new();
    let body = r#"{"v":1,"events":[{"type":"page_view","path":"/","referrer":null,"title":"x"}]}"#;
    let mut statuses = std::collections::BTreeMap::new();
    let started = std::time::Instant::now();
    for _ in 0..1_000 {
        let response =
            cookieless.post(app.url("/api/events")).header("user-agent", FIREFOX).body(body).send().await.unwrap();
        assert!(response.headers().get("set-cookie").is_none(), "no visit is handed out by the endpoint");
        *statuses.entry(response.status().as_u16()).or_insert(0) += 1;
    }
    println!("1,000 cookie-less batches answered in {} ms: {statuses:?}", started.elapsed().as_millis());
    assert_eq!(statuses, [(400, 1_000)].into_iter().collect());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app.count("SELECT count(*) FROM visits").await, visits_before, "no visit was created");
    assert_eq!(app.count("SELECT count(*) FROM clickstream_events WHERE path = '/'").await, 0);
    app.an_ordinary_event_is_stored_within(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_forged_visit_cookie_is_refused_and_a_page_load_replaces_it() {
    let app = app_with_a_storing_worker().await;
    let real = app.client.get(app.url("/")).send().await.unwrap();
    let signed = set_cookie(&real, "cg_visit").unwrap().split(['=', ';']).nth(1).unwrap().to_string();
    let chosen = uuid::Uuid::new_v4();
    let (_, rest) = signed.split_once('.').unwrap();
    let forgeries = [
        chosen.to_string(),                             // a bare id, as the cookie held before it was signed
        format!("{chosen}.{rest}"),                     // another visit under a real signature
        format!("{}.-.AAAAAAAAAAAAAAAAAAAAAA", chosen), // a made-up signature
    ];
    let body = r#"{"v":1,"events":[{"type":"page_view","path":"/forged","referrer":null,"title":"x","id":"f1"}]}"#;
    for forged in &forgeries {
        let client = reqwest::Client::new();
        let cookie = format!("cg_visit={forged}");
        let response = client.post(app.url("/api/events")).header("cookie", &cookie).body(body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{forged}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert!(error["error"].as_str().unwrap().contains("no visit"), "{error}");
        let page = client.get(app.url("/")).header("cookie", &cookie).send().await.unwrap();
        let issued = visit_of(&page).expect("a page load issues a signed visit");
        assert_ne!(issued, chosen.to_string(), "the client never chooses its visit");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app.count(&format!("SELECT count(*) FROM visits WHERE visit_id = '{chosen}'")).await, 0);
    assert_eq!(app.count("SELECT count(*) FROM clickstream_events WHERE path = '/forged'").await, 0);
    app.an_ordinary_event_is_stored_within(Duration::from_secs(5)).await;
}

/// The shared-device case: the shopper's session ends without a sign-out, and someone else signs in on the
/// same browser. Their journeys never mix.
#[tokio::test]
async fn a_new_visit_starts_when_the_session_ends_or_the_user_changes() {
    let app = app_with_a_storing_worker().await;
    let anonymous = app.visit().await;
    app.sign_in("shopper", "/").await;
    let home = app.client.get(app.url("/")).send().await.unwrap();
    let signed_in = visit_of(&home).unwrap();
    assert_eq!(signed_in, anonymous, "signing in continues the visit");
    let visit_cookie = set_cookie(&home, "cg_visit").unwrap().split(';').next().unwrap().to_string();

    // The same browser with only its visit cookie left: the session ended.
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    jar.add_cookie_str(&visit_cookie, &app.address.parse().unwrap());
    let shared = TestApp::with_client(
        &app,
        reqwest::Client::builder().cookie_provider(jar).redirect(reqwest::redirect::Policy::none()).build().unwrap(),
    );
    let after_session = shared.visit().await;
    assert_ne!(after_session, signed_in, "the session ended: a new visit");
    shared.sign_in("admin", "/").await;
    let home = shared.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(visit_of(&home).unwrap(), after_session, "the admin's sign-in continues the new, anonymous visit");
    let response =
        shared.post_events(r#"{"v":1,"events":[{"type":"page_view","path":"/orders","id":"bleed1"}]}"#).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    app.wait_for_count("SELECT count(*) FROM clickstream_events WHERE path = '/orders'", 1).await;
    let (event_visit,): (uuid::Uuid,) =
        sqlx::query_as("SELECT visit_id FROM clickstream_events WHERE path = '/orders'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(event_visit.to_string(), after_session, "the admin's page view is not in the shopper's visit");
    let owners: Vec<(uuid::Uuid, String)> = sqlx::query_as(
        "SELECT vu.visit_id, u.name FROM visit_users vu JOIN users u ON u.id = vu.user_id ORDER BY u.name",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let owner_of = |visit: &str| owners.iter().find(|(v, _)| v.to_string() == visit).map(|(_, name)| name.clone());
    assert_eq!(owner_of(&signed_in).as_deref(), Some("Sam Shopper"));
    assert_eq!(owner_of(&after_session).as_deref(), Some("Ada Admin"));
    app.an_ordinary_event_is_stored_within(Duration::from_secs(5)).await;
}

/// 6,000 events for one visit: 5,000 are stored, the rest are set aside with `visit_full`, the endpoint tells
/// the tracker to stop, and other visits go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_holds_at_most_its_cap_and_the_tracker_is_told_to_stop() {
    let mut settings = test_settings().await;
    settings.collect.rate_per_visit = 1_000.0;
    settings.collect.rate_per_ip = 1_000.0;
    let cap = settings.visits.max_events.get();
    assert_eq!(cap, 5_000, "the default cap");
    let app = TestApp::builder().with_test_settings(settings).with_worker().spawn().await;
    let visit = app.visit().await;
    let started = std::time::Instant::now();
    for batch in 0..60 {
        let events: Vec<String> = (0..100)
            .map(|i| {
                format!(
                    r#"{{"type":"page_view","path":"/p/{batch}/{i}","referrer":null,"title":"t","id":"e{batch}-{i}"}}"#
                )
            })
            .collect();
        let response = app.post_events(&format!(r#"{{"v":1,"events":[{}]}}"#, events.join(","))).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let query = format!("SELECT count(*) FROM clickstream_events WHERE visit_id = '{visit}'");
    assert_eq!(app.wait_for_count_within(&query, 5_000, Duration::from_secs(120)).await, 5_000);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app.count(&query).await, 5_000, "never more than the cap");
    println!("6,000 events for one visit: 5,000 stored in {} ms", started.elapsed().as_millis());
    let summary = app.count(&format!("SELECT events::bigint FROM visits WHERE visit_id = '{visit}'")).await;
    assert_eq!(summary, 5_000);

    // Once the worker has the visit full, the endpoint says so and takes nothing more.
    let response = app.post_events(r#"{"v":1,"events":[{"type":"page_view","path":"/one-more","id":"late"}]}"#).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["visit_full"], true, "{body}");
    assert_eq!(body["accepted"], 0, "{body}");
    assert_eq!(body["rejected"], serde_json::json!(["visit_full"]));
    // What the endpoint let through before the worker caught up is set aside by the worker, never stored.
    let bad = format!("{}clickstream.bad.v1", app.settings.kafka.topic_prefix);
    let diverted = cartograph::kafka::read_topic(&app.settings.kafka.connection(), &bad, Duration::from_secs(15))
        .await
        .unwrap()
        .iter()
        .filter(|r| r.payload.contains(r#""reason":"visit_full""#))
        .count() as i64;
    let set_aside_query = "SELECT count(*) FROM clickstream_rejects WHERE reason LIKE 'visit_full%'";
    let set_aside = app.wait_for_count_within(set_aside_query, 1_001 - diverted, Duration::from_secs(60)).await;
    println!("past the cap: {diverted} diverted by the endpoint, {set_aside} set aside by the worker");
    assert_eq!(
        set_aside + diverted,
        1_000 + 1,
        "every event past the cap is accounted for: {set_aside} by the worker, {diverted} by the endpoint"
    );
    app.an_ordinary_event_is_stored_within(Duration::from_secs(10)).await;
}

/// A browser's `checkout_begin` and `payment_result` cannot make a visit look like a purchase; the server
/// records the real ones at checkout and payment, under the shopper's visit.
#[tokio::test]
async fn purchases_are_recorded_by_the_server_and_cannot_be_claimed_by_the_browser() {
    let app = app_with_a_storing_worker().await;
    let visit = app.visit().await;
    let order = uuid::Uuid::new_v4();
    let forged = format!(
        r#"{{"v":1,"events":[{{"type":"payment_result","path":"/orders/x","order_id":"{order}","outcome":"succeeded","id":"forged-pay"}},
                             {{"type":"checkout_begin","path":"/checkout","order_id":"{order}","id":"forged-checkout"}}]}}"#
    );
    let response = app.post_events(&forged).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("recorded by the server"), "{body}");

    app.sign_in("shopper", "/").await;
    assert_eq!(app.add_to_cart(1, 1).await.status(), 200);
    let checkout = app.checkout().await;
    assert_eq!(checkout.status(), 200);
    let order_id: uuid::Uuid = checkout.json().await.unwrap();
    let key = uuid::Uuid::new_v4().to_string();
    let order = order_id.to_string();
    assert_eq!(app.pay(&order, SUCCEEDS, &key).await.status(), 200);
    assert_eq!(app.pay(&order, SUCCEEDS, &key).await.status(), 200, "a replayed payment");

    let query = format!(
        "SELECT count(*) FROM clickstream_events WHERE visit_id = '{visit}' AND payload->>'origin' = 'server' \
         AND event_type IN ('checkout_begin', 'payment_result')"
    );
    assert_eq!(app.wait_for_count(&query, 2).await, 2, "checkout and one payment, recorded by the server");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.count(&query).await, 2, "the replayed payment is stored once");
    let paid =
        app.count(&format!("SELECT count(*) FROM visits WHERE visit_id = '{visit}' AND paid AND checkouts = 1")).await;
    assert_eq!(paid, 1, "the visit's summary shows the real purchase");
    app.an_ordinary_event_is_stored_within(Duration::from_secs(5)).await;
}

/// The catalog consumer sets aside what it cannot decode, and the outbox relay marks a row the broker refuses
/// for good and publishes the rows behind it.
#[tokio::test]
async fn the_catalog_consumer_and_the_outbox_relay_move_past_poison() {
    let app = app_with_a_storing_worker().await;
    let topic = format!("{}catalog.v1", app.settings.kafka.topic_prefix);
    let producer: FutureProducer =
        rdkafka::ClientConfig::new().set("bootstrap.servers", app.settings.kafka.brokers()).create().unwrap();
    producer
        .send(
            FutureRecord::to(&topic).key("1").payload(&b"{\"schema_version\":1,\"nonsense\":\x00}"[..]),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(error, _)| error)
        .unwrap();
    // An outbox row larger than any message the broker takes, then an ordinary one behind it.
    let huge = serde_json::json!({ "padding": "x".repeat(2_000_000) });
    sqlx::query("INSERT INTO catalog_outbox (event_id, product_id, payload) VALUES ($1, 1, $2)")
        .bind(uuid::Uuid::new_v4())
        .bind(&huge)
        .execute(&app.pool)
        .await
        .unwrap();
    app.sign_in("admin", "/").await;
    let form = [
        ("form[id]", "0"),
        ("form[name]", "Behind The Poison"),
        ("form[slug]", ""),
        ("form[description]", "Made for the test."),
        ("form[category_slug]", "trail-camp"),
        ("form[price]", "9.00"),
        ("form[stock]", "3"),
        ("form[stock_was]", "0"),
    ];
    assert_eq!(app.call("admin/save_product", &form).await.status(), StatusCode::OK);

    let failed = "SELECT count(*) FROM catalog_outbox WHERE failed_at IS NOT NULL AND error LIKE '%too large%'";
    assert_eq!(app.wait_for_count(failed, 1).await, 1, "the oversized row is marked failed");
    let published = "SELECT count(*) FROM catalog_outbox WHERE published_at IS NOT NULL";
    assert_eq!(app.wait_for_count(published, 1).await, 1, "the row behind it is published");
    let notified = "SELECT count(*) FROM notifications WHERE kind = 'catalog_change'";
    assert!(app.wait_for_count(notified, 1).await >= 1, "and turned into notifications");
    let set_aside = format!(
        "SELECT count(*) FROM clickstream_rejects WHERE topic = '{topic}' AND reason LIKE 'undecodable catalog event%'"
    );
    assert_eq!(app.wait_for_count(&set_aside, 1).await, 1);
    app.an_ordinary_event_is_stored_within(Duration::from_secs(5)).await;
}

/// Past its concurrency limit the endpoint answers 503 at once with `Retry-After` instead of queueing: here the
/// only permit is held by a batch waiting for a broker that is gone.
#[tokio::test]
async fn the_endpoint_sheds_batches_past_its_concurrency_limit() {
    let app = TestApp::builder()
        .with_private_broker()
        .with_settings(|settings| {
            settings.collect.max_concurrency = std::num::NonZeroUsize::new(1).unwrap();
            settings.collect.broker_breaker_failures = std::num::NonZeroU32::new(1_000).unwrap();
        })
        .spawn()
        .await;
    app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(
        app.post_events(r#"{"v":1,"events":[{"type":"page_view","path":"/before","id":"c0"}]}"#).await.status(),
        StatusCode::ACCEPTED
    );
    app.broker().kill();
    let (client, url) = (app.client.clone(), app.url("/api/events"));
    let waiting = tokio::spawn(async move {
        client
            .post(url)
            .body(r#"{"v":1,"events":[{"type":"page_view","path":"/held","id":"c1"}]}"#)
            .send()
            .await
            .unwrap()
            .status()
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let started = std::time::Instant::now();
    let shed = app.post_events(r#"{"v":1,"events":[{"type":"page_view","path":"/shed","id":"c2"}]}"#).await;
    let answered_in = started.elapsed();
    assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(shed.headers()["retry-after"], "1");
    let body: serde_json::Value = shed.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("in progress"), "{body}");
    assert!(answered_in < Duration::from_secs(2), "shed at once, not queued: {answered_in:?}");
    assert_eq!(waiting.await.unwrap(), StatusCode::SERVICE_UNAVAILABLE, "the held batch times out on the dead broker");

    app.broker().restart();
    app.spawn_worker();
    app.an_ordinary_event_is_stored_within(Duration::from_secs(30)).await;
}
