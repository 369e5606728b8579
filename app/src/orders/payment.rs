//! Paying and refunding without double charges.
//!
//! No gateway call happens inside a database transaction. A charge is first committed as a `charging` row (a
//! refund as `refunding`), then the gateway is called with a stable idempotency key, then the answer is recorded
//! in a second transaction. Whatever a crash, a cancelled request or a timeout leaves in flight, the worker
//! settles with [`settle_in_flight`], by asking the gateway what became of that key: a reload can never charge
//! twice, and a refund is sent once however often it is retried.

pub use super::gateway::{
    test_cards, AttemptLimits, ChargeOutcome, ChargeRequest, GatewayError, GatewayFuture, PaymentGateway, Payments,
    RefundRequest, TestGateway, PAYMENTS_METRIC,
};
use super::{store, CardDetails, OrderStatus, PaymentOutcome, PaymentReceipt, PaymentState};
use crate::error::AppError;
use sqlx::PgPool;
use uuid::Uuid;

/// What a shopper reads while the payment gateway's circuit breaker is open.
pub const PAYMENTS_PAUSED: &str = "Payments are temporarily unavailable; your order is kept — try again in a minute.";
const OUT_OF_DATE: &str = "This payment form is out of date; reload the page.";
const IN_PROGRESS: &str = "A payment for this order is being processed; reload the page in a moment.";
const NOT_TAKEN: &str = "The payment service is not answering; you were not charged. Please try again.";
const REFUND_FAILED: &str = "The payment service could not refund right now; the order is unchanged. Try again.";

/// A charge committed as `charging`: about to be sent, or in flight.
struct Intent {
    payment: Uuid,
    order: Uuid,
    user: Uuid,
    key: String,
    gateway_key: String,
    amount_cents: i64,
    card_last4: String,
}

/// What became of a charge.
enum Settlement {
    Approved {
        reference: String,
    },
    Declined {
        reason: String,
    },
    /// The gateway refused to process the card: nothing was charged.
    Rejected {
        reason: String,
    },
    /// The gateway never took the charge: nothing was charged, and the same key may try again.
    NotTaken {
        reason: String,
    },
}

impl From<ChargeOutcome> for Settlement {
    fn from(outcome: ChargeOutcome) -> Self {
        match outcome {
            ChargeOutcome::Approved { reference } => Settlement::Approved { reference },
            ChargeOutcome::Declined { reason } => Settlement::Declined { reason },
        }
    }
}

/// Pays an order awaiting payment, at most once per (user, idempotency key), and at most one charge at a time
/// per order.
pub async fn pay(
    pool: &PgPool,
    payments: &Payments,
    user: Uuid,
    order: Uuid,
    card: CardDetails,
    idempotency_key: &str,
) -> Result<PaymentReceipt, AppError> {
    let key = idempotency_key.trim();
    if !(8..=128).contains(&key.len()) || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(AppError::Invalid(OUT_OF_DATE.into()));
    }
    // The breaker is asked before anything is written: while it is open the same attempt can simply be retried.
    let permit = payments.permit().map_err(|error| {
        tracing::info!(%order, %error, "payment refused: the gateway's breaker is open");
        AppError::Unavailable(PAYMENTS_PAUSED.into())
    })?;
    let (intent, currency) = match begin_charge(pool, payments, user, order, &card, key).await? {
        Begun::Replay(receipt) => return Ok(receipt),
        Begun::Charge(intent, currency) => (intent, currency),
    };
    let request = ChargeRequest {
        idempotency_key: intent.gateway_key.clone(),
        amount_cents: intent.amount_cents,
        currency,
        card,
    };
    let settlement = match payments.charge(permit, request).await {
        Ok(outcome) => Settlement::from(outcome),
        Err(GatewayError::Rejected(reason)) => Settlement::Rejected { reason },
        Err(GatewayError::Timeout) => {
            // The charge may have been taken: it stays `charging` until the gateway can tell.
            tracing::warn!(%order, "the payment gateway did not answer in time; the worker will settle the charge");
            return Ok(pending_receipt(&intent));
        }
        Err(error @ (GatewayError::Unavailable(_) | GatewayError::BreakerOpen(_))) => {
            tracing::warn!(%error, %order, "payment gateway failure");
            Settlement::NotTaken { reason: error.to_string() }
        }
    };
    settle_charge(pool, &intent, settlement).await?.ok_or_else(|| AppError::Invalid(NOT_TAKEN.into()))
}

