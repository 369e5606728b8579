//! Retention: rows past their limits go, in batches; fresh rows, open visits and the pipeline stay.

use crate::helpers::{shopper::FIREFOX, spawn_app, test_settings};
use cartograph::{
    db,
    retention::{apply_once, RetentionReport, RetentionRules},
};
use sqlx::PgPool;
use uuid::Uuid;

/// Rows of each kind past the default limits; with a batch of 2, every table takes three statements.
const OLD: i64 = 5;

/// Inserts `OLD` rows past each default limit (tagged `old`) and rows just inside it (tagged `fresh`).
async fn seed_rows(pool: &PgPool, tag: &str, age: &str) {
    let user = Uuid::new_v4();
    sqlx::query("INSERT INTO users (id, issuer, subject, name) VALUES ($1, 'retention-test', $1::text, 'Rita')")
        .bind(user)
        .execute(pool)
        .await
        .unwrap();
    let product: i64 = sqlx::query_scalar("SELECT id FROM products ORDER BY id LIMIT 1").fetch_one(pool).await.unwrap();
    // `age` picks the side of each limit: events 90 days, rejects 30, visits 180, carts 30, idempotency 7,
    // finished webhook deliveries 30.
    let (events, rejects, visits, carts, keys, sessions, hooks) = match age {
        "old" => ("91 days", "31 days", "181 days", "31 days", "8 days", "-1 minute", "31 days"),
        _ => ("89 days", "29 days", "179 days", "29 days", "6 days", "1 hour", "29 days"),
    };
    let statements = [
        format!(
            "INSERT INTO clickstream_events (event_id, visit_id, event_type, path, received_at, seq, payload)
             SELECT gen_random_uuid(), gen_random_uuid(), 'page_view', '/{tag}', now() - interval '{events}', g, '{{}}'
             FROM generate_series(1, {OLD}) g"
        ),
        format!(
            "INSERT INTO clickstream_rejects (topic, kafka_partition, kafka_offset, reason, payload, stored_at)
             SELECT '{tag}', 0, g, 'undecodable', 'x', now() - interval '{rejects}' FROM generate_series(1, {OLD}) g"
        ),
        format!(
            "INSERT INTO visits (visit_id, started_at, last_event_at, closed_at, user_agent)
             SELECT gen_random_uuid(), now() - interval '{visits}' - interval '1 hour', now() - interval '{visits}',
                    now() - interval '{visits}', '{tag}'
             FROM generate_series(1, {OLD})"
        ),
        format!(
            "INSERT INTO journey_pdfs (visit_id, pdf, event_count) SELECT visit_id, '\\x25504446', 1 FROM visits
             WHERE user_agent = '{tag}'"
        ),
        format!("INSERT INTO visit_users (visit_id, user_id) SELECT visit_id, '{user}' FROM visits WHERE user_agent = '{tag}'"),
        format!(
            "INSERT INTO orders (id, visit_id, shipping_name, updated_at)
             SELECT gen_random_uuid(), gen_random_uuid(), '{tag}', now() - interval '{carts}' FROM generate_series(1, {OLD})"
        ),
        format!(
            "INSERT INTO order_lines (order_id, product_id, variant_id, quantity, added_at)
             SELECT id, {product}, (SELECT min(id) FROM variants WHERE product_id = {product}), 1, now() - interval '{carts}'
             FROM orders WHERE shipping_name = '{tag}'"
        ),
        format!(
            "INSERT INTO idempotency (user_id, idempotency_key, created_at)
             SELECT '{user}', '{tag}-key-' || g, now() - interval '{keys}' FROM generate_series(1, {OLD}) g"
        ),
        format!(
            "INSERT INTO webhook_endpoints (id, url, events, secret)
             VALUES (gen_random_uuid(), 'https://{tag}.example.com/hook', '{{order.paid}}', 'whsec_{tag}_0123456789abcdefghijklmnopqrstuvwxyz')"
        ),
        // Delivered and given up alike; a waiting one as old as the oldest is kept.
        format!(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event, payload, state, finished_at, created_at)
             SELECT gen_random_uuid(), e.id, gen_random_uuid(), 'order.paid', '{{}}',
                    CASE WHEN g % 2 = 0 THEN 'delivered' ELSE 'failed' END,
                    now() - interval '{hooks}', now() - interval '{hooks}'
             FROM webhook_endpoints e, generate_series(1, {OLD}) g WHERE e.url LIKE 'https://{tag}.%'"
        ),
        format!(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event, payload, created_at)
             SELECT gen_random_uuid(), e.id, gen_random_uuid(), 'order.paid', '{{}}', now() - interval '400 days'
             FROM webhook_endpoints e WHERE e.url LIKE 'https://{tag}.%'"
        ),
        format!(
            "INSERT INTO webhook_attempts (delivery_id, status_code, latency_ms)
             SELECT d.id, 500, 3 FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
             WHERE e.url LIKE 'https://{tag}.%' AND d.state <> 'pending'"
        ),
        format!(
            "INSERT INTO tower_sessions.session (id, data, expiry_date)
             SELECT '{tag}-' || g, '\\x80', now() + interval '{sessions}' FROM generate_series(1, {OLD}) g"
        ),
    ];
    for statement in statements {
        sqlx::query(&statement).execute(pool).await.unwrap_or_else(|error| panic!("{statement}: {error}"));
    }
}

