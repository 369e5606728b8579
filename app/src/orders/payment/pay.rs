//! The flow: [`pay`], [`cancel`] (with its refund) and [`settle_in_flight`], each around its gateway call, never
//! inside a transaction. The statements they run are in `store`.

use super::key::IdempotencyKey;
use super::store;
use super::{ChargeOutcome, ChargeRequest, GatewayError, Payments, RefundRequest, PAYMENTS_METRIC};
use crate::error::AppError;
use crate::orders::store::{release_stock, transition};
use crate::orders::{CardDetails, OrderStatus, PaymentOutcome, PaymentReceipt, PaymentState};
use sqlx::PgPool;
use uuid::Uuid;

/// What a shopper reads while the payment gateway's circuit breaker is open.
pub const PAYMENTS_PAUSED: &str = "Payments are temporarily unavailable; your order is kept — try again in a minute.";
pub(super) const OUT_OF_DATE: &str = "This payment form is out of date; reload the page.";
const IN_PROGRESS: &str = "A payment for this order is being processed; reload the page in a moment.";
const NOT_TAKEN: &str = "The payment service is not answering; you were not charged. Please try again.";
const REFUND_FAILED: &str = "The payment service could not refund right now; the order is unchanged. Try again.";

/// A charge committed as `charging`: about to be sent, or in flight.
pub(super) struct Intent {
    pub(super) payment: Uuid,
    pub(super) order: Uuid,
    pub(super) user: Uuid,
    pub(super) key: String,
    pub(super) gateway_key: String,
    pub(super) amount_cents: i64,
    pub(super) card_last4: String,
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
/// per order. The key is checked first, with [`IdempotencyKey::parse`].
pub async fn pay(
    pool: &PgPool,
    payments: &Payments,
    user: Uuid,
    order: Uuid,
    card: CardDetails,
    idempotency_key: &str,
) -> Result<PaymentReceipt, AppError> {
    let key = IdempotencyKey::parse(idempotency_key)?;
    // The breaker is asked before anything is written: while it is open the same attempt can simply be retried.
    let permit = payments.permit().map_err(|error| {
        tracing::info!(%order, %error, "payment refused: the gateway's breaker is open");
        AppError::Unavailable(PAYMENTS_PAUSED.into())
    })?;
    let (intent, currency) = match begin_charge(pool, payments, user, order, &card, &key).await? {
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
    key: &IdempotencyKey,
) -> Result<Begun, AppError> {
    let mut tx = pool.begin().await?;
    if !store::claim_key(&mut tx, user, key.as_str()).await? {
        tx.rollback().await?;
        return replay(pool, payments, user, order, key).await.map(Begun::Replay);
    }

    let Some(row) = store::order_to_pay(&mut tx, order, user).await? else {
        return Err(AppError::NotFound);
    };
    let status = row.status;
    if status != OrderStatus::PendingPayment {
        return Err(AppError::Invalid(format!("This order is {}; it cannot be paid.", status.label().to_lowercase())));
    }
    if row.lapsed {
        return Err(AppError::Invalid("The reservation for this order ran out; please order again.".into()));
    }
    if store::in_flight(&mut tx, order).await? {
        return Err(AppError::Invalid(IN_PROGRESS.into()));
    }

    let fingerprint = payments.fingerprint(card);
    let limits = payments.limits;
    let failures = store::recent_failures(&mut tx, user, &fingerprint, limits.window.as_secs_f64()).await?;
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
        key: key.as_str().to_string(),
        gateway_key: format!("{user}:{}", key.as_str()),
        amount_cents: row.total_cents,
        card_last4: card.last4().to_string(),
    };
    // A reservation cannot lapse under a charge in flight (the expiry sweep also skips such orders).
    store::extend_reservation(&mut tx, order, payments.settle_after.as_secs_f64()).await?;
    store::insert_charge(&mut tx, &intent, &fingerprint).await?;
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
    key: &IdempotencyKey,
) -> Result<PaymentReceipt, AppError> {
    let deadline = tokio::time::Instant::now() + payments.timeout;
    loop {
        match store::saved_response(pool, user, key.as_str()).await? {
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
    if !store::record_charge_outcome(&mut tx, intent.payment, outcome, reference, reason).await? {
        tx.rollback().await?;
        return settled_receipt(pool, intent).await;
    }
    let receipt = match &settlement {
        Settlement::Approved { .. } => {
            let note = format!("paid with card ending {}", intent.card_last4);
            transition(&mut tx, intent.order, OrderStatus::Paid, &note).await?;
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
            store::save_response(&mut tx, intent.user, &intent.key, response).await?;
        }
        None => store::free_key(&mut tx, intent.user, &intent.key).await?,
    }
    tx.commit().await?;
    Ok(receipt)
}

/// The answer saved for a charge someone else settled.
async fn settled_receipt(pool: &PgPool, intent: &Intent) -> Result<Option<PaymentReceipt>, sqlx::Error> {
    let saved = store::saved_response(pool, intent.user, &intent.key).await?.flatten();
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
    let row = store::order_to_cancel(&mut tx, order)
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
    if store::in_flight(&mut tx, order).await? {
        return Err(AppError::Invalid(IN_PROGRESS.into()));
    }
    if status != OrderStatus::Paid {
        release_stock(&mut tx, order).await?;
        transition(&mut tx, order, OrderStatus::Cancelled, note).await?;
        tx.commit().await?;
        return Ok(OrderStatus::Cancelled);
    }

    let permit = payments.permit().map_err(|_| AppError::Unavailable(REFUND_FAILED.into()))?;
    let charge = store::paid_charge(&mut tx, order).await?;
    // One refund per order, under one key the gateway sees on every retry.
    let key = format!("refund-{order}");
    let refund = Uuid::new_v4();
    store::insert_refund(&mut tx, refund, order, &charge, &key, note).await?;
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
            store::delete_refund(pool, refund).await?;
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
    if !store::mark_refunded(&mut tx, refund, reference).await? {
        return Ok(false);
    }
    release_stock(&mut tx, order).await?;
    transition(&mut tx, order, OrderStatus::Cancelled, &format!("{note}; refunded")).await?;
    // The shopper hears of the cancellation, then of the refund.
    crate::email::enqueue(&mut tx, order, crate::email::EmailKind::Refund, Some(refund)).await?;
    tx.commit().await?;
    Ok(true)
}

/// Settles up to `batch` charges and refunds in flight for longer than `payments.settle_after` (a crash, a
/// cancelled request, a timeout), asking the gateway what became of each key. A charge the gateway never took is
/// marked `failed` (nothing was charged); a refund is sent again under its key (the gateway refunds once).
/// What the gateway cannot answer now waits for the next sweep. Returns how many were settled.
pub async fn settle_in_flight(pool: &PgPool, payments: &Payments, batch: i64) -> Result<u64, sqlx::Error> {
    let rows = store::in_flight_payments(pool, payments.settle_after.as_secs_f64(), batch).await?;
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
            let charge_reference = store::charge_reference(pool, order).await?;
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
