//! The one consume loop every consumer group of the worker runs (`failure` is what it does with a failed write): take a message, hand it to the flow's
//! [`Handler`], store its offset only once it was dealt with, until the stop; then commit and leave the group.
//!
//! Offsets are stored only after the handler's database commit (at-least-once delivery); each handler's writes
//! ignore what they have seen, so a replay changes nothing (exactly-once effect).

pub mod failure;

use crate::{
    kafka::{at_least_once_consumer_config, lag_reporting_consumer, Connection, ConsumerErrors, GroupConsumer},
    shutdown::Shutdown,
};
use anyhow::Context;
use rdkafka::{consumer::Consumer, message::BorrowedMessage};
use std::{future::Future, time::Duration};

/// How long a stopping consumer waits for the broker to take its last commit and its leaving the group.
pub const CLOSE_LIMIT: Duration = Duration::from_secs(10);

/// What one consumer does with each message of its topic.
pub trait Handler: Sync {
    /// The consumer's name in logs, metrics and readiness.
    const NAME: &'static str;

    /// Deals with one message: stores its effect, or sets it aside when it can never be stored. False only when
    /// the worker is stopping before the message was dealt with (its offset must then not be stored).
    fn handle(&self, message: &BorrowedMessage<'_>) -> impl Future<Output = bool> + Send;
}

/// Where a consumer reads: the cluster, its group (and static member name, if any) and its topic.
pub struct Subscription<'a> {
    pub kafka: &'a Connection,
    pub group: &'a str,
    pub member: Option<&'a str>,
    pub topic: &'a str,
}

/// Joins the group, consumes `subscription.topic` with `handler` until `shutdown`, then commits what was
/// handled and leaves the group.
pub async fn consume<H: Handler>(
    subscription: Subscription<'_>,
    handler: &H,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let Subscription { kafka, group, member, topic } = subscription;
    let consumer = GroupConsumer::new(
        lag_reporting_consumer(
            at_least_once_consumer_config(kafka, group, member)
                .set("partition.assignment.strategy", "cooperative-sticky"),
            group,
        )
        .with_context(|| format!("creating the {} consumer", H::NAME))?,
    );
    consumer.subscribe(&[topic]).with_context(|| format!("subscribing to {topic}"))?;
    tracing::info!(consumer = H::NAME, %group, %topic, "consuming");
    let mut errors = ConsumerErrors::new(H::NAME);
    loop {
        let message = tokio::select! {
            _ = shutdown.wait() => break,
            message = consumer.recv() => message,
        };
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                errors.failed(&error);
                tokio::time::sleep(ConsumerErrors::PAUSE).await;
                continue;
            }
        };
        errors.read();
        if !handler.handle(&message).await {
            break;
        }
        if let Err(error) = consumer.store_offset_from_message(&message) {
            tracing::warn!(consumer = H::NAME, %error, "could not store the consumer offset");
        }
    }
    consumer.close(CLOSE_LIMIT).await;
    Ok(())
}
