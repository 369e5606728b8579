//! The recommendation counts: written by the worker as it stores events, read by the pages.

use super::{Recommended, Slot};
use crate::tracking::schema::{ClickstreamRecord, EventKind};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The most products of one visit that count: a visit that views more is a crawl, not a shopper comparing.
pub const MAX_PRODUCTS_PER_VISIT: i64 = 50;
/// A newly viewed product pairs with the visit's most recent views, up to this many.
pub const MAX_PAIRS_PER_VIEW: i64 = 30;
/// A paid order with more lines than this counts its products, but not their pairs.
pub const MAX_LINES_PAIRED: i64 = 50;

/// What a count counts (`product_signals.kind`, `product_pairs.kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Visits that viewed the product (or both products of a pair).
    Viewed,
    /// Paid orders that held the product (or both products of a pair).
    Bought,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Viewed => "viewed",
            Signal::Bought => "bought",
        }
    }
}

/// Counts a shopper's view of a product: the first in its visit adds one to the product's visits and to each
/// pair it makes with the visit's recent views. A product that does not exist, a visit past
/// [`MAX_PRODUCTS_PER_VISIT`] products and a product the visit viewed before count nothing. Rows are locked in
/// key order, so two workers counting the same pair from two visits wait for each other instead of deadlocking.
/// One statement (one round trip): the pairs read the visit's views as they were before this one.
pub async fn record_view(
    conn: &mut PgConnection,
    visit: Uuid,
    product_id: i64,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        WITH first AS (
            INSERT INTO visit_products (visit_id, product_id, viewed_at)
            SELECT $2, id, $4 FROM products
            WHERE id = $3 AND (SELECT count(*) FROM visit_products WHERE visit_id = $2) < $5
            ON CONFLICT DO NOTHING
            RETURNING product_id
        ),
        signal AS (
            INSERT INTO product_signals (kind, product_id, count)
            SELECT $1, product_id, 1 FROM first
            ON CONFLICT (kind, product_id) DO UPDATE SET count = product_signals.count + 1
        ),
        recent AS (
            SELECT product_id FROM visit_products
            WHERE visit_id = $2 AND product_id <> $3 AND EXISTS (SELECT 1 FROM first)
            ORDER BY viewed_at DESC, product_id
            LIMIT $6
        )
        INSERT INTO product_pairs (kind, product_id, other_id, count)
        SELECT $1, a, b, 1
        FROM (SELECT $3::bigint AS a, product_id AS b FROM recent
              UNION ALL
              SELECT product_id, $3::bigint FROM recent) pairs
        ORDER BY a, b
        ON CONFLICT (kind, product_id, other_id) DO UPDATE SET count = product_pairs.count + 1
        "#,
        Signal::Viewed.as_str(),
        visit,
        product_id,
        at as _,
        MAX_PRODUCTS_PER_VISIT,
        MAX_PAIRS_PER_VIEW,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What a shopper's event adds to the slots' figures: a slot shown (`rec_impression`), a click on one of its
/// products (a click labelled `rec-<slot>`), and a product page opened from one (a `product_view` whose page
/// carries `?rec=<slot>`: the first slot that led the visit to a product keeps it, for [`record_purchase`]).
/// The caller leaves bots' and the server's events out.
pub async fn record_slot_event(conn: &mut PgConnection, record: &ClickstreamRecord) -> Result<(), sqlx::Error> {
    let day = record.received_at.date_naive();
    let (slot, impressions, clicks) = match &record.event {
        EventKind::RecImpression { slot, .. } => (Slot::parse(slot), 1, 0),
        EventKind::Click { label, .. } => (Slot::of_label(label), 0, 1),
        EventKind::ProductView { product_id, .. } => {
            if let Some(slot) = Slot::of_path(&record.path) {
                sqlx::query!(
                    "INSERT INTO rec_opened (visit_id, product_id, slot) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    record.visit_id,
                    product_id,
                    slot.as_str(),
                )
                .execute(&mut *conn)
                .await?;
            }
            return Ok(());
        }
        _ => return Ok(()),
    };
    let Some(slot) = slot else { return Ok(()) };
    sqlx::query!(
        r#"
        INSERT INTO rec_slot_stats (day, slot, impressions, clicks) VALUES ($1, $2, $3, $4)
        ON CONFLICT (day, slot) DO UPDATE SET
            impressions = rec_slot_stats.impressions + EXCLUDED.impressions,
            clicks = rec_slot_stats.clicks + EXCLUDED.clicks
        "#,
        day as _,
        slot.as_str(),
        impressions,
        clicks,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts a paid order once, however many `payment_result` events say so: one for each of its products, and one
/// for each pair of them (unless it holds more than [`MAX_LINES_PAIRED`] lines). Its lines whose product the
/// paying `visit` opened from a slot are that slot's revenue on `day`.
pub async fn record_purchase(
    conn: &mut PgConnection,
    order: Uuid,
    visit: Uuid,
    day: NaiveDate,
) -> Result<(), sqlx::Error> {
    let first = sqlx::query!(
        r#"
        INSERT INTO counted_orders (order_id) SELECT id FROM orders WHERE id = $1
        ON CONFLICT DO NOTHING
        "#,
        order
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if first == 0 {
        return Ok(());
    }
    sqlx::query!(
        r#"
        INSERT INTO product_signals (kind, product_id, count)
        SELECT $1, product_id, 1 FROM (SELECT DISTINCT product_id FROM order_lines WHERE order_id = $2) bought
        ORDER BY product_id
        ON CONFLICT (kind, product_id) DO UPDATE SET count = product_signals.count + 1
        "#,
        Signal::Bought.as_str(),
        order,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"
        INSERT INTO product_pairs (kind, product_id, other_id, count)
        SELECT DISTINCT $1, a.product_id, b.product_id, 1
        FROM order_lines a JOIN order_lines b ON b.order_id = a.order_id AND b.product_id <> a.product_id
        WHERE a.order_id = $2 AND (SELECT count(DISTINCT product_id) FROM order_lines WHERE order_id = $2) <= $3
        ORDER BY a.product_id, b.product_id
        ON CONFLICT (kind, product_id, other_id) DO UPDATE SET count = product_pairs.count + 1
        "#,
        Signal::Bought.as_str(),
        order,
        MAX_LINES_PAIRED,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"
        INSERT INTO rec_slot_revenue (day, slot, currency, orders, revenue_cents)
        SELECT $3, r.slot, o.currency, 1, sum(l.quantity * l.unit_price_cents)
        FROM order_lines l
        JOIN orders o ON o.id = l.order_id
        JOIN rec_opened r ON r.visit_id = $2 AND r.product_id = l.product_id
        WHERE l.order_id = $1
        GROUP BY r.slot, o.currency
        ORDER BY r.slot, o.currency
        ON CONFLICT (day, slot, currency) DO UPDATE SET
            orders = rec_slot_revenue.orders + 1,
            revenue_cents = rec_slot_revenue.revenue_cents + EXCLUDED.revenue_cents
        "#,
        order,
        visit,
        day as _,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The products that pair with any of `seeds`, on sale and in stock, leaving out `exclude`: best first by the sum
/// of their cosine similarities to the seeds, then by their count together, then by id.
pub async fn related(
    pool: &PgPool,
    signal: Signal,
    seeds: &[i64],
    exclude: &[i64],
    limit: i64,
) -> Result<Vec<Recommended>, sqlx::Error> {
    sqlx::query_as!(
        Recommended,
        r#"
        SELECT p.id, p.slug, p.name, p.price_cents, p.currency
        FROM product_pairs pp
        JOIN product_signals a ON a.kind = pp.kind AND a.product_id = pp.product_id
        JOIN product_signals b ON b.kind = pp.kind AND b.product_id = pp.other_id
        JOIN products p ON p.id = pp.other_id
        WHERE pp.kind = $1 AND pp.product_id = ANY($2) AND NOT (pp.other_id = ANY($3))
          AND p.archived_at IS NULL AND p.stock > 0
        GROUP BY p.id
        ORDER BY sum(pp.count / sqrt(a.count::float8 * b.count)) DESC, sum(pp.count) DESC, p.id
        LIMIT $4
        "#,
        signal.as_str(),
        seeds,
        exclude,
        limit,
    )
    .fetch_all(pool)
    .await
}

/// The products most visits viewed, on sale and in stock, leaving out `exclude`.
pub async fn popular(pool: &PgPool, exclude: &[i64], limit: i64) -> Result<Vec<Recommended>, sqlx::Error> {
    sqlx::query_as!(
        Recommended,
        r#"
        SELECT p.id, p.slug, p.name, p.price_cents, p.currency
        FROM product_signals s JOIN products p ON p.id = s.product_id
        WHERE s.kind = $1 AND p.archived_at IS NULL AND p.stock > 0 AND NOT (p.id = ANY($2))
        ORDER BY s.count DESC, p.id
        LIMIT $3
        "#,
        Signal::Viewed.as_str(),
        exclude,
        limit,
    )
    .fetch_all(pool)
    .await
}

/// The products a shopper viewed most recently: in this visit, and in every visit of `user` when signed in.
pub async fn recent_views(pool: &PgPool, visit: Uuid, user: Option<Uuid>, limit: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"
        SELECT product_id FROM visit_products
        WHERE visit_id = $1 OR visit_id IN (SELECT visit_id FROM visits WHERE user_id = $2)
        GROUP BY product_id
        ORDER BY max(viewed_at) DESC, product_id
        LIMIT $3
        "#,
        visit,
        user,
        limit,
    )
    .fetch_all(pool)
    .await
}
