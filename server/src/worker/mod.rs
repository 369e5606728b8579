//! The worker process: a composition root that starts each flow's consumer and background jobs and stops them
//! together. The consumers share one loop ([`crate::consume`]) and one way of handling a failed write
//! ([`crate::consume::failure`]);
//! what each does is in its flow:
//!
//! | job | flow |
//! |---|---|
//! | store clickstream events | [`crate::clickstream::consumer`] |
//! | close idle visits, render their journeys | [`crate::journey::closer`] |
//! | relay the outboxes to Kafka | [`crate::catalog_events::outbox`] |
//! | turn catalog events into notifications | [`crate::catalog_events::notifications`] |
//! | settle payments left in flight | [`crate::orders::settlement`] |
//! | deliver webhooks | [`crate::webhooks`] |
//! | delete what is past retention | [`crate::retention`] |

mod metrics;

use crate::consume::{consume, failure, Subscription};
use crate::{
    catalog_events::{
        notifications::Notify,
        outbox::{Outbox, OutboxRelay},
    },
    clickstream::consumer::StoreEvents,
    config::Settings,
    journey::closer::{self, ClosingRules},
    kafka::{self, Topics},
    retention::{self, RetentionRules},
    shutdown::Shutdown,
};
use std::time::Duration;

/// Checks the database and the broker, then runs every job until `shutdown` fires.
pub async fn run(settings: Settings, shutdown: Shutdown) -> anyhow::Result<()> {
    let timeout = settings.startup_timeout;
    crate::prometheus::install();
    let health = failure::StorageHealth::default();
    let metrics_listener = match settings.telemetry.worker_metrics_addr() {
        Some(addr) => Some(metrics::serve(addr, health.clone(), shutdown.clone()).await?),
        None => None,
    };
    let pool = crate::db::prepare(&settings).await?;
    let kafka = settings.kafka.connection();
    let topics = Topics::new(&settings.kafka.topic_prefix);
    kafka::ensure_topics(&kafka, &topics, settings.kafka.partitions, timeout).await?;

    let mut jobs = tokio::task::JoinSet::new();
    for (outbox, topic) in [(Outbox::Catalog, &topics.catalog), (Outbox::Clickstream, &topics.clickstream)] {
        let relay = OutboxRelay::new(pool.clone(), &kafka, outbox, topic.clone())?;
        jobs.spawn(relay.run_until(Duration::from_millis(500), shutdown.clone()));
    }
    let deliverer = crate::webhooks::Deliverer::new(
        pool.clone(),
        settings.webhook_targets(),
        crate::webhooks::RetryRules::from_settings(&settings.webhooks),
    )?;
    jobs.spawn(deliverer.run_until(shutdown.clone()));
    match crate::email::Mailer::new(pool.clone(), &settings.email, &settings.public_url)? {
        Some(mailer) => {
            jobs.spawn(mailer.run_until(shutdown.clone()));
        }
        None => tracing::warn!(
            "CARTOGRAPH_SMTP_URL is not set: order confirmations and the other messages to shoppers wait in the \
             `emails` table, unsent, until it is"
        ),
    }
    jobs.spawn(retention::run_until(
        pool.clone(),
        RetentionRules::from_settings(&settings.retention),
        settings.retention.sweep,
        shutdown.clone(),
    ));
    jobs.spawn(crate::orders::settlement::settle_until(
        pool.clone(),
        crate::orders::payments(&settings.payments, settings.visits.signing_key(), &pool),
        settings.payments.settle_sweep,
        shutdown.clone(),
    ));
    let rules = ClosingRules {
        idle: settings.visits.idle,
        sign_out_grace: Duration::from_secs(5),
        every: settings.visits.sweep,
    };
    jobs.spawn(closer::close_visits_until(pool.clone(), rules, shutdown.clone()));

    let group = &settings.kafka.consumer_group;
    let member = settings.kafka.group_member.as_deref();
    let notifications_group = format!("{group}.notifications");
    let notifications_member = member.map(|member| format!("{member}.notifications"));
    let writes = failure::Writes { pool: pool.clone(), health, shutdown: shutdown.clone() };
    let notify = Notify { writes: writes.clone() };
    let cart_reminder = Some(settings.visits.cart_reminder).filter(|after| !after.is_zero());
    let store = StoreEvents { writes, visit_max_events: settings.visits.max_events.get(), cart_reminder };
    let clickstream = Subscription { kafka: &kafka, group, member, topic: &topics.clickstream };
    let catalog = Subscription {
        kafka: &kafka,
        group: &notifications_group,
        member: notifications_member.as_deref(),
        topic: &topics.catalog,
    };
    // The clickstream consumer ending (the stop, or a failure) ends the worker.
    let storing = async {
        let stored = consume(clickstream, &store, &shutdown).await;
        shutdown.trigger();
        stored
    };
    let (stored, notified) = tokio::join!(storing, consume(catalog, &notify, &shutdown));
    while let Some(joined) = jobs.join_next().await {
        if let Err(error) = joined {
            tracing::error!(%error, "a worker job panicked");
        }
    }
    if let Err(error) = &notified {
        tracing::error!(error = %format!("{error:#}"), "the notifications consumer failed");
    }
    pool.close().await;
    if let Some(listener) = metrics_listener {
        let _ = listener.await;
    }
    stored
}