enum Begun {
    /// The key was used before: its answer.
    Replay(PaymentReceipt),
    /// A new charge, committed as `charging`, in this currency.
    Charge(Intent, String),
}

/// The first transaction: the idempotency key, the order's checks, the throttle, and the `charging` row.
async fn begin_charge(
    pool: &PgPool,
    payments: &Payments,
    user: Uuid,
    order: Uuid,
    card: &CardDetails,
    key: &str,
) -> Result<Begun, AppError> {
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query!(
        "INSERT INTO idempotency (user_id, idempotency_key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        user,
        key
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        tx.rollback().await?;
        return replay(pool, payments, user, order, key).await.map(Begun::Replay);
    }

    let Some(row) = sqlx::query!(
        r#"SELECT status AS "status: OrderStatus", total_cents AS "total_cents!", currency, reserved_until < now() AS "lapsed!"
           FROM orders WHERE id = $1 AND user_id = $2 AND status <> 'cart' FOR UPDATE"#,
        order,
        user
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Err(AppError::NotFound);
    };
    let status = row.status;
    if status != OrderStatus::PendingPayment {
        return Err(AppError::Invalid(format!("This order is {}; it cannot be paid.", status.label().to_lowercase())));
    }
    if row.lapsed {
        return Err(AppError::Invalid("The reservation for this order ran out; please order again.".into()));
    }
    if in_flight(&mut tx, order).await? {
        return Err(AppError::Invalid(IN_PROGRESS.into()));
    }

    let fingerprint = payments.fingerprint(card);
    let limits = payments.limits;
    let failures = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE user_id = $1) AS "by_user!", count(*) FILTER (WHERE card_fingerprint = $2) AS "by_card!"
           FROM payments
           WHERE outcome IN ('declined', 'rejected') AND created_at > now() - make_interval(secs => $3)
             AND (user_id = $1 OR card_fingerprint = $2)"#,
        user,
        fingerprint,
        limits.window.as_secs_f64()
    )
    .fetch_one(&mut *tx)
    .await?;
    if failures.by_user >= i64::from(limits.per_user) || failures.by_card >= i64::from(limits.per_card) {
        metrics::counter!(PAYMENTS_METRIC, "outcome" => "throttled").increment(1);
        tracing::warn!(%user, %order, by_user = failures.by_user, by_card = failures.by_card, "payment refused: too many failed attempts");
        return Err(AppError::Throttled(format!(
            "Too many failed payment attempts. Please wait {} minutes before trying again.",
            limits.window.as_secs().div_ceil(60)
        )));
    }

    let intent = Intent {
        payment: Uuid::new_v4(),
        order,
        user,
        key: key.to_string(),
        gateway_key: format!("{user}:{key}"),
        amount_cents: row.total_cents,
        card_last4: card.last4().to_string(),
    };
    // A reservation cannot lapse under a charge in flight (the expiry sweep also skips such orders).
    sqlx::query!(
        "UPDATE orders SET reserved_until = GREATEST(reserved_until, now() + make_interval(secs => $2)) WHERE id = $1",
        order,
        payments.settle_after.as_secs_f64()
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO payments (id, order_id, user_id, idempotency_key, outcome, amount_cents, card_last4, gateway_key, card_fingerprint)
           VALUES ($1, $2, $3, $4, 'charging', $5, $6, $7, $8)"#,
        intent.payment,
        order,
        user,
        key,
        intent.amount_cents,
        intent.card_last4,
        intent.gateway_key,
        fingerprint
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Begun::Charge(intent, row.currency))
}

