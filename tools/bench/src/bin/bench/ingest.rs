//! Clickstream ingest: 20-event batches through the producer endpoint (HTTP, validation, the app's producer)
//! next to a raw rdkafka producer writing the same events to the same broker with the same settings.

use crate::{
    driver::{closed_loop, Run, Shape},
    report::{Better, Report, Row},
};
use app::tracking::schema::{ClickstreamRecord, EventKind, SCHEMA_VERSION};
use cartograph::kafka;
use futures::future::join_all;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::Duration;
use uuid::Uuid;

const SENDERS: usize = 16;
const BATCH: usize = 20;
const SHAPE: Shape = Shape { concurrency: SENDERS, warmup: Duration::from_secs(1), window: Duration::from_secs(8) };

fn batch_body(sender: usize, n: usize) -> String {
    let events: Vec<String> = (0..BATCH)
        .map(|i| format!(r#"{{"type":"page_view","path":"/bench/{sender}/{n}/{i}","referrer":"/","title":"Bench","id":"b{sender}-{n}-{i}"}}"#))
        .collect();
    format!(r#"{{"v":1,"events":[{}]}}"#, events.join(","))
}

async fn through_endpoint(base: &str) -> anyhow::Result<Run> {
    // One client per sender: each sender is one browser with its own visit cookie.
    let mut clients = Vec::new();
    for _ in 0..SENDERS {
        let client = reqwest::Client::builder().cookie_store(true).build()?;
        client.get(format!("{base}/healthz")).send().await?;
        clients.push(client);
    }
    let url = format!("{base}{}", app::tracking::COLLECT_PATH);
    closed_loop(SHAPE, move |sender, n| {
        let (client, url) = (clients[sender].clone(), url.clone());
        async move {
            let response = client
                .post(url)
                .header("content-type", "text/plain;charset=UTF-8")
                .body(batch_body(sender, n))
                .send()
                .await?;
            anyhow::ensure!(response.status() == 202, "the producer endpoint answered {}", response.status());
            Ok(())
        }
    })
    .await
}

async fn through_rdkafka(brokers: &kafka::Connection, topic: &str) -> anyhow::Result<Run> {
    let producer: FutureProducer = kafka::client_config(brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("linger.ms", "5")
        .create()?;
    let topic = topic.to_string();
    let visits: Vec<Uuid> = (0..SENDERS).map(|_| Uuid::new_v4()).collect();
    closed_loop(SHAPE, move |sender, n| {
        let (producer, topic, visit) = (producer.clone(), topic.clone(), visits[sender]);
        async move {
            let payloads: Vec<Vec<u8>> = (0..BATCH)
                .map(|i| {
                    serde_json::to_vec(&ClickstreamRecord {
                        schema_version: SCHEMA_VERSION,
                        event_id: Uuid::new_v4(),
                        visit_id: visit,
                        user_id: None,
                        received_at: chrono::Utc::now(),
                        client_ts: None,
                        seq: i as u32,
                        user_agent: Some("bench".into()),
                        bot: true,
                        origin: app::tracking::schema::EventOrigin::Client,
                        path: format!("/bench/{sender}/{n}/{i}"),
                        event: EventKind::PageView { referrer: Some("/".into()), title: Some("Bench".into()) },
                    })
                })
                .collect::<Result<_, _>>()?;
            let key = visit.to_string();
            let deliveries = payloads.iter().map(|payload| {
                producer.send(FutureRecord::to(&topic).key(&key).payload(payload), Duration::from_secs(10))
            });
            for delivery in join_all(deliveries).await {
                delivery.map_err(|(error, _)| anyhow::anyhow!("not acknowledged: {error}"))?;
            }
            Ok(())
        }
    })
    .await
}

/// Adds the ingest rows: events/s, p50 and p99 per batch, each against the raw producer.
pub async fn run(base: &str, brokers: &kafka::Connection, topic: &str, report: &mut Report) -> anyhow::Result<()> {
    eprintln!("ingest: producer endpoint, then raw rdkafka ({} s each)", SHAPE.window.as_secs());
    let mut endpoint = through_endpoint(base).await?;
    let mut raw = through_rdkafka(brokers, topic).await?;
    let ceiling = "raw rdkafka producer, same broker and settings";
    let events = |run: &Run| run.rate() * BATCH as f64;
    report.add(Row::new(
        "ingest",
        "events/s via POST /api/events",
        events(&endpoint),
        events(&raw),
        ceiling,
        Better::Higher,
    ));
    for (label, p) in [("p50", 0.5), ("p99", 0.99)] {
        report.add(Row::new(
            "ingest",
            &format!("{label} ms per {BATCH}-event batch"),
            endpoint.latencies.percentile_ms(p),
            raw.latencies.percentile_ms(p),
            ceiling,
            Better::Lower,
        ));
    }
    report.note(format!(
        "ingest: {SENDERS} concurrent senders (one visit each), {BATCH}-event batches, 1 s warm-up then {} s per path; \
         the endpoint acknowledges a batch only after the broker at {brokers} has.",
        SHAPE.window.as_secs()
    ));
    Ok(())
}
