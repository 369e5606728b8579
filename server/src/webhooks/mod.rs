//! The worker's webhook deliveries (the rows `app::webhooks::store` writes with each change).
//!
//! Each round claims the due deliveries of enabled endpoints (`FOR UPDATE SKIP LOCKED`, so several worker copies
//! share the work; a claim is a lease: a worker that dies mid-attempt leaves the delivery due again once the lease
//! is over), posts each one signed ([`signature`]), and records the attempt with the delivery's new state in one
//! transaction:
//!
//! - a `2xx` answer delivers it, and the endpoint's failures in a row start again from nothing;
//! - anything else (another status, a redirect, which is never followed, a timeout, a refused address) is a
//!   failure: the next attempt waits `retry_base × 2^(attempts − 1)` (at most an hour), and once that would be
//!   later than `retry_for` after the round began the delivery gives up (`failed`); at `disable_after` failures
//!   in a row the endpoint is turned off with the reason, its waiting deliveries kept for when an admin turns it
//!   on again.
//!
//! Where a request may connect is checked twice: the URL's form and any literal address before the request
//! ([`app::webhooks::TargetRules::check`]), and every address its name resolves to, at connection time, by the
//! client's resolver ([`Guard`]) — so a name that resolves to an internal address later (DNS rebinding) is refused
//! too. No proxy from the environment is used, and redirects are never followed.

pub mod signature;

use crate::{config::WebhookSettings, prometheus::names, shutdown::Shutdown};
use anyhow::Context;
use app::webhooks::TargetRules;
use chrono::{DateTime, Utc};
use futures::future::join_all;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sqlx::PgPool;
use std::{net::SocketAddr, sync::Arc, time::Duration};
use uuid::Uuid;

/// Deliveries claimed per round.
const BATCH: i64 = 32;
/// How often an idle deliverer looks for due deliveries.
const POLL: Duration = Duration::from_millis(500);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3_600);
/// The most of an error message kept with an attempt.
const ERROR_CHARS: usize = 300;

/// How deliveries are retried, and when an endpoint is turned off.
#[derive(Debug, Clone, Copy)]
pub struct RetryRules {
    pub timeout: Duration,
    pub retry_base: Duration,
    pub retry_for: Duration,
    pub disable_after: i32,
}

impl RetryRules {
    pub fn from_settings(settings: &WebhookSettings) -> Self {
        Self {
            timeout: settings.timeout,
            retry_base: settings.retry_base,
            retry_for: settings.retry_for,
            disable_after: settings.disable_after,
        }
    }

    /// The wait before the attempt after `attempts` failed ones.
    pub fn backoff(&self, attempts: i32) -> Duration {
        crate::shutdown::doubling_backoff(self.retry_base, attempts, MAX_BACKOFF)
    }
}

/// A claimed delivery.
struct Due {
    id: Uuid,
    endpoint_id: Uuid,
    event_id: Uuid,
    event: String,
    body: String,
    attempts: i32,
    url: String,
    secret: String,
}

/// How one attempt went.
struct Outcome {
    status: Option<u16>,
    error: Option<String>,
    latency: Duration,
}

impl Outcome {
    fn delivered(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|status| (200..300).contains(&status))
    }
}

