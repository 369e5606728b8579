//! Broker plumbing shared by the web process and the worker: client settings, topics, reachability.

use anyhow::Context;
use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    config::ClientConfig,
    consumer::{BaseConsumer, CommitMode, Consumer, Rebalance},
    types::RDKafkaErrorCode,
};
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeMap,
    fmt,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
    time::Duration,
};

/// librdkafka properties the operator passes through (TLS, SASL, timeouts…): `CARTOGRAPH_KAFKA__SECURITY_PROTOCOL`
/// or `[kafka.properties] "security.protocol"` in the file; underscores in a name read as dots. Values of secrets
/// (passwords, keys) never appear in `check-config`, nor in `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KafkaProperties(BTreeMap<String, String>);

/// librdkafka property names that contain an underscore.
const UNDERSCORED: [&str; 2] = ["log_level", "enable_sasl_queue"];

/// Properties Cartograph sets itself: overriding them would break delivery or the consumer groups.
const OWN_PROPERTIES: [&str; 5] =
    ["bootstrap.servers", "group.id", "group.instance.id", "enable.auto.commit", "enable.auto.offset.store"];

impl KafkaProperties {
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// Sets one property; underscores read as dots (environment names cannot hold dots), except in the few
    /// names librdkafka spells with one.
    pub fn insert(&mut self, name: &str, value: &str) {
        let name = name.trim().to_ascii_lowercase();
        let name = if UNDERSCORED.contains(&name.as_str()) { name } else { name.replace('_', ".") };
        self.0.insert(name, value.to_string());
    }

    /// The properties Cartograph does not allow to be passed through, by name.
    pub fn refused(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).filter(|name| OWN_PROPERTIES.contains(name)).collect()
    }

    fn is_secret(name: &str) -> bool {
        ["password", "secret", "key.pem", "ssl.key", "keystore", "jaas", "sasl.oauthbearer.config"]
            .iter()
            .any(|part| name.contains(part))
    }

    /// The properties as they may be shown: a secret's value is `[redacted]`.
    fn shown(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter().map(|(name, value)| (name, if Self::is_secret(name) { "[redacted]" } else { value }))
    }
}

impl fmt::Debug for KafkaProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.shown()).finish()
    }
}

impl Serialize for KafkaProperties {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.shown())
    }
}

impl<'de> Deserialize<'de> for KafkaProperties {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Values arrive as strings from a file, but as numbers or booleans from the environment.
        let raw = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
        let mut properties = Self::default();
        for (name, value) in raw {
            let value = match value {
                serde_json::Value::String(text) => text,
                serde_json::Value::Number(_) | serde_json::Value::Bool(_) => value.to_string(),
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "kafka property {name} must be a single value, got {other}"
                    )))
                }
            };
            properties.insert(&name, &value);
        }
        Ok(properties)
    }
}

/// How to reach the cluster: its brokers and the operator's client properties.
#[derive(Clone, Debug, Default)]
pub struct Connection {
    pub brokers: String,
    pub properties: Arc<KafkaProperties>,
}

impl Connection {
    pub fn new(brokers: &str, properties: KafkaProperties) -> Self {
        Self { brokers: brokers.to_string(), properties: Arc::new(properties) }
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.brokers)
    }
}

/// The topic names, with the configured prefix applied.
#[derive(Debug, Clone)]
pub struct Topics {
    pub clickstream: String,
    pub clickstream_bad: String,
    pub catalog: String,
}

impl Topics {
    pub fn new(prefix: &str) -> Self {
        Self {
            clickstream: format!("{prefix}clickstream.v1"),
            clickstream_bad: format!("{prefix}clickstream.bad.v1"),
            catalog: format!("{prefix}catalog.v1"),
        }
    }

    fn all(&self) -> [&str; 3] {
        [&self.clickstream, &self.clickstream_bad, &self.catalog]
    }
}

/// Settings every client shares, then the operator's properties.
///
/// `reconnect.backoff.max.ms`: librdkafka doubles the wait between attempts to reach a broker that went away,
/// up to 10 s by default, so a client could notice a restarted broker many seconds late. One second is cheap to
/// retry at and keeps the recovery budget (storing resumes within 5 s of the broker's return).
pub fn client_config(kafka: &Connection) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &kafka.brokers)
        .set("socket.timeout.ms", "10000")
        .set("reconnect.backoff.max.ms", "1000")
        .set("log_level", "3");
    for (name, value) in kafka.properties.iter() {
        config.set(name, value);
    }
    config
}

