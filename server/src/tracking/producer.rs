//! The Kafka producer behind the endpoint: idempotent, `acks=all`, keyed by visit.

use crate::kafka::{client_config, Topics};
use anyhow::Context;
use app::tracking::schema::ClickstreamRecord;
use futures::future::join_all;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde::Serialize;
use std::time::Duration;

/// How long a batch may wait for the broker before the endpoint answers 503.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Produces accepted events to `clickstream.v1` and rejected ones to `clickstream.bad.v1`.
#[derive(Clone)]
pub struct ClickstreamProducer {
    producer: FutureProducer,
    topics: Topics,
}

/// A rejected input as it sits in `clickstream.bad.v1`.
#[derive(Debug, Serialize)]
pub struct RejectedInput<'a> {
    pub schema_version: u16,
    pub visit_id: uuid::Uuid,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub reason: &'a str,
    /// The offending input, cut to a few kilobytes.
    pub input: &'a str,
}

impl ClickstreamProducer {
    pub fn new(brokers: &str, topics: Topics) -> anyhow::Result<Self> {
        let producer: FutureProducer = client_config(brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "lz4")
            .set("linger.ms", "5")
            .set("message.timeout.ms", &DELIVERY_TIMEOUT.as_millis().to_string())
            .set("queue.buffering.max.messages", "100000")
            .create()
            .context("creating the Kafka producer")?;
        Ok(Self { producer, topics })
    }

    /// Produces every record and waits until the broker has acknowledged all of them.
    pub async fn send_events(&self, records: &[ClickstreamRecord]) -> anyhow::Result<()> {
        let payloads: Vec<(String, Vec<u8>)> = records
            .iter()
            .map(|record| Ok((record.visit_id.to_string(), serde_json::to_vec(record)?)))
            .collect::<Result<_, serde_json::Error>>()?;
        let deliveries = payloads.iter().map(|(key, payload)| {
            self.producer
                .send(FutureRecord::to(&self.topics.clickstream).key(key).payload(payload), DELIVERY_TIMEOUT)
        });
        for result in join_all(deliveries).await {
            result.map_err(|(error, _)| anyhow::anyhow!("broker did not acknowledge an event: {error}"))?;
        }
        Ok(())
    }

    /// Records why an input was refused, so nothing disappears silently.
    pub async fn send_rejected(&self, rejected: &RejectedInput<'_>) -> anyhow::Result<()> {
        let payload = serde_json::to_vec(rejected)?;
        let key = rejected.visit_id.to_string();
        self.producer
            .send(FutureRecord::to(&self.topics.clickstream_bad).key(&key).payload(&payload), DELIVERY_TIMEOUT)
            .await
            .map(|_| ())
            .map_err(|(error, _)| anyhow::anyhow!("broker did not acknowledge a rejected event: {error}"))
    }

    /// Waits for in-flight messages before the process exits.
    pub fn flush(&self, timeout: Duration) {
        if let Err(error) = self.producer.flush(timeout) {
            tracing::warn!(%error, "some clickstream events were still in flight at shutdown");
        }
    }
}