async fn count(pool: &PgPool, query: &str) -> i64 {
    sqlx::query_scalar(query).fetch_one(pool).await.unwrap_or_else(|error| panic!("{query}: {error}"))
}

/// Every kind of row tagged `tag`, by table.
async fn counts(pool: &PgPool, tag: &str) -> Vec<(&'static str, i64)> {
    let queries = [
        ("clickstream_events", format!("SELECT count(*) FROM clickstream_events WHERE path = '/{tag}'")),
        ("clickstream_rejects", format!("SELECT count(*) FROM clickstream_rejects WHERE topic = '{tag}'")),
        ("visits", format!("SELECT count(*) FROM visits WHERE user_agent = '{tag}'")),
        (
            "journey_pdfs",
            format!("SELECT count(*) FROM journey_pdfs p JOIN visits v USING (visit_id) WHERE v.user_agent = '{tag}'"),
        ),
        (
            "visit_users",
            format!("SELECT count(*) FROM visit_users u JOIN visits v USING (visit_id) WHERE v.user_agent = '{tag}'"),
        ),
        ("orders", format!("SELECT count(*) FROM orders WHERE shipping_name = '{tag}'")),
        (
            "order_lines",
            format!(
                "SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.shipping_name = '{tag}'"
            ),
        ),
        ("idempotency", format!("SELECT count(*) FROM idempotency WHERE idempotency_key LIKE '{tag}-key-%'")),
        ("sessions", format!("SELECT count(*) FROM tower_sessions.session WHERE id LIKE '{tag}-%'")),
        (
            "webhook_deliveries",
            format!(
                "SELECT count(*) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                 WHERE e.url LIKE 'https://{tag}.%' AND d.state <> 'pending'"
            ),
        ),
        (
            "webhook_attempts",
            format!(
                "SELECT count(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE e.url LIKE 'https://{tag}.%'"
            ),
        ),
    ];
    let mut counts = Vec::new();
    for (table, query) in queries {
        counts.push((table, count(pool, &query).await));
    }
    counts
}

