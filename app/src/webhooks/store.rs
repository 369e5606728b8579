//! The endpoints' and deliveries' rows. An event becomes one delivery per enabled endpoint that wants it, in the
//! transaction of the change that caused it ([`enqueue`] and its callers): the change and its deliveries commit
//! together or not at all. The worker (`cartograph::webhooks`) sends them.
//!
//! A delivery's body is `{ "id": <event id>, "type": "order.paid", "created_at": …, "data": { … } }`; every
//! endpoint receiving one event gets the same `id`, and a replay sends the same body again.

use super::{Attempt, Delivery, Endpoint, EndpointPage, WebhookEvent, DELIVERIES_SHOWN, MAX_ENDPOINTS};
use crate::{error::AppError, notifications::CatalogEvent};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// What every signing secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";

fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Writes `data` as one delivery to each enabled endpoint that wants `event`; returns how many.
pub async fn enqueue(
    conn: &mut PgConnection,
    event: WebhookEvent,
    event_id: Uuid,
    data: serde_json::Value,
) -> Result<u64, sqlx::Error> {
    let inserted = sqlx::query!(
        r#"
        INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event, payload)
        SELECT gen_random_uuid(), e.id, $1, $2,
               jsonb_build_object('id', $1::uuid, 'type', $2::text, 'created_at', now(), 'data', $3::jsonb)
        FROM webhook_endpoints e
        WHERE e.enabled AND $2 = ANY (e.events)
        "#,
        event_id,
        event.as_str(),
        data,
    )
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected())
}

/// A catalog change's deliveries (`product.*`): the product before and after, and who changed it. The shoppers
/// whose carts held a deleted product stay inside the shop.
pub async fn enqueue_catalog(conn: &mut PgConnection, event: &CatalogEvent) -> Result<u64, sqlx::Error> {
    let data = serde_json::json!({
        "product_id": event.product_id,
        "change": event.change,
        "actor": event.actor,
        "before": event.before,
        "after": event.after,
    });
    enqueue(conn, WebhookEvent::for_catalog(event.change), event.event_id, data).await
}

/// An order's `event` (`order.paid`, `order.fulfilled`, `order.cancelled`): the order as it stands after the
/// move, with its lines and shipping address. Read in the same statement that writes the deliveries, so an order
/// nobody listens for costs one index probe.
pub async fn enqueue_order(conn: &mut PgConnection, order: Uuid, event: WebhookEvent) -> Result<u64, sqlx::Error> {
    let inserted = sqlx::query!(
        r#"
        INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event, payload)
        SELECT gen_random_uuid(), e.id, $3, $2,
               jsonb_build_object('id', $3::uuid, 'type', $2::text, 'created_at', now(), 'data', o.data)
        FROM webhook_endpoints e
        CROSS JOIN LATERAL (
            SELECT jsonb_build_object('order', jsonb_build_object(
                'id', o.id, 'status', o.status, 'user_id', o.user_id, 'currency', o.currency,
                'subtotal_cents', o.subtotal_cents, 'total_cents', o.total_cents, 'tax_cents', o.tax_cents,
                'prices_include_tax', o.prices_include_tax, 'created_at', o.created_at,
                'discounts', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                  'promotion_id', d.promotion_id, 'label', d.label, 'code', d.code,
                                  'amount_cents', d.amount_cents) ORDER BY d.position), '[]'::jsonb)
                              FROM order_discounts d WHERE d.order_id = o.id),
                'shipping', jsonb_build_object(
                    'name', o.shipping_name, 'line1', o.shipping_line1, 'line2', o.shipping_line2,
                    'city', o.shipping_city, 'postcode', o.shipping_postcode, 'country', o.shipping_country),
                'delivery', CASE WHEN o.shipping_method IS NOT NULL THEN jsonb_build_object(
                    'method', o.shipping_method, 'cents', o.shipping_cents, 'tax_rate_bp', o.shipping_tax_rate_bp,
                    'tax_cents', o.shipping_tax_cents, 'min_days', o.delivery_min_days,
                    'max_days', o.delivery_max_days) END,
                'lines', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                              'product_id', l.product_id, 'slug', p.slug, 'name', p.name,
                              'variant_id', l.variant_id, 'sku', v.sku, 'options', to_jsonb(v.options),
                              'quantity', l.quantity, 'unit_price_cents', l.unit_price_cents,
                              'tax_rate_bp', l.tax_rate_bp, 'tax_cents', l.tax_cents)
                              ORDER BY l.added_at, l.variant_id), '[]'::jsonb)
                          FROM order_lines l JOIN products p ON p.id = l.product_id
                          JOIN variants v ON v.id = l.variant_id
                          WHERE l.order_id = o.id))) AS data
            FROM orders o WHERE o.id = $1
        ) o
        WHERE e.enabled AND $2 = ANY (e.events)
        "#,
        order,
        event.as_str(),
        Uuid::new_v4(),
    )
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected())
}

