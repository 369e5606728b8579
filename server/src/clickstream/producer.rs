//! The Kafka producer behind the endpoint: idempotent, `acks=all`, keyed by visit.

use crate::kafka::{client_config, Topics};
use anyhow::Context;
use app::{
    resilience::{BreakerOpen, BreakerSettings, BreakerState, CircuitBreaker},
    tracking::schema::{ClickstreamRecord, SCHEMA_VERSION},
};
use futures::future::join_all;
use rdkafka::{
    producer::{FutureProducer, FutureRecord, Producer},
    ClientConfig,
};
use serde::Serialize;
use std::{
    sync::{Arc, PoisonError, RwLock},
    time::Duration,
};

/// The most the producer queues while the broker is slow, in KiB; past it a batch fails at once (503).
const QUEUE_MAX_KBYTES: &str = "65536";

/// How long a batch may wait for the broker before the endpoint answers 503.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Produces accepted events to `clickstream.v1` and rejected ones to `clickstream.bad.v1`.
///
/// A circuit breaker sits in front of the broker: once batches keep going unacknowledged, the endpoint answers
/// 503 at once for the cool-down instead of holding every request for the full delivery timeout.
///
/// The producer itself is renewed after a failed delivery: see [`ClickstreamProducer::guarded`].
#[derive(Clone)]
pub struct ClickstreamProducer {
    producer: Arc<RwLock<FutureProducer>>,
    config: Arc<ClientConfig>,
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
    pub fn new(brokers: &crate::kafka::Connection, topics: Topics, breaker: BreakerSettings) -> anyhow::Result<Self> {
        let mut config = client_config(brokers);
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "lz4")
            .set("linger.ms", "5")
            .set("message.timeout.ms", DELIVERY_TIMEOUT.as_millis().to_string())
            .set("queue.buffering.max.messages", "100000")
            // librdkafka's default is 1 GiB: bound what a stalled broker can make the web process hold.
            .set("queue.buffering.max.kbytes", QUEUE_MAX_KBYTES);
        let producer: FutureProducer = config.create().context("creating the Kafka producer")?;
        Ok(Self {
            producer: Arc::new(RwLock::new(producer)),
            config: Arc::new(config),
            topics,
            breaker: Arc::new(CircuitBreaker::new("broker", breaker)),
        })
    }

    /// The producer in use (a cheap handle on the shared client).
    fn current(&self) -> FutureProducer {
        self.producer.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Puts a new producer (a new producer id, empty queues) in place of `used`, or of the current one.
    /// Requests still using the old producer finish with it.
    fn renew(&self, used: Option<&FutureProducer>, why: &dyn std::fmt::Display) {
        let mut slot = self.producer.write().unwrap_or_else(PoisonError::into_inner);
        // Another request may have renewed it already.
        if used.is_some_and(|used| slot.client().native_ptr() != used.client().native_ptr()) {
            return;
        }
        match self.config.create::<FutureProducer>() {
            Ok(fresh) => {
                *slot = fresh;
                tracing::warn!(reason = %why, "renewed the Kafka producer");
            }
            Err(error) => tracing::error!(%error, "could not create a new Kafka producer"),
        }
    }

    /// The breaker around the broker (live settings change its thresholds).
    pub fn breaker(&self) -> Arc<CircuitBreaker> {
        Arc::clone(&self.breaker)
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
        self.current().in_flight_count()
    }

    /// Runs `send` if the breaker allows it, for at most [`DELIVERY_TIMEOUT`], and tells the breaker how it went.
    ///
    /// librdkafka's own message timeout can run late while the broker is unreachable (batches were seen waiting
    /// 15 s for a 10 s timeout), long enough for the HTTP request timeout to cancel the handler, and a cancelled
    /// call tells the breaker nothing: this bound keeps both the endpoint's promise and the breaker's count.
    ///
    /// A producer that failed a delivery is replaced, and the old one's queue dropped once the requests holding
    /// it have answered (503). An idempotent producer whose messages timed out must bump its epoch and retry
    /// with sequence numbers a restarted broker cannot place: that wedges the producer for good and, with
    /// tansu 0.6, the broker's storage too. A new producer (a new producer id) starts clean.
    async fn guarded<F, Fut>(&self, send: F) -> Result<(), ProduceError>
    where
        F: FnOnce(FutureProducer) -> Fut,
        Fut: std::future::Future<Output = Result<(), ProduceError>>,
    {
        let permit = self.breaker.try_acquire()?;
        let producer = self.current();
        let result = tokio::time::timeout(DELIVERY_TIMEOUT, send(producer.clone())).await.unwrap_or_else(|_| {
            Err(ProduceError::Broker(format!(
                "no acknowledgement from the broker within {} s",
                DELIVERY_TIMEOUT.as_secs()
            )))
        });
        permit.record(result.is_err());
        if let Err(ProduceError::Broker(reason)) = &result {
            self.renew(Some(&producer), reason);
        }
        result
    }

    /// Produces every record and waits until the broker has acknowledged all of them.
    pub async fn send_events(&self, records: &[ClickstreamRecord]) -> Result<(), ProduceError> {
        let payloads: Vec<(String, Vec<u8>)> = records
            .iter()
            .map(|record| Ok((record.visit_id.to_string(), serde_json::to_vec(record)?)))
            .collect::<Result<_, serde_json::Error>>()?;
        self.guarded(|producer| async move {
            let deliveries = payloads.iter().map(|(key, payload)| {
                producer.send(FutureRecord::to(&self.topics.clickstream).key(key).payload(payload), DELIVERY_TIMEOUT)
            });
            for result in join_all(deliveries).await {
                if let Err((error, _)) = result {
                    return Err(ProduceError::Broker(format!("broker did not acknowledge an event: {error}")));
                }
            }
            Ok(())
        })
        .await
    }

    /// Records why inputs were refused, so nothing disappears silently: `(reason, input)` pairs, produced in one
    /// go (one wait for the broker, not one per input). Nothing to record costs nothing.
    pub async fn send_rejected(
        &self,
        visit_id: uuid::Uuid,
        received_at: chrono::DateTime<chrono::Utc>,
        rejected: &[(String, String)],
    ) -> Result<(), ProduceError> {
        if rejected.is_empty() {
            return Ok(());
        }
        let payloads = rejected
            .iter()
            .map(|(reason, input)| {
                let record = RejectedInput { schema_version: SCHEMA_VERSION, visit_id, received_at, reason, input };
                serde_json::to_vec(&record)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let key = visit_id.to_string();
        self.guarded(|producer| async move {
            let deliveries = payloads.iter().map(|payload| {
                producer
                    .send(FutureRecord::to(&self.topics.clickstream_bad).key(&key).payload(payload), DELIVERY_TIMEOUT)
            });
            for result in join_all(deliveries).await {
                if let Err((error, _)) = result {
                    return Err(ProduceError::Broker(format!("broker did not acknowledge a rejected event: {error}")));
                }
            }
            Ok(())
        })
        .await
    }

    /// Asks the broker for the clickstream topic's metadata over the producer's own connections (no new
    /// client, threads or sockets), waiting at most `timeout`; the error says why the broker did not answer.
    pub async fn fetch_metadata(&self, timeout: Duration) -> anyhow::Result<()> {
        let producer = self.current();
        let topic = self.topics.clickstream.clone();
        // librdkafka blocks the calling thread for the round trip.
        tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(Some(topic.as_str()), timeout)
                .map(|_| ())
                .context("no metadata from the broker")
        })
        .await
        .context("the broker check panicked")?
    }

    /// Waits for in-flight messages before the process exits.
    pub fn flush(&self, timeout: Duration) {
        if let Err(error) = self.current().flush(timeout) {
            tracing::warn!(%error, "some clickstream events were still in flight at shutdown");
        }
    }
}