/// A group consumer that stores offsets only when told (after the database commit) and commits them
/// every second; it starts from the beginning of a topic the group has never read.
///
/// With a `member` name the consumer is a static group member (`group.instance.id`): restarted under the
/// same name after a crash, it takes its partitions back at once instead of waiting for the broker to notice
/// that the dead member is gone.
pub fn at_least_once_consumer_config(kafka: &Connection, group: &str, member: Option<&str>) -> ClientConfig {
    let mut config = client_config(kafka);
    if let Some(member) = member {
        config.set("group.instance.id", member);
    }
    config
        .set("group.id", group)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000");
    config
}

/// A group consumer that is never closed on the thread that drops it.
///
/// Dropping a librdkafka consumer closes it, and the close waits for a broker that may be gone, without end. A
/// task cancelled at runtime shutdown, or a panic, would block a runtime thread on that; this wrapper hands the
/// consumer to a thread of its own instead. [`GroupConsumer::close`] is the orderly way out.
pub struct GroupConsumer<C: Send + 'static>(Option<C>);

impl<C: Send + 'static> GroupConsumer<C> {
    pub fn new(consumer: C) -> Self {
        Self(Some(consumer))
    }

    /// Commits the stored offsets and closes the consumer (leaving the group) on its own thread, waiting at most
    /// `limit`. Past the limit the close is abandoned, and the offsets stored since the last automatic commit
    /// (every second) are delivered again to the next member: the consumers are idempotent.
    pub async fn close<Context>(mut self, limit: Duration)
    where
        C: Consumer<Context>,
        Context: rdkafka::consumer::ConsumerContext + 'static,
    {
        let consumer = self.0.take().expect("a consumer is present until it is closed");
        let (closed, done) = tokio::sync::oneshot::channel();
        let closing = off_the_runtime(move || {
            match consumer.commit_consumer_state(CommitMode::Sync) {
                Ok(()) => tracing::info!("consumer committed its offsets"),
                Err(error) => tracing::debug!(%error, "nothing to commit at shutdown"),
            }
            consumer.unsubscribe();
            drop(consumer);
            let _ = closed.send(());
        });
        if let Err(error) = closing {
            tracing::warn!(%error, "could not start the consumer's closing thread");
            return;
        }
        if tokio::time::timeout(limit, done).await.is_err() {
            tracing::warn!(limit_secs = limit.as_secs(), "the broker did not answer the consumer's close; abandoned");
        }
    }
}

impl<C: Send + 'static> std::ops::Deref for GroupConsumer<C> {
    type Target = C;

    fn deref(&self) -> &C {
        self.0.as_ref().expect("a consumer is present until it is closed")
    }
}

impl<C: Send + 'static> Drop for GroupConsumer<C> {
    fn drop(&mut self) {
        if let Some(consumer) = self.0.take() {
            let _ = off_the_runtime(move || drop(consumer));
        }
    }
}

/// What a consumer loop does with the errors librdkafka hands it between messages.
///
/// librdkafka queues an error for every failed attempt to reach a broker, and a consumer reads them one at a
/// time, in order, before the messages behind them. A long pause per error (one second, before) made a
/// consumer spend many seconds after a broker's return working through the errors of its absence; a short
/// one only keeps a loop from spinning. The first error of a run is a warning and the rest are debug lines,
/// and the first message after them says how long reading was interrupted.
pub struct ConsumerErrors {
    consumer: &'static str,
    failing_since: Option<std::time::Instant>,
}

impl ConsumerErrors {
    /// The pause after each error.
    pub const PAUSE: Duration = Duration::from_millis(50);

    pub fn new(consumer: &'static str) -> Self {
        Self { consumer, failing_since: None }
    }

    /// Records an error; the caller then waits [`Self::PAUSE`].
    pub fn failed(&mut self, error: &rdkafka::error::KafkaError) {
        if self.failing_since.is_none() {
            tracing::warn!(consumer = self.consumer, %error, "consumer error; retrying");
            self.failing_since = Some(std::time::Instant::now());
        } else {
            tracing::debug!(consumer = self.consumer, %error, "consumer error; retrying");
        }
    }

    /// Records a message read: the end of a run of errors, if there was one.
    pub fn read(&mut self) {
        if let Some(since) = self.failing_since.take() {
            tracing::info!(
                consumer = self.consumer,
                after_secs = since.elapsed().as_secs_f32(),
                "consumer reading again"
            );
        }
    }
}

