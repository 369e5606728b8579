//! The SQL of the payment flow: the `idempotency` rows, the `payments` rows, and the order rows a payment reads and
//! locks. One statement a function; the flow in `pay` decides which run together in a transaction.

use super::pay::Intent;
use crate::orders::{OrderStatus, PaymentState};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// An order about to be paid, as [`order_to_pay`] reads it.
pub(super) struct OrderToPay {
    pub(super) status: OrderStatus,
    pub(super) total_cents: i64,
    pub(super) currency: String,
    /// Whether its reservation ran out.
    pub(super) lapsed: bool,
}

/// Failed attempts (declines and refusals) within the throttle's window.
pub(super) struct RecentFailures {
    /// By the paying shopper.
    pub(super) by_user: i64,
    /// With the card being paid with.
    pub(super) by_card: i64,
}

/// An order about to be cancelled, as [`order_to_cancel`] reads it.
pub(super) struct OrderToCancel {
    pub(super) status: OrderStatus,
    pub(super) user_id: Option<Uuid>,
}

/// The charge that paid an order, to refund.
pub(super) struct PaidCharge {
    pub(super) reference: String,
    pub(super) amount_cents: i64,
    pub(super) user_id: Uuid,
    pub(super) card_last4: Option<String>,
}

/// A charge or refund left in flight, for the worker to settle.
pub(super) struct InFlightPayment {
    pub(super) id: Uuid,
    pub(super) order_id: Uuid,
    pub(super) user_id: Uuid,
    pub(super) idempotency_key: String,
    pub(super) gateway_key: String,
    pub(super) outcome: PaymentState,
    pub(super) amount_cents: i64,
    pub(super) card_last4: String,
    pub(super) reason: Option<String>,
}

/// Takes `(user, key)` for a new attempt: false when the key was used before.
pub(super) async fn claim_key(conn: &mut PgConnection, user: Uuid, key: &str) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "INSERT INTO idempotency (user_id, idempotency_key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        user,
        key
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted > 0)
}

/// The shopper's placed order, locked for the payment; `None` when there is no such order of theirs.
pub(super) async fn order_to_pay(
    conn: &mut PgConnection,
    order: Uuid,
    user: Uuid,
) -> Result<Option<OrderToPay>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT status AS "status: OrderStatus", total_cents AS "total_cents!", currency, reserved_until < now() AS "lapsed!"
           FROM orders WHERE id = $1 AND user_id = $2 AND status <> 'cart' FOR UPDATE"#,
        order,
        user
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| OrderToPay {
        status: row.status,
        total_cents: row.total_cents,
        currency: row.currency,
        lapsed: row.lapsed,
    }))
}

/// The failed attempts of the last `window_secs` by `user`, and with the card of this `fingerprint`.
pub(super) async fn recent_failures(
    conn: &mut PgConnection,
    user: Uuid,
    fingerprint: &str,
    window_secs: f64,
) -> Result<RecentFailures, sqlx::Error> {
    let failures = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE user_id = $1) AS "by_user!", count(*) FILTER (WHERE card_fingerprint = $2) AS "by_card!"
           FROM payments
           WHERE outcome IN ('declined', 'rejected') AND created_at > now() - make_interval(secs => $3)
             AND (user_id = $1 OR card_fingerprint = $2)"#,
        user,
        fingerprint,
        window_secs
    )
    .fetch_one(conn)
    .await?;
    Ok(RecentFailures { by_user: failures.by_user, by_card: failures.by_card })
}

/// Keeps the order reserved for at least `secs` more.
pub(super) async fn extend_reservation(conn: &mut PgConnection, order: Uuid, secs: f64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE orders SET reserved_until = GREATEST(reserved_until, now() + make_interval(secs => $2)) WHERE id = $1",
        order,
        secs
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The `charging` row of a charge about to be sent.
pub(super) async fn insert_charge(
    conn: &mut PgConnection,
    intent: &Intent,
    fingerprint: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO payments (id, order_id, user_id, idempotency_key, outcome, amount_cents, card_last4, gateway_key, card_fingerprint)
           VALUES ($1, $2, $3, $4, 'charging', $5, $6, $7, $8)"#,
        intent.payment,
        intent.order,
        intent.user,
        intent.key,
        intent.amount_cents,
        intent.card_last4,
        intent.gateway_key,
        fingerprint
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether a charge or refund of this order is in flight.
pub(super) async fn in_flight(conn: &mut sqlx::PgConnection, order: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM payments WHERE order_id = $1 AND outcome IN ('charging', 'refunding')) AS "in_flight!""#,
        order
    )
    .fetch_one(conn)
    .await
}

