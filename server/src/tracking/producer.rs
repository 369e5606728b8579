//! The Kafka producer behind the endpoint: idempotent, `acks=all`, keyed by visit.

use crate::kafka::{client_config, Topics};
use anyhow::Context;
use app::{
    resilience::{BreakerOpen, BreakerSettings, BreakerState, CircuitBreaker},
    tracking::schema::ClickstreamRecord,
};
use futures::future::join_all;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde::Serialize;
use std::{sync::Arc, time::Duration};

/// How long a batch may wait for the broker before the endpoint answers 503.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Produces accepted events to `clickstream.v1` and rejected ones to `clickstream.bad.v1`.
///
/// A circuit breaker sits in front of the broker: once batches keep going unacknowledged, the endpoint answers
/// 503 at once for the cool-down instead of holding every request for the full delivery timeout.
#[derive(Clone)]
pub struct ClickstreamProducer {
    producer: FutureProducer,
    topics: Topics,
    breaker: Arc<CircuitBreaker>,
}

/// Why a batch was not acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// The broker's breaker is open: nothing was sent.
    #[error(transparent)]
    BreakerOpen(#[from] BreakerOpen),
    /// The broker did not acknowledge in time (or refused).
    #[error("{0}")]
    Broker(String),
    #[error("could not encode a record: {0}")]
    Encode(#[from] serde_json::Error),
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
    pub fn new(brokers: &str, topics: Topics, breaker: BreakerSettings) -> anyhow::Result<Self> {
        let producer: FutureProducer = client_config(brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "lz4")
            .set("linger.ms", "5")
            .set("message.timeout.ms", DELIVERY_TIMEOUT.as_millis().to_string())
            .set("queue.buffering.max.messages", "100000")
            .create()
            .context("creating the Kafka producer")?;
        Ok(Self { producer, topics, breaker: Arc::new(CircuitBreaker::new("broker", breaker)) })
    }

    /// Where the broker's circuit breaker stands.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Refreshes the broker breaker's state gauge.
    pub fn report_breaker(&self) {
        self.breaker.report();
    }

    /// Messages waiting in the producer's queue or for the broker's acknowledgement.
    pub fn in_flight_count(&self) -> i32 {
        self.producer.in_flight_count()
    }

    /// Runs `send` if the breaker allows it, for at most [`DELIVERY_TIMEOUT`], and tells the breaker how it went.
    ///
    /// librdkafka's own message timeout can run late while the broker is unreachable (batches were seen waiting
    /// 15 s for a 10 s timeout), long enough for the HTTP request timeout to cancel the handler, and a cancelled
    /// call tells the breaker nothing: this bound keeps both the endpoint's promise and the breaker's count.
    async fn guarded<F>(&self, send: F) -> Result<(), ProduceError>
    where
        F: std::future::Future<Output = Result<(), ProduceError>>,
    {
        let permit = self.breaker.try_acquire()?;
        let result = tokio::time::timeout(DELIVERY_TIMEOUT, send).await.unwrap_or_else(|_| {
            Err(ProduceError::Broker(format!("no acknowledgement from the broker within {} s", DELIVERY_TIMEOUT.as_secs())))
        });
        permit.record(result.is_err());
        result
    }

    /// Produces every record and waits until the broker has acknowledged all of them.
    pub async fn send_events(&self, records: &[ClickstreamRecord]) -> Result<(), ProduceError> {
        let payloads: Vec<(String, Vec<u8>)> = records
            .iter()
            .map(|record| Ok((record.visit_id.to_string(), serde_json::to_vec(record)?)))
            .collect::<Result<_, serde_json::Error>>()?;
        self.guarded(async {
            let deliveries = payloads.iter().map(|(key, payload)| {
                self.producer
                    .send(FutureRecord::to(&self.topics.clickstream).key(key).payload(payload), DELIVERY_TIMEOUT)
            });
            for result in join_all(deliveries).await {
                result.map_err(|(error, _)| ProduceError::Broker(format!("broker did not acknowledge an event: {error}")))?;
            }
            Ok::<(), ProduceError>(())
        })
        .await
    }

    /// Records why an input was refused, so nothing disappears silently.
    pub async fn send_rejected(&self, rejected: &RejectedInput<'_>) -> Result<(), ProduceError> {
        let payload = serde_json::to_vec(rejected)?;
        let key = rejected.visit_id.to_string();
        self.guarded(async {
            self.producer
                .send(FutureRecord::to(&self.topics.clickstream_bad).key(&key).payload(&payload), DELIVERY_TIMEOUT)
                .await
                .map(|_| ())
                .map_err(|(error, _)| ProduceError::Broker(format!("broker did not acknowledge a rejected event: {error}")))
        })
        .await
    }

    /// Waits for in-flight messages before the process exits.
    pub fn flush(&self, timeout: Duration) {
        if let Err(error) = self.producer.flush(timeout) {
            tracing::warn!(%error, "some clickstream events were still in flight at shutdown");
        }
    }
}