/// Runs a consumer's close on a detached thread: it may wait for the broker without end.
fn off_the_runtime(close: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    std::thread::Builder::new().name("kafka-close".into()).spawn(close).map(drop)
}

/// How often librdkafka reports statistics to [`LagReporting`] consumers.
const STATISTICS_INTERVAL_MS: &str = "2000";

/// A consumer context that publishes each assigned partition's lag (`cartograph_consumer_lag`) from
/// librdkafka's periodic statistics: the partition's end offset minus the group's committed offset; and, at
/// each rebalance, how many partitions this member holds (`cartograph_consumer_assigned_partitions`, logged
/// with the partitions gained or lost), so an operator sees several workers share a topic.
pub struct LagReporting {
    group: String,
    /// Partitions held now: assignments add and revocations take away, whole (eager) or incremental
    /// (cooperative-sticky) alike.
    held: AtomicI64,
}

impl LagReporting {
    pub fn new(group: &str) -> Self {
        Self { group: group.to_string(), held: AtomicI64::new(0) }
    }

    /// Sets the gauge for every partition with a known lag in one statistics document.
    fn publish(&self, statistics: &serde_json::Value) {
        let Some(topics) = statistics.get("topics").and_then(|t| t.as_object()) else { return };
        for (topic, stats) in topics {
            let Some(partitions) = stats.get("partitions").and_then(|p| p.as_object()) else { continue };
            for (partition, stats) in partitions {
                // "-1" is librdkafka's bucket for messages not yet assigned a partition.
                let Some(lag) = partition_lag(stats).filter(|_| !partition.starts_with('-')) else { continue };
                metrics::gauge!(
                    crate::prometheus::names::CONSUMER_LAG,
                    "group" => self.group.clone(),
                    "topic" => topic.clone(),
                    "partition" => partition.clone()
                )
                .set(lag as f64);
            }
        }
    }
}

/// A partition's lag from its statistics: librdkafka's `consumer_lag` once the group has committed there;
/// before that, for a partition this consumer fetches, everything from the log start is still to be read.
/// `None` for a partition another member owns.
fn partition_lag(stats: &serde_json::Value) -> Option<i64> {
    let field = |name: &str| stats.get(name).and_then(|value| value.as_i64());
    if let Some(lag) = field("consumer_lag").filter(|lag| *lag >= 0) {
        return Some(lag);
    }
    let fetching = stats.get("fetch_state").and_then(|state| state.as_str()) == Some("active");
    let (end, start) = (field("hi_offset")?, field("lo_offset")?);
    (fetching && end >= 0 && start >= 0).then(|| end - start)
}

impl rdkafka::client::ClientContext for LagReporting {
    fn stats_raw(&self, statistics: &[u8]) {
        match serde_json::from_slice(statistics) {
            Ok(value) => self.publish(&value),
            Err(error) => tracing::debug!(%error, "unreadable librdkafka statistics"),
        }
    }
}

impl rdkafka::consumer::ConsumerContext for LagReporting {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let (change, list) = match rebalance {
            Rebalance::Assign(list) => (list.count() as i64, list),
            Rebalance::Revoke(list) => (-(list.count() as i64), list),
            Rebalance::Error(error) => {
                tracing::warn!(group = %self.group, %error, "consumer group rebalance failed");
                return;
            }
        };
        let held = self.held.fetch_add(change, Ordering::Relaxed) + change;
        metrics::gauge!(crate::prometheus::names::ASSIGNED_PARTITIONS, "group" => self.group.clone()).set(held as f64);
        let partitions: Vec<String> =
            list.elements().iter().map(|element| format!("{}/{}", element.topic(), element.partition())).collect();
        tracing::info!(group = %self.group, change, held, ?partitions, "consumer group rebalanced");
    }
}

/// A stream consumer built from `config` that reports its lag for `group`.
pub fn lag_reporting_consumer(
    config: &mut ClientConfig,
    group: &str,
) -> rdkafka::error::KafkaResult<rdkafka::consumer::StreamConsumer<LagReporting>> {
    config.set("statistics.interval.ms", STATISTICS_INTERVAL_MS).create_with_context(LagReporting::new(group))
}