#[tokio::test]
async fn retention_deletes_what_is_past_each_limit_in_batches_and_keeps_the_rest() {
    // The web process has started: the session table exists.
    let app = spawn_app().await;
    let pool = &app.pool;
    seed_rows(pool, "old", "old").await;
    seed_rows(pool, "fresh", "fresh").await;
    // Never deleted: an open visit from long ago, a signed-in shopper's old cart, and an old anonymous cart
    // that got a line yesterday.
    sqlx::query(
        "INSERT INTO visits (visit_id, started_at, last_event_at, user_agent)
         VALUES (gen_random_uuid(), now() - interval '400 days', now() - interval '400 days', 'open')",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO orders (id, user_id, shipping_name, updated_at)
         SELECT gen_random_uuid(), id, 'signed-in', now() - interval '400 days' FROM users LIMIT 1",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "WITH cart AS (INSERT INTO orders (id, visit_id, shipping_name, updated_at)
                       VALUES (gen_random_uuid(), gen_random_uuid(), 'busy', now() - interval '400 days') RETURNING id)
         INSERT INTO order_lines (order_id, product_id, variant_id, quantity, added_at)
         SELECT cart.id, v.product_id, v.id, 1, now() - interval '1 day'
         FROM cart, (SELECT id, product_id FROM variants ORDER BY product_id, id LIMIT 1) v",
    )
    .execute(pool)
    .await
    .unwrap();

    let rules = RetentionRules::from_settings(&app.settings.retention);
    let started = std::time::Instant::now();
    let report = apply_once(pool, &rules, 2).await.expect("retention applies");
    println!("one sweep of {} rows in batches of 2: {:?}", report.total(), started.elapsed());
    assert_eq!(
        report,
        RetentionReport {
            clickstream_events: OLD as u64,
            clickstream_rejects: OLD as u64,
            visits: OLD as u64,
            journey_pdfs: OLD as u64,
            visit_users: OLD as u64,
            anonymous_carts: OLD as u64,
            idempotency: OLD as u64,
            webhook_deliveries: OLD as u64,
            sessions: OLD as u64,
        }
    );
    for (table, left) in counts(pool, "old").await {
        assert_eq!(left, 0, "every old row of {table} is gone");
    }
    for (table, kept) in counts(pool, "fresh").await {
        assert_eq!(kept, OLD, "every fresh row of {table} is kept");
    }
    assert_eq!(count(pool, "SELECT count(*) FROM visits WHERE user_agent = 'open'").await, 1, "an open visit is kept");
    assert_eq!(count(pool, "SELECT count(*) FROM orders WHERE shipping_name IN ('signed-in', 'busy')").await, 2);
    let waiting = "SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'";
    assert_eq!(count(pool, waiting).await, 2, "a delivery still waiting is kept, however old");
    assert_eq!(apply_once(pool, &rules, 2).await.unwrap(), RetentionReport::default(), "a second sweep finds nothing");

    // The worker applies retention as it starts, and the pipeline still stores events afterwards.
    seed_rows(pool, "old", "old").await;
    app.spawn_worker();
    let swept = app
        .wait_for_count(
            "SELECT CASE WHEN count(*) = 0 THEN 1 ELSE 0 END::int8 FROM clickstream_events WHERE path = '/old'",
            1,
        )
        .await;
    assert_eq!(swept, 1, "the worker's first sweep deletes old events");
    let home = app.client.get(app.url("/")).header("user-agent", FIREFOX).send().await.unwrap();
    assert!(home.status().is_success(), "{}", home.status());
    let response = app
        .post_events(r#"{"v":1,"events":[{"type":"page_view","path":"/after-retention","referrer":null,"title":"x","id":"after1"}]}"#)
        .await;
    assert_eq!(response.status(), 202);
    let stored = app.wait_for_count("SELECT count(*) FROM clickstream_events WHERE path = '/after-retention'", 1).await;
    assert_eq!(stored, 1, "an ordinary event is stored after retention ran");
    let metrics = cartograph::prometheus::install().render();
    assert!(metrics.contains(r#"cartograph_retention_deleted_total{table="clickstream_events"}"#), "{metrics}");
}

#[tokio::test]
async fn retention_runs_before_any_web_process_created_the_session_table() {
    // Only the migrations ran, as when the worker starts first.
    let pool = db::prepare(&test_settings().await).await.expect("database ready");
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('tower_sessions.session') IS NOT NULL").fetch_one(&pool).await.unwrap();
    assert!(!exists);
    sqlx::query(
        "INSERT INTO clickstream_events (event_id, visit_id, event_type, path, received_at, seq, payload)
         VALUES (gen_random_uuid(), gen_random_uuid(), 'page_view', '/old', now() - interval '91 days', 1, '{}')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let report =
        apply_once(&pool, &RetentionRules::from_settings(&cartograph::config::Settings::default().retention), 2)
            .await
            .expect("no session table is not an error");
    assert_eq!(report, RetentionReport { clickstream_events: 1, ..Default::default() });
}

#[tokio::test]
async fn the_bad_topic_is_created_with_a_retention_limit() {
    use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
    let app = spawn_app().await;
    let topics = cartograph::kafka::Topics::new(&app.settings.kafka.topic_prefix);
    let admin: AdminClient<rdkafka::client::DefaultClientContext> =
        cartograph::kafka::client_config(&app.settings.kafka.connection()).create().unwrap();
    let described = admin
        .describe_configs([&ResourceSpecifier::Topic(&topics.clickstream_bad)], &AdminOptions::new())
        .await
        .unwrap();
    let resource = described.into_iter().next().unwrap().expect("the broker describes the bad topic");
    let retention = resource.get("retention.ms").and_then(|entry| entry.value.clone());
    assert_eq!(retention.as_deref(), Some(cartograph::kafka::BAD_TOPIC_RETENTION.as_millis().to_string().as_str()));
}

/// A figure, not a check: `cargo test -p server --test api retention::a_large_backlog -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn a_large_backlog_is_swept_in_worker_sized_batches() {
    let pool = db::prepare(&test_settings().await).await.expect("database ready");
    tower_sessions_sqlx_store::PostgresStore::new(pool.clone()).migrate().await.unwrap();
    for statement in [
        "INSERT INTO clickstream_events (event_id, visit_id, event_type, path, received_at, seq, payload)
         SELECT gen_random_uuid(), gen_random_uuid(), 'page_view', '/p', now() - interval '100 days' + g * interval '1 second',
                1, '{\"type\":\"page_view\",\"path\":\"/p\"}'
         FROM generate_series(1, 200000) g",
        "INSERT INTO clickstream_events (event_id, visit_id, event_type, path, received_at, seq, payload)
         SELECT gen_random_uuid(), gen_random_uuid(), 'page_view', '/p', now() - g * interval '1 second', 1, '{}'
         FROM generate_series(1, 200000) g",
        // A flood of anonymous sign-in sessions: half of them expired.
        "INSERT INTO tower_sessions.session (id, data, expiry_date)
         SELECT 's' || g, '\\x80', now() + CASE WHEN g % 2 = 0 THEN interval '-1 hour' ELSE interval '1 hour' END
         FROM generate_series(1, 100000) g",
        "ANALYZE",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    let batch = cartograph::retention::SWEEP_BATCH;
    // Sessions first (no other limit), then the events.
    let sessions_only = RetentionRules {
        events: None,
        rejects: None,
        visits: None,
        anonymous_carts: None,
        idempotency: None,
        webhooks: None,
    };
    let started = std::time::Instant::now();
    let sessions = apply_once(&pool, &sessions_only, batch).await.unwrap().sessions;
    let sessions_took = started.elapsed();
    let started = std::time::Instant::now();
    let events =
        apply_once(&pool, &RetentionRules::from_settings(&cartograph::config::Settings::default().retention), batch)
            .await
            .unwrap()
            .clickstream_events;
    let events_took = started.elapsed();
    println!(
        "in batches of {batch}: {sessions} expired sessions of 100,000 in {sessions_took:?} ({:.0}/s); \
         {events} old events of 400,000 in {events_took:?} ({:.0}/s)",
        sessions as f64 / sessions_took.as_secs_f64(),
        events as f64 / events_took.as_secs_f64()
    );
    assert_eq!((events, sessions), (200_000, 50_000));
}