/// The client's resolver: a name's addresses, less those [`TargetRules`] refuse; an error when none is left.
struct Guard(TargetRules);

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let rules = self.0;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| rules.allows(addr.ip()).map_err(|reason| refusal = Some(reason)).is_ok())
                .collect();
            if allowed.is_empty() {
                let reason = refusal.unwrap_or_else(|| format!("{} has no address", name.as_str()));
                return Err(format!("refused: {reason}").into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Sends due deliveries; several can run, in one worker or many.
#[derive(Clone)]
pub struct Deliverer {
    pool: PgPool,
    client: reqwest::Client,
    targets: TargetRules,
    rules: RetryRules,
}

impl Deliverer {
    pub fn new(pool: PgPool, targets: TargetRules, rules: RetryRules) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(rules.timeout)
            .connect_timeout(rules.timeout)
            .user_agent(concat!("Cartograph-Webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(Guard(targets)))
            .build()
            .context("building the webhook client")?;
        Ok(Self { pool, client, targets, rules })
    }

    /// Delivers until `shutdown`: a full round is followed by the next at once, a short one by a pause.
    pub async fn run_until(self, shutdown: Shutdown) {
        shutdown.drain(BATCH as usize, POLL, "webhook deliveries", || self.deliver_due()).await;
    }

    /// One round: claims the due deliveries, attempts each (at once), records every attempt; returns how many.
    pub async fn deliver_due(&self) -> anyhow::Result<usize> {
        let lease = self.rules.timeout + Duration::from_secs(30);
        let due = sqlx::query_as!(
            Due,
            r#"
            WITH due AS (
                SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND e.enabled
                ORDER BY d.next_attempt_at
                LIMIT $1
                FOR UPDATE OF d SKIP LOCKED
            )
            UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => $2)
            FROM due, webhook_endpoints e
            WHERE d.id = due.id AND e.id = d.endpoint_id
            RETURNING d.id AS "id!", d.endpoint_id AS "endpoint_id!", d.event_id AS "event_id!", d.event AS "event!",
                      d.payload::text AS "body!", d.attempts AS "attempts!", e.url AS "url!", e.secret AS "secret!"
            "#,
            BATCH,
            lease.as_secs_f64(),
        )
        .fetch_all(&self.pool)
        .await
        .context("claiming due webhook deliveries")?;
        let count = due.len();
        let recorded = join_all(due.iter().map(|due| async move {
            let outcome = self.attempt(due).await;
            self.record(due, &outcome).await
        }))
        .await;
        for result in recorded {
            result.context("recording a webhook attempt")?;
        }
        Ok(count)
    }

    async fn attempt(&self, due: &Due) -> Outcome {
        let started = std::time::Instant::now();
        let url = match self.targets.check(&due.url) {
            Ok(url) => url,
            Err(reason) => {
                return Outcome { status: None, error: Some(format!("refused: {reason}")), latency: started.elapsed() }
            }
        };
        let timestamp = Utc::now().timestamp();
        let sent = self
            .client
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(signature::HEADER, signature::header(&due.secret, timestamp, due.body.as_bytes()))
            .header("cartograph-event", &due.event)
            .header("cartograph-event-id", due.event_id.to_string())
            .header("cartograph-delivery", due.id.to_string())
            .body(due.body.clone())
            .send()
            .await;
        let latency = started.elapsed();
        match sent {
            Ok(response) if response.status().is_redirection() => {
                let to = response.headers().get(http::header::LOCATION).and_then(|to| to.to_str().ok());
                Outcome {
                    status: Some(response.status().as_u16()),
                    error: Some(format!("redirects are not followed (to {})", to.unwrap_or("nowhere"))),
                    latency,
                }
            }
            Ok(response) => Outcome { status: Some(response.status().as_u16()), error: None, latency },
            Err(error) => Outcome { status: None, error: Some(describe(&error)), latency },
        }
    }

    /// Stores the attempt, moves the delivery on and counts the endpoint's failures, in one transaction.
    async fn record(&self, due: &Due, outcome: &Outcome) -> Result<(), sqlx::Error> {
        let delivered = outcome.delivered();
        let label = match (&outcome.error, delivered) {
            (_, true) => "delivered",
            (Some(error), _) if error.starts_with("refused") => "refused",
            _ => "failed",
        };
        metrics::counter!(names::WEBHOOK_ATTEMPTS, "outcome" => label).increment(1);
        let error: Option<String> = outcome.error.as_ref().map(|error| error.chars().take(ERROR_CHARS).collect());
        let backoff = self.rules.backoff(due.attempts + 1);
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "INSERT INTO webhook_attempts (delivery_id, status_code, latency_ms, error) VALUES ($1, $2, $3, $4)",
            due.id,
            outcome.status.map(i32::from),
            i32::try_from(outcome.latency.as_millis()).unwrap_or(i32::MAX),
            error,
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            r#"
            UPDATE webhook_deliveries
            SET attempts = attempts + 1,
                state = CASE WHEN $2 THEN 'delivered'
                             WHEN now() + make_interval(secs => $3) > started_at + make_interval(secs => $4) THEN 'failed'
                             ELSE 'pending' END,
                next_attempt_at = now() + make_interval(secs => $3),
                finished_at = CASE WHEN $2 OR now() + make_interval(secs => $3) > started_at + make_interval(secs => $4)
                                   THEN now() END
            WHERE id = $1
            "#,
            due.id,
            delivered,
            backoff.as_secs_f64(),
            self.rules.retry_for.as_secs_f64(),
        )
        .execute(&mut *tx)
        .await?;
        let turned_off: Option<DateTime<Utc>> = sqlx::query_scalar!(
            r#"
            UPDATE webhook_endpoints
            SET failures_in_a_row = CASE WHEN $2 THEN 0 ELSE failures_in_a_row + 1 END,
                enabled = enabled AND ($2 OR failures_in_a_row + 1 < $3),
                disabled_reason = CASE WHEN enabled AND NOT $2 AND failures_in_a_row + 1 >= $3
                                       THEN format('%s failed attempts in a row', failures_in_a_row + 1)
                                       ELSE disabled_reason END
            WHERE id = $1
            RETURNING CASE WHEN NOT enabled AND NOT $2 AND failures_in_a_row = $3 THEN now() END AS "off?: DateTime<Utc>"
            "#,
            due.endpoint_id,
            delivered,
            self.rules.disable_after,
        )
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
        tx.commit().await?;
        if turned_off.is_some() {
            tracing::warn!(endpoint = %due.endpoint_id, url = %due.url, "a webhook endpoint kept failing and was turned off");
        }
        Ok(())
    }
}

/// A request error with its causes ("error sending request: …: refused: 10.0.0.1 is an internal address").
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() { "timed out".to_string() } else { error.to_string() };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text = format!("{text}: {said}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_an_hour() {
        let rules = RetryRules {
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(30),
            retry_for: Duration::from_secs(86_400),
            disable_after: 20,
        };
        let waits: Vec<u64> = (1..=9).map(|attempts| rules.backoff(attempts).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(rules.backoff(1_000).as_secs(), 3600, "no overflow");
    }

    #[tokio::test]
    async fn the_resolver_drops_the_addresses_the_rules_refuse() {
        use std::str::FromStr;
        let strict = TargetRules { https_only: true, allow_loopback: false, allow_private: false };
        let error = Guard(strict).resolve(Name::from_str("localhost").unwrap()).await.err().unwrap().to_string();
        assert!(error.starts_with("refused: ") && error.contains("internal address"), "{error}");
        let dev = TargetRules { allow_loopback: true, ..strict };
        let found: Vec<SocketAddr> = Guard(dev).resolve(Name::from_str("localhost").unwrap()).await.unwrap().collect();
        assert!(!found.is_empty() && found.iter().all(|addr| addr.ip().is_loopback()), "{found:?}");
    }
}