/// The answer saved for a key used before. While that attempt's charge is still in flight (a double submit), it
/// is waited for, up to the payment timeout, so both submits get the same receipt.
async fn replay(
    pool: &PgPool,
    payments: &Payments,
    user: Uuid,
    order: Uuid,
    key: &str,
) -> Result<PaymentReceipt, AppError> {
    let deadline = tokio::time::Instant::now() + payments.timeout;
    loop {
        match saved_response(pool, user, key).await? {
            // The attempt charged nothing and freed its key meanwhile.
            None => return Err(AppError::Invalid(NOT_TAKEN.into())),
            Some(Some(saved)) => {
                return match serde_json::from_value::<PaymentReceipt>(saved) {
                    Ok(receipt) if receipt.order_id == order => Ok(receipt),
                    _ => Err(AppError::Invalid(OUT_OF_DATE.into())),
                };
            }
            Some(None) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await
            }
            Some(None) => return Err(AppError::Invalid(IN_PROGRESS.into())),
        }
    }
}

/// Whether a charge or refund of this order is in flight.
async fn in_flight(conn: &mut sqlx::PgConnection, order: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM payments WHERE order_id = $1 AND outcome IN ('charging', 'refunding')) AS "in_flight!""#,
        order
    )
    .fetch_one(conn)
    .await
}

