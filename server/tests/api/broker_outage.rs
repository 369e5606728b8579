//! The broker stops and comes back while shoppers keep sending events: every event the endpoint accepted
//! (202) is in the topic exactly once; the rest were answered 503 and stay with the tracker.

use crate::helpers::{
    event_stream::{EventStream, Outcome},
    worker_process::WorkerProcess,
    TestApp,
};
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_events_survive_a_broker_restart_exactly_once() {
    let app = TestApp::builder().with_private_broker().with_settings(unlimited_events).spawn().await;

    let stream = EventStream::to(&app);
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.broker().kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ready = app.client.get(app.internal_url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "readiness reports the broker while it is down");
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["failing"], serde_json::json!(["broker"]), "only the component is named: {body}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.broker().restart();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (accepted, outcomes) = stream.stop().await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "ready again once the broker is back");
    assert!(
        outcomes.iter().all(|outcome| matches!(outcome, Outcome::Accepted | Outcome::Refused)),
        "only 202 or 503 during an outage: {outcomes:?}"
    );
    assert!(!accepted.is_empty() && outcomes.len() > 10, "{} accepted of {} batches", accepted.len(), outcomes.len());

    let seen = assert_in_topic_exactly_once(&app, &accepted).await;
    // And the worker stores each of them once: the journeys table agrees with the topic.
    app.spawn_worker();
    app.assert_stored_exactly_once(&seen, Duration::from_secs(30)).await;
    println!(
        "broker outage: {} batches, {} events accepted, {} in the topic, all stored once",
        outcomes.len(),
        accepted.len(),
        seen.len()
    );
}

/// The operator's budget, five times over: with events streaming in (about 100 a second), storing resumes
/// within seconds of the broker's return after a restart, and within seconds of a `kill -9` and restart of the
/// worker that follows it; at the end every accepted event is in the topic and the table exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storing_resumes_within_seconds_of_a_broker_restart_and_of_the_worker_restart_after_it() {
    /// The budget is 5 s; the bound is generous for a shared, noisy machine, and the figures are printed.
    const BOUND: Duration = Duration::from_secs(10);
    let app = TestApp::builder().with_private_broker().with_settings(unlimited_events).spawn().await;
    let log = std::env::temp_dir().join(format!("cartograph-worker-{}.log", uuid::Uuid::new_v4().simple()));
    let mut worker = WorkerProcess::start(&app.settings, &log);
    let stream = EventStream::to(&app);
    stream.storing_resumed(&app, Instant::now(), Duration::from_secs(30), "the worker started").await;

    let (mut after_broker, mut after_worker) = (Vec::new(), Vec::new());
    for round in 1..=5 {
        app.broker().kill();
        tokio::time::sleep(Duration::from_secs(2)).await;
        app.broker().restart();
        let back = Instant::now();
        after_broker.push(stream.storing_resumed(&app, back, Duration::from_secs(60), "the broker's return").await);
        let accepted_again = stream.accepted_again(back).unwrap_or_default();

        tokio::time::sleep(Duration::from_secs(1)).await;
        worker.kill_hard();
        worker = WorkerProcess::start(&app.settings, &log);
        let restarted = Instant::now();
        after_worker.push(stream.storing_resumed(&app, restarted, Duration::from_secs(60), "the worker restart").await);
        println!(
            "round {round}: storing resumed {:.1} s after the broker's return (events accepted again after {:.1} s), \
             {:.1} s after the worker's restart",
            after_broker[round - 1].as_secs_f32(),
            accepted_again.as_secs_f32(),
            after_worker[round - 1].as_secs_f32()
        );
    }
    let (accepted, _) = stream.stop().await;
    let seen = assert_in_topic_exactly_once(&app, &accepted).await;
    app.assert_stored_exactly_once(&seen, Duration::from_secs(60)).await;
    let worst = |times: &[Duration]| times.iter().max().copied().unwrap_or_default();
    println!(
        "recovery budget (5 s): worst {:.1} s after a broker restart, {:.1} s after a worker restart; \
         {} events accepted, each in the topic and the table once; worker log: {}",
        worst(&after_broker).as_secs_f32(),
        worst(&after_worker).as_secs_f32(),
        accepted.len(),
        log.display()
    );
    // tansu 0.6 could panic in its SQLite group storage after a kill, and then refuse every produce.
    let broker_log = app.broker().log();
    assert!(!broker_log.contains("panicked"), "the broker panicked:\n{broker_log}");
    assert!(worst(&after_broker) < BOUND, "storing resumed after a broker restart in {after_broker:?}");
    assert!(worst(&after_worker) < BOUND, "storing resumed after a worker restart in {after_worker:?}");
}

fn unlimited_events(settings: &mut cartograph::config::Settings) {
    settings.collect.rate_per_visit = 1000.0;
    settings.collect.rate_per_ip = 1000.0;
}

/// Reads the app's clickstream topic and checks that each accepted event is in it exactly once; returns the
/// ids of every event in it (the accepted ones, and any whose acknowledgement was lost with the broker).
async fn assert_in_topic_exactly_once(app: &TestApp, accepted: &[String]) -> Vec<String> {
    let topic = format!("{}clickstream.v1", app.settings.kafka.topic_prefix);
    let records =
        cartograph::kafka::read_topic(&app.settings.kafka.connection(), &topic, Duration::from_secs(20)).await.unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for record in &records {
        let value: serde_json::Value = serde_json::from_str(&record.payload).unwrap();
        *seen.entry(value["event_id"].as_str().unwrap().to_string()).or_default() += 1;
    }
    for id in accepted {
        assert_eq!(seen.get(id).copied(), Some(1), "accepted event {id} must be in the topic exactly once");
    }
    let twice: Vec<&String> = seen.iter().filter(|(_, n)| **n > 1).map(|(id, _)| id).collect();
    assert!(twice.is_empty(), "events in the topic more than once: {twice:?}");
    seen.into_keys().collect()
}

/// An outage longer than the delivery timeout: the producer's messages time out, and a producer that carried
/// on would retry with an idempotence state the restarted broker cannot place (tansu then refused it for
/// good). The endpoint must take events again as soon as the broker is back, without an app restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_takes_events_again_at_once_after_an_outage_longer_than_the_delivery_timeout() {
    let app = TestApp::builder().with_private_broker().with_settings(unlimited_events).spawn().await;
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