/// How long the broker keeps the bad topic's records: the default `CARTOGRAPH_RETENTION_REJECTS_DAYS`.
pub const BAD_TOPIC_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Creates any missing topic (the bad topic with [`BAD_TOPIC_RETENTION`]); an existing topic is fine.
pub async fn ensure_topics(
    brokers: &Connection,
    topics: &Topics,
    partitions: i32,
    timeout: Duration,
) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        client_config(brokers).create().context("creating the Kafka admin client")?;
    let bad_retention_ms = BAD_TOPIC_RETENTION.as_millis().to_string();
    let new_topics: Vec<NewTopic> = topics
        .all()
        .iter()
        .map(|name| {
            let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
            // Nothing consumes the bad topic: it is kept for inspection, then the broker drops it.
            if *name == topics.clickstream_bad {
                topic.set("retention.ms", &bad_retention_ms)
            } else {
                topic
            }
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(timeout)).request_timeout(Some(timeout));
    let results = admin
        .create_topics(new_topics.iter(), &options)
        .await
        .map_err(|e| anyhow::anyhow!("Kafka broker unreachable at {brokers}: {e}"))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => anyhow::bail!("creating Kafka topic {topic} on {brokers} failed: {code}"),
        }
    }
    Ok(())
}

/// One record read back from a topic.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub payload: String,
}

/// Reads every record of a topic, from the beginning to the current end of each partition, without joining
/// a consumer group (for inspection and tests).
pub async fn read_topic(brokers: &Connection, topic: &str, timeout: Duration) -> anyhow::Result<Vec<StoredRecord>> {
    use rdkafka::{message::Message, Offset, TopicPartitionList};
    let (brokers, topic) = (brokers.clone(), topic.to_string());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = client_config(&brokers)
            .set("group.id", "cartograph-inspect")
            .set("enable.auto.commit", "false")
            .create()
            .context("creating a Kafka client")?;
        let metadata = consumer
            .fetch_metadata(Some(&topic), timeout)
            .map_err(|e| anyhow::anyhow!("Kafka broker unreachable at {brokers}: {e}"))?;
        let partitions: Vec<i32> =
            metadata.topics().iter().flat_map(|t| t.partitions().iter().map(|p| p.id())).collect();
        let mut assignment = TopicPartitionList::new();
        let mut remaining = 0usize;
        let mut ends = std::collections::HashMap::new();
        for partition in partitions {
            let (low, high) = consumer
                .fetch_watermarks(&topic, partition, timeout)
                .with_context(|| format!("reading the watermarks of {topic}/{partition}"))?;
            if high > low {
                assignment.add_partition_offset(&topic, partition, Offset::Offset(low))?;
                ends.insert(partition, high);
                remaining += 1;
            }
        }
        let mut records = Vec::new();
        if remaining == 0 {
            return Ok(records);
        }
        consumer.assign(&assignment)?;
        let mut finished = std::collections::HashSet::new();
        let deadline = std::time::Instant::now() + timeout;
        while remaining > 0 && std::time::Instant::now() < deadline {
            let Some(message) = consumer.poll(Duration::from_millis(200)) else { continue };
            let message = message?;
            let end = ends[&message.partition()];
            if message.offset() < end {
                records.push(StoredRecord {
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    payload: message.payload().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default(),
                });
            }
            // Once per partition: a topic still being written to goes on past the end read at the start.
            if message.offset() + 1 >= end && finished.insert(message.partition()) {
                remaining -= 1;
            }
        }
        anyhow::ensure!(remaining == 0, "reading {topic} did not reach its end within {}s", timeout.as_secs());
        Ok(records)
    })
    .await
    .context("the topic reader panicked")?
}

#[cfg(test)]
mod tests {
    use super::partition_lag;
    use serde_json::json;

    #[test]
    fn lag_comes_from_librdkafka_or_from_the_log_start_before_any_commit() {
        assert_eq!(
            partition_lag(&json!({"consumer_lag": 7, "fetch_state": "active", "hi_offset": 9, "lo_offset": 0})),
            Some(7)
        );
        assert_eq!(
            partition_lag(&json!({"consumer_lag": -1, "fetch_state": "active", "hi_offset": 5, "lo_offset": 2})),
            Some(3)
        );
        assert_eq!(
            partition_lag(&json!({"consumer_lag": -1, "fetch_state": "none", "hi_offset": 5, "lo_offset": 0})),
            None,
            "owned elsewhere"
        );
        assert_eq!(
            partition_lag(&json!({"consumer_lag": -1, "fetch_state": "active", "hi_offset": -1, "lo_offset": -1})),
            None
        );
    }
}