/// The second transaction: records what became of the charge, marks the order paid, and saves the answer for
/// the idempotency key (or frees the key when nothing was charged). `None` when nothing was charged. If the
/// charge was settled meanwhile (the worker got there first), that settlement stands and is answered.
async fn settle_charge(
    pool: &PgPool,
    intent: &Intent,
    settlement: Settlement,
) -> Result<Option<PaymentReceipt>, sqlx::Error> {
    let (outcome, reference, reason) = match &settlement {
        Settlement::Approved { reference } => (PaymentState::Succeeded, Some(reference.as_str()), None),
        Settlement::Declined { reason } => (PaymentState::Declined, None, Some(reason.as_str())),
        Settlement::Rejected { reason } => (PaymentState::Rejected, None, Some(reason.as_str())),
        Settlement::NotTaken { reason } => (PaymentState::Failed, None, Some(reason.as_str())),
    };
    let mut tx = pool.begin().await?;
    let updated = sqlx::query!(
        r#"UPDATE payments SET outcome = $2, gateway_reference = $3, reason = $4, settled_at = now()
           WHERE id = $1 AND outcome = 'charging'"#,
        intent.payment,
        outcome as _,
        reference,
        reason
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        tx.rollback().await?;
        return settled_receipt(pool, intent).await;
    }
    let receipt = match &settlement {
        Settlement::Approved { .. } => {
            let note = format!("paid with card ending {}", intent.card_last4);
            store::transition(&mut tx, intent.order, OrderStatus::Paid, &note).await?;
            Some(receipt(intent, PaymentOutcome::Succeeded, "Payment received. Thank you!".into()))
        }
        Settlement::Declined { reason } => {
            let message = format!("{reason} Your order is still reserved; try another card.");
            Some(receipt(intent, PaymentOutcome::Declined, message))
        }
        Settlement::Rejected { .. } => {
            let message = "The payment service could not process this card; you were not charged. Your order is still \
                           reserved; try another card.";
            Some(receipt(intent, PaymentOutcome::Declined, message.into()))
        }
        Settlement::NotTaken { .. } => None,
    };
    match &receipt {
        Some(receipt) => {
            let response = serde_json::to_value(receipt).map_err(|error| sqlx::Error::Encode(error.into()))?;
            sqlx::query!(
                "UPDATE idempotency SET response = $3 WHERE user_id = $1 AND idempotency_key = $2",
                intent.user,
                intent.key,
                response
            )
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query!(
                "DELETE FROM idempotency WHERE user_id = $1 AND idempotency_key = $2",
                intent.user,
                intent.key
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(receipt)
}

/// The idempotency row of `(user, key)`: `None` when there is none, `Some(None)` while its attempt is in flight.
async fn saved_response(
    pool: &PgPool,
    user: Uuid,
    key: &str,
) -> Result<Option<Option<serde_json::Value>>, sqlx::Error> {
    sqlx::query_scalar!("SELECT response FROM idempotency WHERE user_id = $1 AND idempotency_key = $2", user, key)
        .fetch_optional(pool)
        .await
}

/// The answer saved for a charge someone else settled.
async fn settled_receipt(pool: &PgPool, intent: &Intent) -> Result<Option<PaymentReceipt>, sqlx::Error> {
    let saved = saved_response(pool, intent.user, &intent.key).await?.flatten();
    Ok(saved.and_then(|saved| serde_json::from_value(saved).ok()))
}

fn receipt(intent: &Intent, outcome: PaymentOutcome, message: String) -> PaymentReceipt {
    PaymentReceipt { order_id: intent.order, outcome, message, card_last4: intent.card_last4.clone() }
}

fn pending_receipt(intent: &Intent) -> PaymentReceipt {
    let message = "The payment service did not answer in time. We are confirming the payment with it: this page \
                   shows the result within a minute, and you will not be charged twice.";
    receipt(intent, PaymentOutcome::Pending, message.into())
}

/// Cancels an order: an unpaid one releases its stock; a paid one is refunded first (once, whatever happens).
/// `user` limits it to that shopper's orders (`None` for an admin).
pub async fn cancel(
    pool: &PgPool,
    payments: &Payments,
    user: Option<Uuid>,
    order: Uuid,
    note: &str,
) -> Result<OrderStatus, AppError> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query!(
        r#"SELECT status AS "status: OrderStatus", user_id FROM orders WHERE id = $1 AND status <> 'cart' FOR UPDATE"#,
        order
    )
    .fetch_optional(&mut *tx)
    .await?
    .filter(|row| user.is_none() || row.user_id == user)
    .ok_or(AppError::NotFound)?;
    let status = row.status;
    if !status.cancellable() {
        return Err(AppError::Invalid(format!(
            "This order is {}; it can no longer be cancelled.",
            status.label().to_lowercase()
        )));
    }
    if in_flight(&mut tx, order).await? {
        return Err(AppError::Invalid(IN_PROGRESS.into()));
    }
    if status != OrderStatus::Paid {
        store::release_stock(&mut tx, order).await?;
        store::transition(&mut tx, order, OrderStatus::Cancelled, note).await?;
        tx.commit().await?;
        return Ok(OrderStatus::Cancelled);
    }

    let permit = payments.permit().map_err(|_| AppError::Unavailable(REFUND_FAILED.into()))?;
    let charge = sqlx::query!(
        r#"SELECT gateway_reference AS "reference!", amount_cents, user_id, card_last4
           FROM payments WHERE order_id = $1 AND outcome = 'succeeded'"#,
        order
    )
    .fetch_one(&mut *tx)
    .await?;
    // One refund per order, under one key the gateway sees on every retry.
    let key = format!("refund-{order}");
    let refund = Uuid::new_v4();
    sqlx::query!(
        r#"INSERT INTO payments (id, order_id, user_id, idempotency_key, outcome, amount_cents, card_last4, gateway_key, reason)
           VALUES ($1, $2, $3, $4, 'refunding', $5, $6, $4, $7)"#,
        refund,
        order,
        charge.user_id,
        key,
        charge.amount_cents,
        charge.card_last4,
        note,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    let request =
        RefundRequest { idempotency_key: key, charge_reference: charge.reference, amount_cents: charge.amount_cents };
    match payments.refund(permit, request).await {
        Ok(reference) => {
            finish_refund(pool, refund, order, &reference, note).await?;
            Ok(OrderStatus::Cancelled)
        }
        Err(GatewayError::Timeout) => {
            tracing::warn!(%order, "the payment gateway did not confirm a refund in time; the worker will settle it");
            Err(AppError::Invalid(
                "The payment service did not confirm the refund in time. We are confirming it with them: this order \
                 shows the refund within a minute, and it is refunded once."
                    .into(),
            ))
        }
        Err(error) => {
            tracing::warn!(%error, %order, "refund failed");
            sqlx::query!("DELETE FROM payments WHERE id = $1 AND outcome = 'refunding'", refund).execute(pool).await?;
            match error {
                GatewayError::Rejected(_) => Err(AppError::Invalid(REFUND_FAILED.into())),
                _ => Err(AppError::Unavailable(REFUND_FAILED.into())),
            }
        }
    }
}

/// Records a refund the gateway confirmed and cancels its order; false if it was recorded already.
async fn finish_refund(
    pool: &PgPool,
    refund: Uuid,
    order: Uuid,
    reference: &str,
    note: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let updated = sqlx::query!(
        "UPDATE payments SET outcome = 'refunded', gateway_reference = $2, settled_at = now() WHERE id = $1 AND outcome = 'refunding'",
        refund,
        reference
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    store::release_stock(&mut tx, order).await?;
    store::transition(&mut tx, order, OrderStatus::Cancelled, &format!("{note}; refunded")).await?;
    tx.commit().await?;
    Ok(true)
}

/// Settles up to `batch` charges and refunds in flight for longer than `payments.settle_after` (a crash, a
/// cancelled request, a timeout), asking the gateway what became of each key. A charge the gateway never took is
/// marked `failed` (nothing was charged); a refund is sent again under its key (the gateway refunds once).
/// What the gateway cannot answer now waits for the next sweep. Returns how many were settled.
pub async fn settle_in_flight(pool: &PgPool, payments: &Payments, batch: i64) -> Result<u64, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id, order_id, user_id, idempotency_key, gateway_key AS "gateway_key!", outcome AS "outcome: PaymentState", amount_cents,
                  card_last4 AS "card_last4!", reason
           FROM payments
           WHERE outcome IN ('charging', 'refunding') AND created_at < now() - make_interval(secs => $1)
             AND gateway_key IS NOT NULL
           ORDER BY created_at
           LIMIT $2"#,
        payments.settle_after.as_secs_f64(),
        batch
    )
    .fetch_all(pool)
    .await?;
    let mut settled = 0;
    for row in rows {
        let order = row.order_id;
        if row.outcome == PaymentState::Charging {
            let settlement = match payments.find_charge(row.gateway_key.clone()).await {
                Ok(Some(outcome)) => Settlement::from(outcome),
                Ok(None) => {
                    Settlement::NotTaken { reason: "the gateway never took the charge; nothing was charged".into() }
                }
                Err(error) => {
                    tracing::warn!(%error, %order, "could not settle a charge in flight; retrying later");
                    continue;
                }
            };
            let intent = Intent {
                payment: row.id,
                order,
                user: row.user_id,
                key: row.idempotency_key,
                gateway_key: row.gateway_key,
                amount_cents: row.amount_cents,
                card_last4: row.card_last4,
            };
            settle_charge(pool, &intent, settlement).await?;
        } else {
            let Ok(permit) = payments.permit() else { continue };
            let charge_reference = sqlx::query_scalar!(
                r#"SELECT gateway_reference AS "reference!" FROM payments WHERE order_id = $1 AND outcome = 'succeeded'"#,
                order
            )
            .fetch_one(pool)
            .await?;
            let request =
                RefundRequest { idempotency_key: row.gateway_key, charge_reference, amount_cents: row.amount_cents };
            match payments.refund(permit, request).await {
                Ok(reference) => {
                    finish_refund(pool, row.id, order, &reference, row.reason.as_deref().unwrap_or("cancelled"))
                        .await?;
                }
                Err(error) => {
                    tracing::warn!(%error, %order, "could not settle a refund in flight; retrying later");
                    continue;
                }
            }
        }
        tracing::info!(%order, kind = row.outcome.label(), "settled a payment left in flight");
        settled += 1;
    }
    Ok(settled)
}
