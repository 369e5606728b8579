//! Broker plumbing shared by the web process and the worker: client settings, topics, reachability.

use anyhow::Context;
use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    config::ClientConfig,
    consumer::{BaseConsumer, Consumer},
    types::RDKafkaErrorCode,
};
use std::time::Duration;

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

/// Settings every client shares.
pub fn client_config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("socket.timeout.ms", "10000")
        .set("log_level", "3");
    config
}

/// Creates any missing topic; an existing topic is fine.
pub async fn ensure_topics(brokers: &str, topics: &Topics, partitions: i32, timeout: Duration) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        client_config(brokers).create().context("creating the Kafka admin client")?;
    let new_topics: Vec<NewTopic> =
        topics.all().iter().map(|name| NewTopic::new(name, partitions, TopicReplication::Fixed(1))).collect();
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

/// Asks the broker for its metadata; an error names the broker list.
pub async fn ping(brokers: &str, timeout: Duration) -> anyhow::Result<()> {
    let brokers = brokers.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = client_config(&brokers).create().context("creating a Kafka client")?;
        consumer
            .fetch_metadata(None, timeout)
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("Kafka broker unreachable at {brokers}: {e}"))
    })
    .await
    .context("the broker check panicked")?
}
