//! Benchmarks that print figures (run them through `scripts/bench.sh`, which starts the services):
//! - `cartograph-bench ingest`: the producer endpoint's throughput and latency next to a raw rdkafka producer
//!   writing the same events to the same broker in the same run (these machines are noisy: the ratio is the
//!   figure to compare);
//! - `cartograph-bench journey`: journey PDF render time at 100, 1,000 and 10,000 events.

use app::tracking::schema::{ClickstreamRecord, EventKind, SCHEMA_VERSION};
use cartograph::{config::Settings, kafka, shutdown::Shutdown, startup::Application};
use figment::{providers::Serialized, Figment};
use futures::future::join_all;
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::{Connection, PgConnection};
use std::time::{Duration, Instant};
use uuid::Uuid;

const SENDERS: usize = 16;
const BATCH: usize = 20;
const PHASE: Duration = Duration::from_secs(10);

struct Figures {
    events: usize,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Figures {
    fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(index).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(f64::NAN)
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

async fn bench_settings() -> anyhow::Result<Settings> {
    let admin = env_or("CARTOGRAPH_TEST_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres");
    let mut conn = PgConnection::connect(&admin).await?;
    sqlx::query("DROP DATABASE IF EXISTS cartograph_bench WITH (FORCE)").execute(&mut conn).await?;
    sqlx::query("CREATE DATABASE cartograph_bench").execute(&mut conn).await?;
    let (base, _) = admin.rsplit_once('/').unwrap_or((&admin, ""));
    let run = Uuid::new_v4().simple().to_string();
    let figment = Figment::from(Serialized::defaults(Settings::default()))
        .merge(("mode", "dev"))
        .merge(("listen_addr", "127.0.0.1:0"))
        .merge(("database_url", format!("{base}/cartograph_bench")))
        .merge(("kafka_brokers", env_or("CARTOGRAPH_KAFKA_BROKERS", "127.0.0.1:9092")))
        .merge(("kafka_topic_prefix", format!("bench-{run}.")))
        .merge(("oidc_issuer_url", env_or("CARTOGRAPH_OIDC_ISSUER_URL", "http://127.0.0.1:9400")))
        .merge(("collect_rate_per_visit", 1e9))
        .merge(("collect_rate_per_ip", 1e9))
        .merge(("seed_demo_catalog", true));
    Ok(Settings::from_figment(figment)?)
}

fn batch_body(sender: usize, n: usize) -> String {
    let events: Vec<String> = (0..BATCH)
        .map(|i| format!(r#"{{"type":"page_view","path":"/bench/{sender}/{n}/{i}","referrer":"/","title":"Bench","id":"b{sender}-{n}-{i}"}}"#))
        .collect();
    format!(r#"{{"v":1,"events":[{}]}}"#, events.join(","))
}

async fn through_endpoint(base: &str) -> anyhow::Result<Figures> {
    let started = Instant::now();
    let tasks = (0..SENDERS).map(|sender| {
        let base = base.to_string();
        async move {
            let client = reqwest::Client::builder().cookie_store(true).build()?;
            client.get(format!("{base}/healthz")).send().await?;
            let (mut events, mut latencies, mut n) = (0, Vec::new(), 0);
            while started.elapsed() < PHASE {
                let sent = Instant::now();
                let response = client.post(format!("{base}/api/events")).body(batch_body(sender, n)).send().await?;
                anyhow::ensure!(response.status() == 202, "the endpoint answered {}", response.status());
                latencies.push(sent.elapsed());
                events += BATCH;
                n += 1;
            }
            anyhow::Ok((events, latencies))
        }
    });
    collect(join_all(tasks).await, started)
}

async fn through_rdkafka(brokers: &str, topic: &str) -> anyhow::Result<Figures> {
    let producer: FutureProducer = kafka::client_config(brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("linger.ms", "5")
        .create()?;
    let started = Instant::now();
    let tasks = (0..SENDERS).map(|sender| {
        let producer = producer.clone();
        async move {
            let visit = Uuid::new_v4();
            let (mut events, mut latencies, mut n) = (0, Vec::new(), 0);
            while started.elapsed() < PHASE {
                let sent = Instant::now();
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
                            path: format!("/bench/{sender}/{n}/{i}"),
                            event: EventKind::PageView { referrer: Some("/".into()), title: Some("Bench".into()) },
                        })
                    })
                    .collect::<Result<_, _>>()?;
                let key = visit.to_string();
                let deliveries = payloads
                    .iter()
                    .map(|payload| producer.send(FutureRecord::to(topic).key(&key).payload(payload), Duration::from_secs(10)));
                for delivery in join_all(deliveries).await {
                    delivery.map_err(|(error, _)| anyhow::anyhow!("not acknowledged: {error}"))?;
                }
                latencies.push(sent.elapsed());
                events += BATCH;
                n += 1;
            }
            anyhow::Ok((events, latencies))
        }
    });
    collect(join_all(tasks).await, started)
}

fn collect(results: Vec<anyhow::Result<(usize, Vec<Duration>)>>, started: Instant) -> anyhow::Result<Figures> {
    let elapsed = started.elapsed();
    let mut figures = Figures { events: 0, latencies: Vec::new(), elapsed };
    for result in results {
        let (events, latencies) = result?;
        figures.events += events;
        figures.latencies.extend(latencies);
    }
    Ok(figures)
}

/// A synthetic visit: a shopper browsing, searching, adding to the cart and paying, repeated.
fn synthetic_events(count: usize) -> Vec<cartograph::journey::JourneyEvent> {
    let start = chrono::Utc::now() - chrono::Duration::hours(2);
    let pages = ["/", "/products?q=tent", "/product/ridgeline-2-tent", "/products?category=kitchen", "/product/oak-cutting-board", "/cart", "/checkout"];
    (0..count)
        .map(|i| {
            let (event_type, label) = match i % 5 {
                0 => ("page_view", None),
                1 => ("click", Some("Add to cart".to_string())),
                2 => ("search", Some("tent".to_string())),
                3 => ("cart_add", Some("Oak Cutting Board".to_string())),
                _ => ("page_leave", None),
            };
            cartograph::journey::JourneyEvent {
                event_id: Uuid::new_v4(),
                event_type: event_type.into(),
                path: pages[(i / 5) % pages.len()].into(),
                received_at: start + chrono::Duration::milliseconds(i as i64 * 700),
                seq: (i % 5) as i32,
                label,
            }
        })
        .collect()
}

fn journey() -> anyhow::Result<()> {
    let visit = cartograph::journey::VisitInfo {
        visit_id: Uuid::new_v4(),
        shopper: Some("Bench Shopper".into()),
        device: "Firefox on Linux".into(),
        in_progress: false,
    };
    println!("journey PDF render (release build, one core)");
    println!("{:>8} {:>12} {:>10} {:>14}", "events", "render ms", "KiB", "µs per event");
    for count in [100, 1_000, 10_000] {
        let events = synthetic_events(count);
        let started = Instant::now();
        let pdf = cartograph::journey::render(&visit, &events, chrono::Utc::now())?;
        let elapsed = started.elapsed();
        println!(
            "{count:>8} {:>12.1} {:>10} {:>14.1}",
            elapsed.as_secs_f64() * 1000.0,
            pdf.len() / 1024,
            elapsed.as_secs_f64() * 1e6 / count as f64
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let what = std::env::args().nth(1).unwrap_or_else(|| "ingest".into());
    match what.as_str() {
        "journey" => return journey(),
        "ingest" => {}
        _ => anyhow::bail!("usage: cartograph-bench [ingest|journey]"),
    }
    let settings = bench_settings().await?;
    let app = Application::build(settings.clone()).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let stop = Shutdown::default();
    let stopped = stop.clone();
    let server = tokio::spawn(app.run_until(async move { stopped.wait().await }));

    let endpoint = through_endpoint(&base).await?;
    let topic = format!("{}clickstream.v1", settings.kafka_topic_prefix);
    let raw = through_rdkafka(settings.kafka_brokers(), &topic).await?;
    stop.trigger();
    let _ = server.await;

    println!("clickstream ingest: {SENDERS} concurrent senders, {BATCH}-event batches, {} s per path, one broker (tansu)", PHASE.as_secs());
    println!("{:<28} {:>10} {:>10} {:>10}", "path", "events/s", "p50 ms", "p99 ms");
    for (name, figures) in [("producer endpoint (HTTP)", &endpoint), ("raw rdkafka producer", &raw)] {
        println!("{:<28} {:>10.0} {:>10.1} {:>10.1}", name, figures.rate(), figures.percentile(0.5), figures.percentile(0.99));
    }
    println!(
        "endpoint/raw ratio: throughput {:.2}, p50 latency {:.2}, p99 latency {:.2}",
        endpoint.rate() / raw.rate(),
        endpoint.percentile(0.5) / raw.percentile(0.5),
        endpoint.percentile(0.99) / raw.percentile(0.99)
    );
    Ok(())
}