/// A closed visit's delivery (`journey.closed`; never for a bot's visit): its counts, its shopper if signed in,
/// and where its journey document is when one was stored.
pub async fn enqueue_journey(conn: &mut PgConnection, visit: Uuid) -> Result<u64, sqlx::Error> {
    let inserted = sqlx::query!(
        r#"
        INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event, payload)
        SELECT gen_random_uuid(), e.id, $2, 'journey.closed',
               jsonb_build_object('id', $2::uuid, 'type', 'journey.closed', 'created_at', now(), 'data', v.data)
        FROM webhook_endpoints e
        CROSS JOIN LATERAL (
            SELECT jsonb_build_object('journey', jsonb_build_object(
                'visit_id', v.visit_id, 'user_id', coalesce(v.user_id, vu.user_id),
                'started_at', v.started_at, 'last_event_at', v.last_event_at, 'closed_at', v.closed_at,
                'events', v.events, 'page_views', v.page_views, 'product_views', v.product_views,
                'cart_adds', v.cart_adds, 'checkouts', v.checkouts, 'paid', v.paid,
                'pdf_path', CASE WHEN EXISTS (SELECT 1 FROM journey_pdfs j WHERE j.visit_id = v.visit_id)
                                 THEN '/journeys/' || v.visit_id || '.pdf' END)) AS data
            FROM visits v LEFT JOIN visit_users vu ON vu.visit_id = v.visit_id
            WHERE v.visit_id = $1 AND NOT v.bot
        ) v
        WHERE e.enabled AND 'journey.closed' = ANY (e.events)
        "#,
        visit,
        Uuid::new_v4(),
    )
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected())
}

/// Registers an endpoint with a new signing secret; refused past [`MAX_ENDPOINTS`].
pub async fn create(
    pool: &PgPool,
    admin: Uuid,
    url: &str,
    description: &str,
    events: &[WebhookEvent],
) -> Result<Uuid, AppError> {
    let id = Uuid::new_v4();
    let events: Vec<String> = events.iter().map(|event| event.as_str().to_string()).collect();
    let created = sqlx::query!(
        "INSERT INTO webhook_endpoints (id, url, description, events, secret, created_by)
         SELECT $1, $2, $3, $4, $5, $6 WHERE (SELECT count(*) FROM webhook_endpoints) < $7",
        id,
        url,
        description,
        &events,
        new_secret(),
        admin,
        MAX_ENDPOINTS,
    )
    .execute(pool)
    .await?;
    if created.rows_affected() == 0 {
        return Err(AppError::Invalid(format!("The shop has {MAX_ENDPOINTS} webhook endpoints already.")));
    }
    Ok(id)
}

/// Every endpoint, newest first, with its waiting and failed deliveries counted.
pub async fn list(pool: &PgPool) -> Result<Vec<Endpoint>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        SELECT e.id, e.url, e.description, e.events, e.enabled, e.disabled_reason, e.failures_in_a_row,
               e.created_at AS "created_at: DateTime<Utc>",
               count(d.id) FILTER (WHERE d.state = 'pending') AS "pending!",
               count(d.id) FILTER (WHERE d.state = 'failed') AS "failed!"
        FROM webhook_endpoints e LEFT JOIN webhook_deliveries d ON d.endpoint_id = e.id
        GROUP BY e.id
        ORDER BY e.created_at DESC, e.id
        "#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Endpoint {
            id: row.id,
            url: row.url,
            description: row.description,
            events: row.events,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            failures_in_a_row: row.failures_in_a_row,
            created_at: when(row.created_at),
            pending: row.pending,
            failed: row.failed,
        })
        .collect())
}

