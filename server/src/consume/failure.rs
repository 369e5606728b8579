//! What the worker does when a write fails: a record that can never be stored is set aside with its reason and
//! the partition moves on; a failure that passes (the database restarting, a full pool) is retried with backoff,
//! never skipped, counted in `/metrics` and reported by the worker's `/readyz` while it lasts.

use crate::{prometheus::names, shutdown::Shutdown};
use rdkafka::message::{BorrowedMessage, Message};
use sqlx::PgPool;
use std::{
    collections::BTreeSet,
    future::Future,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

/// How a failed write is handled.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// The same record fails the same way every time: set it aside.
    Permanent(String),
    /// Worth retrying: the database or the connection, not the record.
    Transient(String),
}

/// Sorts a database error. Data exceptions (SQLSTATE class 22: bad bytes, a value out of range, invalid JSON),
/// integrity constraint violations (23) and program limits (54: a value too large to store) are the record's
/// fault; so is a value that cannot be encoded. Everything else — connection errors, pool timeouts,
/// serialization failures (40), an admin shutdown (57), resources (53) — is the database's, and passes.
pub fn classify(error: &sqlx::Error) -> Failure {
    match error {
        sqlx::Error::Database(db) => match db.code().as_deref().map(|code| code.get(..2).unwrap_or(code)) {
            Some("22" | "23" | "54") => Failure::Permanent(format!("rejected by the database: {db}")),
            _ => Failure::Transient(db.to_string()),
        },
        sqlx::Error::Encode(error) => Failure::Permanent(format!("cannot be encoded: {error}")),
        sqlx::Error::TypeNotFound { type_name } => Failure::Permanent(format!("unknown type {type_name}")),
        other => Failure::Transient(other.to_string()),
    }
}

/// Which consumers are failing to store right now; the worker is not ready while any is.
#[derive(Clone, Default)]
pub struct StorageHealth(Arc<Mutex<BTreeSet<&'static str>>>);

impl StorageHealth {
    fn set(&self, consumer: &'static str, failing: bool) {
        let mut set = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let changed = if failing { set.insert(consumer) } else { set.remove(consumer) };
        if changed {
            metrics::gauge!(names::STORAGE_FAILING, "consumer" => consumer).set(f64::from(u8::from(failing)));
        }
    }

    /// The consumers whose writes are failing, by name.
    pub fn failing(&self) -> Vec<&'static str> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).iter().copied().collect()
    }
}

/// Where a consumer's writes go, and what they need to be retried or set aside: one per worker, shared by its
/// consumers.
#[derive(Clone)]
pub struct Writes {
    pub pool: PgPool,
    pub health: StorageHealth,
    pub shutdown: Shutdown,
}

impl Writes {
    /// [`retry_transient`] for `consumer`'s write.
    pub async fn retry<T, F, Fut>(&self, consumer: &'static str, write: F) -> Attempt<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        retry_transient(consumer, &self.health, &self.shutdown, write).await
    }

    /// [`set_aside`] for one of `consumer`'s records.
    pub async fn set_aside(&self, consumer: &'static str, message: &BorrowedMessage<'_>, reason: &str) -> bool {
        set_aside(&self.pool, consumer, &self.health, &self.shutdown, message, reason).await
    }
}

/// The outcome of [`retry_transient`].
pub enum Attempt<T> {
    Done(T),
    /// The write can never succeed, for this reason.
    Permanent(String),
    /// The worker is stopping.
    Stopped,
}

/// Runs `write` until it succeeds, fails for good, or the worker stops; transient failures are retried with
/// backoff (200 ms doubling to 10 s), counted, and mark `consumer` as failing in `health` until a write succeeds.
pub async fn retry_transient<T, F, Fut>(
    consumer: &'static str,
    health: &StorageHealth,
    shutdown: &Shutdown,
    mut write: F,
) -> Attempt<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut delay = Duration::from_millis(200);
    loop {
        let error = match write().await {
            Ok(value) => {
                health.set(consumer, false);
                return Attempt::Done(value);
            }
            Err(error) => error,
        };
        match classify(&error) {
            Failure::Permanent(reason) => {
                health.set(consumer, false);
                return Attempt::Permanent(reason);
            }
            Failure::Transient(reason) => {
                health.set(consumer, true);
                metrics::counter!(names::STORAGE_RETRIES, "consumer" => consumer).increment(1);
                tracing::warn!(consumer, error = %reason, retry_in_ms = delay.as_millis() as u64, "a write failed; retrying");
            }
        }
        tokio::select! {
            _ = shutdown.wait() => return Attempt::Stopped,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// A readable copy of a record's bytes for `clickstream_rejects.payload`: invalid UTF-8 and every control
/// character except tab and newline are escaped (`\u{0}`), so the copy itself can always be stored. The bytes
/// themselves go to `raw` unchanged.
pub fn readable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| {
            if app::tracking::schema::is_forbidden_control(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Sets a record aside in `clickstream_rejects` (any topic's: the table is keyed by topic, partition and
/// offset), retrying transient failures. Returns false only when the worker is stopping: the offset must then
/// not be stored, and the record comes back to the next member.
pub async fn set_aside(
    pool: &PgPool,
    consumer: &'static str,
    health: &StorageHealth,
    shutdown: &Shutdown,
    message: &BorrowedMessage<'_>,
    reason: &str,
) -> bool {
    let raw = message.payload().unwrap_or_default();
    let payload = readable(raw);
    let reason = readable(reason.as_bytes());
    metrics::counter!(names::RECORDS_SET_ASIDE, "consumer" => consumer).increment(1);
    tracing::warn!(consumer, topic = message.topic(), partition = message.partition(), offset = message.offset(), %reason, "set a record aside");
    let stored = retry_transient(consumer, health, shutdown, || {
        sqlx::query!(
            r#"
            INSERT INTO clickstream_rejects (topic, kafka_partition, kafka_offset, reason, payload, raw)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING
            "#,
            message.topic(),
            message.partition(),
            message.offset(),
            &reason,
            &payload,
            raw,
        )
        .execute(pool)
    })
    .await;
    match stored {
        Attempt::Done(_) => true,
        Attempt::Stopped => false,
        // The copy is escaped and the reason ours: this cannot happen, and must not stop the partition if it does.
        Attempt::Permanent(error) => {
            tracing::error!(consumer, %error, offset = message.offset(), "could not even set the record aside; skipping it");
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_copies_escape_nul_and_controls_and_keep_the_rest() {
        assert_eq!(readable(b"a\0b"), "a\\u{0}b");
        assert_eq!(readable(b"tab\there\nnew line \x1b[2J"), "tab\there\nnew line \\u{1b}[2J");
        assert_eq!(readable("zelt für zwei".as_bytes()), "zelt für zwei");
        assert_eq!(readable(b"\xff\xfe"), "\u{fffd}\u{fffd}");
    }

    #[test]
    fn transient_and_permanent_failures_are_told_apart() {
        assert!(matches!(classify(&sqlx::Error::PoolTimedOut), Failure::Transient(_)));
        assert!(matches!(classify(&sqlx::Error::Io(std::io::Error::other("reset"))), Failure::Transient(_)));
        let encode = sqlx::Error::Encode(Box::new(std::io::Error::other("not encodable")));
        assert!(matches!(classify(&encode), Failure::Permanent(_)));
    }
}
