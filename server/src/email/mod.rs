//! The worker's transactional email: the messages `app::email` writes with each order change (the `emails` table),
//! rendered from the templates in `server/templates/email` ([`letters`]: a plain-text and an HTML part each) and
//! sent over SMTP (`lettre`).
//!
//! Each round claims the due messages (`FOR UPDATE SKIP LOCKED`, so several worker copies share the work; a claim is
//! a lease: a worker that dies mid-send leaves the message due again once the lease is over), sends each, and
//! records the attempt on its row: sent (with the subject line, once), or failed with the error and the next
//! attempt `retry_base × 2^(attempts − 1)` later (at most an hour); after `max_attempts`, or at once for an answer
//! that retrying cannot change (a 5xx: the address or the message was refused), the message is marked failed.
//! Every message carries a Message-ID of its own row, so a resend after a crash between sending and recording is
//! one message to a mail client.

pub mod letters;

use crate::{
    config::EmailSettings,
    shutdown::{doubling_backoff, Shutdown},
};
use anyhow::Context;
use app::email::EmailKind;
use lettre::{
    message::{Mailbox, MultiPart},
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

/// Messages claimed per round.
const BATCH: i64 = 16;
/// How often an idle sender looks for due messages.
const POLL: Duration = Duration::from_millis(500);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3_600);
/// The most of an error message kept on the row.
const ERROR_CHARS: usize = 300;

/// A claimed message.
pub struct Due {
    pub id: i64,
    pub kind: String,
    pub order_id: Uuid,
    pub about_id: Option<Uuid>,
    pub recipient: String,
    pub attempts: i32,
}

/// How one attempt went.
enum Outcome {
    Sent {
        subject: String,
    },
    /// Worth trying again later (the server was down, a 4xx, a timeout).
    Retry(String),
    /// Retrying cannot help: a 5xx answer, an address that is not one, a message that cannot be rendered.
    GiveUp(String),
}

/// Sends due messages until shutdown; several can run, in one worker or many.
pub struct Mailer {
    pool: PgPool,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
    settings: EmailSettings,
}

impl Mailer {
    /// The mailer for `settings`, or `None` when no SMTP server is set (messages then wait in the table).
    pub fn new(pool: PgPool, settings: &EmailSettings, public_url: &str) -> anyhow::Result<Option<Self>> {
        let Some(url) = &settings.smtp_url else { return Ok(None) };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            .context("CARTOGRAPH_SMTP_URL is not an SMTP URL (smtp://host:port, smtps://user:pass@host:465)")?
            .timeout(Some(settings.timeout))
            .build();
        let from = settings.from.parse::<Mailbox>().with_context(|| {
            format!("CARTOGRAPH_EMAIL_FROM is not an address such as `Shop <shop@example.com>`: {}", settings.from)
        })?;
        let public_url = public_url.trim_end_matches('/').to_string();
        Ok(Some(Self { pool, transport, from, public_url, settings: settings.clone() }))
    }

    /// Sends until `shutdown`: a full round is followed by the next at once, a short one by a pause.
    pub async fn run_until(self, shutdown: Shutdown) {
        shutdown.drain(BATCH as usize, POLL, "sending email", || self.send_due()).await;
    }

    /// One round: claims the due messages, attempts each in turn, records every attempt; returns how many.
    pub async fn send_due(&self) -> anyhow::Result<usize> {
        let lease = self.settings.timeout * 2 + Duration::from_secs(30);
        let due = sqlx::query_as!(
            Due,
            r#"
            WITH due AS (
                SELECT id FROM emails WHERE status = 'pending' AND next_attempt_at <= now()
                ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
            )
            UPDATE emails e SET next_attempt_at = now() + make_interval(secs => $2)
            FROM due WHERE e.id = due.id
            RETURNING e.id, e.kind, e.order_id, e.about_id, e.recipient, e.attempts
            "#,
            BATCH,
            lease.as_secs_f64(),
        )
        .fetch_all(&self.pool)
        .await
        .context("claiming due email")?;
        for message in &due {
            let outcome = self.attempt(message).await;
            self.record(message, outcome).await.context("recording an email attempt")?;
        }
        Ok(due.len())
    }

    async fn attempt(&self, due: &Due) -> Outcome {
        let Some(kind) = EmailKind::parse(&due.kind) else {
            return Outcome::GiveUp(format!("unknown kind {}", due.kind));
        };
        let letter = match letters::letter(&self.pool, kind, due.order_id, due.about_id, &self.public_url).await {
            Ok(Some(letter)) => letter,
            Ok(None) => return Outcome::GiveUp("what it is about no longer exists".into()),
            Err(error) => return Outcome::Retry(format!("reading the order: {error:#}")),
        };
        let (text, html) = match letters::render(kind, &letter) {
            Ok(parts) => parts,
            Err(error) => return Outcome::GiveUp(format!("rendering: {error:#}")),
        };
        let to = match due.recipient.parse::<Mailbox>() {
            Ok(to) => to,
            Err(error) => return Outcome::GiveUp(format!("the recipient is not an address: {error}")),
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(letter.subject.clone())
            .message_id(Some(format!("<email-{}.{}@cartograph>", due.id, due.order_id.simple())))
            .multipart(MultiPart::alternative_plain_html(text, html));
        let message = match message {
            Ok(message) => message,
            Err(error) => return Outcome::GiveUp(format!("building the message: {error}")),
        };
        match self.transport.send(message).await {
            Ok(_) => Outcome::Sent { subject: letter.subject },
            Err(error) if error.is_permanent() => Outcome::GiveUp(format!("refused: {error}")),
            Err(error) => Outcome::Retry(error.to_string()),
        }
    }

    async fn record(&self, due: &Due, outcome: Outcome) -> Result<(), sqlx::Error> {
        let attempts = due.attempts + 1;
        match outcome {
            Outcome::Sent { subject } => {
                tracing::info!(email = due.id, kind = %due.kind, order = %due.order_id, "email sent");
                sqlx::query!(
                    r#"UPDATE emails SET status = 'sent', attempts = $2, subject = $3, sent_at = now(), last_error = NULL
                       WHERE id = $1 AND status = 'pending'"#,
                    due.id,
                    attempts,
                    subject
                )
                .execute(&self.pool)
                .await?;
            }
            Outcome::Retry(error) if attempts < self.settings.max_attempts => {
                let wait = doubling_backoff(self.settings.retry_base, attempts, MAX_BACKOFF);
                tracing::warn!(email = due.id, attempts, error = %error, retry_in_secs = wait.as_secs(), "email not sent; will retry");
                sqlx::query!(
                    r#"UPDATE emails SET attempts = $2, last_error = $3, next_attempt_at = now() + make_interval(secs => $4)
                       WHERE id = $1 AND status = 'pending'"#,
                    due.id,
                    attempts,
                    clip(&error),
                    wait.as_secs_f64()
                )
                .execute(&self.pool)
                .await?;
            }
            Outcome::Retry(error) | Outcome::GiveUp(error) => {
                tracing::error!(email = due.id, attempts, error = %error, "email given up");
                sqlx::query!(
                    "UPDATE emails SET status = 'failed', attempts = $2, last_error = $3 WHERE id = $1 AND status = 'pending'",
                    due.id,
                    attempts,
                    clip(&error)
                )
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(())
    }
}

fn clip(error: &str) -> String {
    error.chars().take(ERROR_CHARS).collect()
}