/// One endpoint, its secret and its latest [`DELIVERIES_SHOWN`] deliveries with every attempt.
pub async fn page(pool: &PgPool, id: Uuid) -> Result<Option<EndpointPage>, sqlx::Error> {
    let Some(endpoint) = list(pool).await?.into_iter().find(|endpoint| endpoint.id == id) else { return Ok(None) };
    let secret = sqlx::query_scalar!("SELECT secret FROM webhook_endpoints WHERE id = $1", id).fetch_one(pool).await?;
    let rows = sqlx::query!(
        r#"
        SELECT d.id AS "id!", d.event_id AS "event_id!", d.event AS "event!", d.state AS "state!",
               d.created_at AS "created_at!: DateTime<Utc>", d.next_attempt_at AS "next_attempt_at!: DateTime<Utc>",
               a.attempted_at AS "attempted_at?: DateTime<Utc>", a.status_code, a.latency_ms AS "latency_ms?",
               a.error
        FROM (SELECT * FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY created_at DESC, id LIMIT $2) d
        LEFT JOIN webhook_attempts a ON a.delivery_id = d.id
        ORDER BY d.created_at DESC, d.id, a.id
        "#,
        id,
        DELIVERIES_SHOWN,
    )
    .fetch_all(pool)
    .await?;
    let mut deliveries: Vec<Delivery> = Vec::new();
    for row in rows {
        if deliveries.last().is_none_or(|last| last.id != row.id) {
            deliveries.push(Delivery {
                id: row.id,
                event_id: row.event_id,
                event: row.event,
                next_attempt_at: (row.state == "pending").then(|| when(row.next_attempt_at)),
                state: row.state,
                created_at: when(row.created_at),
                attempts: Vec::new(),
            });
        }
        if let (Some(at), Some(latency_ms), Some(delivery)) = (row.attempted_at, row.latency_ms, deliveries.last_mut())
        {
            delivery.attempts.push(Attempt {
                at: when(at),
                status_code: row.status_code,
                latency_ms,
                error: row.error,
            });
        }
    }
    Ok(Some(EndpointPage { endpoint, secret, deliveries }))
}

/// Turns an endpoint on (counting failures from nothing again) or off; false if there is no such endpoint.
pub async fn set_enabled(pool: &PgPool, id: Uuid, enabled: bool) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query!(
        "UPDATE webhook_endpoints
         SET enabled = $2, failures_in_a_row = 0,
             disabled_reason = CASE WHEN $2 THEN NULL ELSE 'turned off by an admin' END
         WHERE id = $1",
        id,
        enabled,
    )
    .execute(pool)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Gives an endpoint a new signing secret (every attempt from now on is signed with it); false if there is no
/// such endpoint.
pub async fn rotate_secret(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let rotated =
        sqlx::query!("UPDATE webhook_endpoints SET secret = $2 WHERE id = $1", id, new_secret()).execute(pool).await?;
    Ok(rotated.rows_affected() == 1)
}

/// Deletes an endpoint with its deliveries and their attempts; false if there is no such endpoint.
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!("DELETE FROM webhook_endpoints WHERE id = $1", id).execute(pool).await?.rows_affected() == 1)
}

/// Starts a new round of attempts for a delivered or failed delivery (its earlier attempts stay listed).
pub async fn replay(pool: &PgPool, delivery: Uuid) -> Result<(), AppError> {
    let row = sqlx::query!(
        r#"
        WITH target AS (
            SELECT d.id, d.state, e.enabled FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
            WHERE d.id = $1 FOR UPDATE OF d
        ), replayed AS (
            UPDATE webhook_deliveries d
            SET state = 'pending', next_attempt_at = now(), started_at = now(), finished_at = NULL
            FROM target t WHERE d.id = t.id AND t.state <> 'pending' AND t.enabled
            RETURNING d.id
        )
        SELECT t.enabled AS "enabled!", EXISTS (SELECT 1 FROM replayed) AS "replayed!" FROM target t
        "#,
        delivery,
    )
    .fetch_optional(pool)
    .await?
    .ok_or(AppError::NotFound)?;
    match row {
        row if row.replayed => Ok(()),
        row if !row.enabled => Err(AppError::Invalid("Turn the endpoint on before replaying its deliveries.".into())),
        _ => Err(AppError::Invalid("That delivery is still being attempted.".into())),
    }
}
