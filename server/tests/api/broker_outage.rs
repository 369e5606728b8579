//! The broker stops and comes back while shoppers keep sending events: every event the endpoint accepted
//! (202) is in the topic exactly once; the rest were answered 503 and stay with the tracker.

use crate::helpers::TestApp;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_events_survive_a_broker_restart_exactly_once() {
    let app = Arc::new(
        TestApp::builder()
            .with_private_broker()
            .with_settings(|settings| {
                settings.collect.rate_per_visit = 1000.0;
                settings.collect.rate_per_ip = 1000.0;
            })
            .spawn()
            .await,
    );
    app.client.get(app.url("/")).send().await.unwrap();

    let outcomes: Arc<Mutex<HashMap<String, u16>>> = Arc::default();
    let sender = {
        let (app, outcomes) = (app.clone(), outcomes.clone());
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let mut n = 0;
            while started.elapsed() < Duration::from_secs(10) {
                let batch: Vec<String> = (0..5)
                    .map(|i| format!(r#"{{"type":"page_view","path":"/outage/{n}/{i}","id":"ev-{n}-{i}"}}"#))
                    .collect();
                let body = format!(r#"{{"v":1,"events":[{}]}}"#, batch.join(","));
                let response = app.client.post(app.url("/api/events")).body(body).send().await.unwrap();
                let status = response.status().as_u16();
                let ids: Vec<String> = if status == 202 {
                    let body: serde_json::Value = response.json().await.unwrap();
                    body["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
                } else {
                    assert_eq!(status, 503, "only 202 or 503 during an outage");
                    Vec::new()
                };
                {
                    let mut outcomes = outcomes.lock().unwrap();
                    for id in ids {
                        outcomes.insert(id, status);
                    }
                    outcomes.insert(format!("batch-{n}"), status);
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.broker().kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ready = app.client.get(app.internal_url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "readiness reports the broker while it is down");
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["failing"], serde_json::json!(["broker"]), "only the component is named: {body}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.broker().restart();
    sender.await.unwrap();
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "ready again once the broker is back");

    let outcomes = outcomes.lock().unwrap().clone();
    let accepted: Vec<&String> =
        outcomes.iter().filter(|(k, s)| !k.starts_with("batch-") && **s == 202).map(|(k, _)| k).collect();
    let batches = outcomes.keys().filter(|k| k.starts_with("batch-")).count();
    assert!(!accepted.is_empty() && batches > 10, "{} accepted events of {batches} batches", accepted.len());

    let topic = format!("{}clickstream.v1", app.settings.kafka.topic_prefix);
    let records =
        cartograph::kafka::read_topic(&app.settings.kafka.connection(), &topic, Duration::from_secs(20)).await.unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for record in &records {
        let value: serde_json::Value = serde_json::from_str(&record.payload).unwrap();
        *seen.entry(value["event_id"].as_str().unwrap().to_string()).or_default() += 1;
    }
    for id in &accepted {
        assert_eq!(seen.get(*id).copied(), Some(1), "accepted event {id} must be in the topic exactly once");
    }

    // And the worker stores each of them once: the journeys table agrees with the topic.
    app.spawn_worker();
    let stored = app.wait_for_count("SELECT count(*) FROM clickstream_events", seen.len() as i64).await;
    assert_eq!(stored, seen.len() as i64, "the table holds every event of the topic, once");
    let stored_ids: std::collections::HashSet<String> =
        sqlx::query_scalar("SELECT event_id::text FROM clickstream_events")
            .fetch_all(&app.pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    assert!(accepted.iter().all(|id| stored_ids.contains(*id)), "every accepted event is in the journeys table");
    println!(
        "broker outage: {batches} batches, {} events accepted, {} records in the topic, {stored} rows stored",
        accepted.len(),
        records.len()
    );
}

/// An outage longer than the delivery timeout: the producer's messages time out, and a producer that carried
/// on would retry with an idempotence state the restarted broker cannot place (tansu then refused it for
/// good). The endpoint must take events again as soon as the broker is back, without an app restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_takes_events_again_at_once_after_an_outage_longer_than_the_delivery_timeout() {
    let app = TestApp::builder()
        .with_private_broker()
        .with_settings(|settings| {
            settings.collect.rate_per_visit = 1000.0;
            settings.collect.rate_per_ip = 1000.0;
        })
        .spawn()
        .await;
    app.client.get(app.url("/")).send().await.unwrap();
    let post = |n: usize| {
        let body = format!(r#"{{"v":1,"events":[{{"type":"page_view","path":"/long/{n}","id":"long-{n}"}}]}}"#);
        app.client.post(app.url("/api/events")).body(body).send()
    };
    assert_eq!(post(0).await.unwrap().status(), 202);

    app.broker().kill();
    let down = tokio::time::Instant::now();
    let mut n = 1;
    // Two batches time out (10 s each) while the broker is away.
    while down.elapsed() < Duration::from_secs(20) {
        assert_eq!(post(n).await.unwrap().status(), 503, "nothing is accepted while the broker is down");
        n += 1;
    }
    app.broker().restart();
    let back = tokio::time::Instant::now();
    loop {
        let status = post(n).await.unwrap().status();
        if status == 202 {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(20), "still {status} 20 s after the broker returned");
        n += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("long outage: events accepted again {:.1} s after the broker returned", back.elapsed().as_secs_f32());
}