/// Records what became of a charge still `charging`; false when it was settled already.
pub(super) async fn record_charge_outcome(
    conn: &mut PgConnection,
    payment: Uuid,
    outcome: PaymentState,
    reference: Option<&str>,
    reason: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query!(
        r#"UPDATE payments SET outcome = $2, gateway_reference = $3, reason = $4, settled_at = now()
           WHERE id = $1 AND outcome = 'charging'"#,
        payment,
        outcome as _,
        reference,
        reason
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated > 0)
}

/// Saves the answer to the attempt of `(user, key)`, for replays.
pub(super) async fn save_response(
    conn: &mut PgConnection,
    user: Uuid,
    key: &str,
    response: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE idempotency SET response = $3 WHERE user_id = $1 AND idempotency_key = $2",
        user,
        key,
        response
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Frees `(user, key)` after an attempt that charged nothing: the same key may try again.
pub(super) async fn free_key(conn: &mut PgConnection, user: Uuid, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM idempotency WHERE user_id = $1 AND idempotency_key = $2", user, key)
        .execute(conn)
        .await?;
    Ok(())
}

/// The idempotency row of `(user, key)`: `None` when there is none, `Some(None)` while its attempt is in flight.
pub(super) async fn saved_response(
    pool: &PgPool,
    user: Uuid,
    key: &str,
) -> Result<Option<Option<serde_json::Value>>, sqlx::Error> {
    sqlx::query_scalar!("SELECT response FROM idempotency WHERE user_id = $1 AND idempotency_key = $2", user, key)
        .fetch_optional(pool)
        .await
}

/// A placed order, locked for its cancellation; `None` when there is no such order.
pub(super) async fn order_to_cancel(
    conn: &mut PgConnection,
    order: Uuid,
) -> Result<Option<OrderToCancel>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT status AS "status: OrderStatus", user_id FROM orders WHERE id = $1 AND status <> 'cart' FOR UPDATE"#,
        order
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| OrderToCancel { status: row.status, user_id: row.user_id }))
}

/// The charge that paid `order`.
pub(super) async fn paid_charge(conn: &mut PgConnection, order: Uuid) -> Result<PaidCharge, sqlx::Error> {
    let charge = sqlx::query!(
        r#"SELECT gateway_reference AS "reference!", amount_cents, user_id, card_last4
           FROM payments WHERE order_id = $1 AND outcome = 'succeeded'"#,
        order
    )
    .fetch_one(conn)
    .await?;
    Ok(PaidCharge {
        reference: charge.reference,
        amount_cents: charge.amount_cents,
        user_id: charge.user_id,
        card_last4: charge.card_last4,
    })
}

/// The `refunding` row of a refund of `charge` about to be sent under `key`.
pub(super) async fn insert_refund(
    conn: &mut PgConnection,
    refund: Uuid,
    order: Uuid,
    charge: &PaidCharge,
    key: &str,
    note: &str,
) -> Result<(), sqlx::Error> {
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
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes a refund the gateway never took.
pub(super) async fn delete_refund(pool: &PgPool, refund: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM payments WHERE id = $1 AND outcome = 'refunding'", refund).execute(pool).await?;
    Ok(())
}

/// Records a refund the gateway confirmed; false when it was recorded already.
pub(super) async fn mark_refunded(conn: &mut PgConnection, refund: Uuid, reference: &str) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query!(
        "UPDATE payments SET outcome = 'refunded', gateway_reference = $2, settled_at = now() WHERE id = $1 AND outcome = 'refunding'",
        refund,
        reference
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated > 0)
}

/// Up to `batch` charges and refunds in flight for longer than `settle_after_secs`, oldest first.
pub(super) async fn in_flight_payments(
    pool: &PgPool,
    settle_after_secs: f64,
    batch: i64,
) -> Result<Vec<InFlightPayment>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id, order_id, user_id, idempotency_key, gateway_key AS "gateway_key!", outcome AS "outcome: PaymentState", amount_cents,
                  card_last4 AS "card_last4!", reason
           FROM payments
           WHERE outcome IN ('charging', 'refunding') AND created_at < now() - make_interval(secs => $1)
             AND gateway_key IS NOT NULL
           ORDER BY created_at
           LIMIT $2"#,
        settle_after_secs,
        batch
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| InFlightPayment {
            id: row.id,
            order_id: row.order_id,
            user_id: row.user_id,
            idempotency_key: row.idempotency_key,
            gateway_key: row.gateway_key,
            outcome: row.outcome,
            amount_cents: row.amount_cents,
            card_last4: row.card_last4,
            reason: row.reason,
        })
        .collect())
}

/// The gateway's reference of the charge that paid `order`.
pub(super) async fn charge_reference(pool: &PgPool, order: Uuid) -> Result<String, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT gateway_reference AS "reference!" FROM payments WHERE order_id = $1 AND outcome = 'succeeded'"#,
        order
    )
    .fetch_one(pool)
    .await
}
