//! The web server's catalog listener: every copy reads every `catalog.v1` event published after it started and
//! empties its own catalog cache ([`app::catalog::cache`]) for each, so a change an admin made on one copy reaches
//! the pages of all of them within the relay's delay.
//!
//! Each copy assigns itself every partition of the topic, from its end, as it starts (before it serves a page):
//! no consumer group, nothing committed, so copies never share partitions, wait for a rebalance or leave a group
//! behind. What happened before it started is already in the database, which the empty cache reads. While the
//! broker is away the listener waits and resumes where it was; the cache's age limit bounds what a missed event
//! (or a change made in SQL by hand) can leave on the pages.

use crate::{
    kafka::{client_config, Connection, ConsumerErrors, GroupConsumer},
    shutdown::Shutdown,
};
use anyhow::Context;
use app::catalog::cache::CatalogCache;
use rdkafka::{
    consumer::{Consumer, StreamConsumer},
    Offset, TopicPartitionList,
};
use std::time::Duration;

/// How long the listener waits for the topic's partitions at start.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

/// A consumer assigned every partition of the catalog topic, from its end, and the cache it empties: made while
/// the web server starts (before it serves a page, so the cache is still empty), run once it serves.
pub struct CatalogListener {
    consumer: GroupConsumer<StreamConsumer>,
    topic: String,
    cache: CatalogCache,
}

impl CatalogListener {
    /// Reads the topic's partitions and assigns them all, from their end, to empty `cache`.
    pub async fn assign(kafka: &Connection, topic: &str, cache: CatalogCache) -> anyhow::Result<Self> {
        let consumer: StreamConsumer = client_config(kafka)
            // librdkafka wants a group id for any consumer; with assign() and no commits it never joins the group.
            .set("group.id", "cartograph-catalog-cache")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .create()
            .context("creating the catalog listener")?;
        let consumer = GroupConsumer::new(consumer);
        let topic = topic.to_string();
        let assigning = topic.clone();
        // librdkafka blocks the calling thread for the round trip.
        let consumer = tokio::task::spawn_blocking(move || {
            let metadata = consumer
                .fetch_metadata(Some(&assigning), METADATA_TIMEOUT)
                .context("reading the topic's partitions")?;
            let mut assignment = TopicPartitionList::new();
            for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
                assignment.add_partition_offset(&assigning, partition.id(), Offset::End)?;
            }
            anyhow::ensure!(assignment.count() > 0, "{assigning} has no partitions");
            consumer.assign(&assignment).context("assigning the topic's partitions")?;
            Ok(consumer)
        })
        .await
        .context("the catalog listener's start panicked")??;
        Ok(Self { consumer, topic, cache })
    }

    /// Empties the cache at every catalog event until `shutdown`. While the broker is away it waits and resumes
    /// where it was (the pages fall back on the cache's age limit meanwhile).
    pub async fn run(self, shutdown: Shutdown) {
        let Self { consumer, topic, cache } = self;
        tracing::info!(%topic, "listening for catalog changes");
        let mut errors = ConsumerErrors::new("catalog cache");
        loop {
            let received = tokio::select! {
                _ = shutdown.wait() => break,
                received = consumer.recv() => received,
            };
            match received {
                Ok(_) => {
                    errors.read();
                    cache.invalidate();
                    metrics::counter!("cartograph_catalog_cache_invalidations_total").increment(1);
                }
                Err(error) => {
                    errors.failed(&error);
                    if !shutdown.sleep(ConsumerErrors::PAUSE).await {
                        break;
                    }
                }
            }
        }
    }
}
