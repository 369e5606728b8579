//! Promotion queries: the offers a cart can get (with the uses that limit them), the locks and rows checkout
//! writes, and the back office's list and form.

use super::rules::{Discount, Offer};
use super::{ManagedPromotion, Promotion, Reduction, Target};
use crate::error::AppError;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A promotion with its uses: paid (or fulfilled) orders, orders awaiting payment, and those of one shopper.
struct Row {
    id: i64,
    name: String,
    code: Option<String>,
    kind: String,
    amount: i64,
    currency: String,
    target: String,
    min_subtotal_cents: i64,
    product_ids: Vec<i64>,
    category_slugs: Vec<String>,
    first_order_only: bool,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    usage_limit: Option<i32>,
    per_customer_limit: Option<i32>,
    archived: bool,
    used: i64,
    held: i64,
    customer_uses: i64,
    first_order: bool,
}

impl Row {
    fn promotion(&self) -> Promotion {
        Promotion {
            id: self.id,
            name: self.name.clone(),
            code: self.code.clone(),
            reduction: if self.kind == "percent" {
                Reduction::Percent(self.amount)
            } else {
                Reduction::Fixed(self.amount)
            },
            currency: self.currency.clone(),
            target: if self.target == "lines" { Target::Lines } else { Target::Order },
            min_subtotal_cents: self.min_subtotal_cents,
            product_ids: self.product_ids.clone(),
            category_slugs: self.category_slugs.clone(),
            first_order_only: self.first_order_only,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            usage_limit: self.usage_limit,
            per_customer_limit: self.per_customer_limit,
            archived: self.archived,
        }
    }

    fn offer(&self) -> Offer {
        Offer { promotion: self.promotion(), uses: self.used + self.held, customer_uses: self.customer_uses }
    }
}

/// Which promotions to read.
#[derive(Clone, Copy)]
enum Which {
    /// What a cart can get: the automatic promotions on offer, and its code's promotion.
    Offers { coupon: Option<i64> },
    /// One promotion, or (`None`) every one.
    Managed(Option<i64>),
}

async fn fetch(conn: &mut PgConnection, which: Which, user: Option<Uuid>) -> Result<Vec<Row>, sqlx::Error> {
    let (offers, id) = match which {
        Which::Offers { coupon } => (true, coupon),
        Which::Managed(id) => (false, id),
    };
    // Uses are counted only where a limit needs them (or the back office shows them): a promotion used a
    // hundred thousand times costs a cart nothing.
    sqlx::query_as!(
        Row,
        r#"
        SELECT p.id, p.name, p.code, p.kind, p.amount, p.currency, p.target, p.min_subtotal_cents, p.product_ids,
               p.category_slugs, p.first_order_only, p.starts_at AS "starts_at: DateTime<Utc>",
               p.ends_at AS "ends_at: DateTime<Utc>", p.usage_limit, p.per_customer_limit,
               p.archived_at IS NOT NULL AS "archived!",
               uses.used AS "used!", uses.held AS "held!", uses.customer AS "customer_uses!",
               (NOT p.first_order_only OR $3::uuid IS NULL OR NOT EXISTS (
                   SELECT 1 FROM orders o WHERE o.user_id = $3 AND o.status IN ('pending_payment', 'paid', 'fulfilled')
               )) AS "first_order!"
        FROM promotions p
        CROSS JOIN LATERAL (
            SELECT count(*) FILTER (WHERE o.status IN ('paid', 'fulfilled')) AS used,
                   count(*) FILTER (WHERE o.status = 'pending_payment') AS held,
                   count(*) FILTER (WHERE o.user_id = $3) AS customer
            FROM order_discounts d JOIN orders o ON o.id = d.order_id
            WHERE d.promotion_id = p.id AND o.status IN ('pending_payment', 'paid', 'fulfilled')
              AND (NOT $1 OR p.usage_limit IS NOT NULL OR p.per_customer_limit IS NOT NULL)
        ) uses
        WHERE CASE WHEN $1 THEN (p.code IS NULL AND p.archived_at IS NULL) OR p.id = $2
                   ELSE $2::bigint IS NULL OR p.id = $2 END
        ORDER BY p.id
        "#,
        offers,
        id,
        user
    )
    .fetch_all(conn)
    .await
}

/// What a cart can get: the automatic promotions on offer, its code's promotion (archived or not: the rules
/// refuse an ended one), and whether this is the shopper's first order (an anonymous visitor's is).
pub struct Offers {
    pub automatic: Vec<Offer>,
    pub coupon: Option<Offer>,
    pub first_order: bool,
}

pub async fn offers(conn: &mut PgConnection, coupon: Option<i64>, user: Option<Uuid>) -> Result<Offers, sqlx::Error> {
    let rows = fetch(conn, Which::Offers { coupon }, user).await?;
    let first_order = rows.iter().all(|row| row.first_order);
    let (coded, automatic): (Vec<Row>, Vec<Row>) = rows.into_iter().partition(|row| row.code.is_some());
    Ok(Offers {
        automatic: automatic.iter().map(Row::offer).collect(),
        coupon: coded.iter().find(|row| Some(row.id) == coupon).map(Row::offer),
        first_order,
    })
}

/// The promotion with this code (in capitals), archived or not.
pub async fn by_code(conn: &mut PgConnection, code: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!("SELECT id FROM promotions WHERE code = $1", code).fetch_optional(conn).await
}

/// Locks promotions (checkout, before counting the uses of those with a total limit), in id order so that
/// checkouts queue in one order.
pub async fn lock(conn: &mut PgConnection, ids: &[i64]) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query!("SELECT id FROM promotions WHERE id = ANY($1) ORDER BY id FOR UPDATE", ids)
        .fetch_all(conn)
        .await
        .map(|_| ())
}

/// Writes an order's discounts, as they read at checkout.
pub async fn record(conn: &mut PgConnection, order: Uuid, discounts: &[Discount]) -> Result<(), sqlx::Error> {
    for (position, discount) in discounts.iter().enumerate() {
        sqlx::query!(
            r#"INSERT INTO order_discounts (order_id, promotion_id, position, label, code, amount_cents)
               VALUES ($1, $2, $3, $4, $5, $6)"#,
            order,
            discount.promotion_id,
            position as i16,
            discount.label,
            discount.code,
            discount.amount_cents
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A placed order's discounts, in the order they were taken.
pub async fn of_order(pool: &PgPool, order: Uuid) -> Result<Vec<Discount>, sqlx::Error> {
    sqlx::query_as!(
        Discount,
        "SELECT promotion_id, label, code, amount_cents FROM order_discounts WHERE order_id = $1 ORDER BY position",
        order
    )
    .fetch_all(pool)
    .await
}

fn managed(row: &Row) -> ManagedPromotion {
    ManagedPromotion { promotion: row.promotion(), used: row.used, held: row.held }
}

/// Every promotion, newest first, with its uses.
pub async fn list(pool: &PgPool) -> Result<Vec<ManagedPromotion>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    Ok(fetch(&mut conn, Which::Managed(None), None).await?.iter().rev().map(managed).collect())
}

/// One promotion with its uses.
pub async fn get(pool: &PgPool, id: i64) -> Result<Option<ManagedPromotion>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    Ok(fetch(&mut conn, Which::Managed(Some(id)), None).await?.first().map(managed))
}

/// Creates (id 0) or saves a promotion; its products and categories must exist, and its code must be its own.
pub async fn save(pool: &PgPool, promotion: &Promotion) -> Result<i64, AppError> {
    let mut tx = pool.begin().await?;
    let unknown = sqlx::query!(
        r#"
        SELECT ARRAY(SELECT wanted.id::text FROM unnest($1::bigint[]) AS wanted (id) WHERE NOT EXISTS
                     (SELECT 1 FROM products p WHERE p.id = wanted.id)) AS "products!",
               ARRAY(SELECT wanted.slug FROM unnest($2::text[]) AS wanted (slug) WHERE NOT EXISTS
                     (SELECT 1 FROM categories c WHERE c.slug = wanted.slug)) AS "categories!"
        "#,
        &promotion.product_ids,
        &promotion.category_slugs
    )
    .fetch_one(&mut *tx)
    .await?;
    if !unknown.products.is_empty() || !unknown.categories.is_empty() {
        let named = unknown
            .products
            .iter()
            .map(|id| format!("product {id}"))
            .chain(unknown.categories.iter().map(|slug| format!("category “{slug}”")));
        return Err(AppError::Invalid(format!("There is no {}.", named.collect::<Vec<_>>().join(", no "))));
    }
    if let Some(code) = &promotion.code {
        let taken = sqlx::query_scalar!("SELECT id FROM promotions WHERE code = $1 AND id <> $2", code, promotion.id)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(AppError::Invalid(format!("Another promotion has the code {code}; codes are unique.")));
        }
    }
    let (kind, amount) = match promotion.reduction {
        Reduction::Percent(percent) => ("percent", percent),
        Reduction::Fixed(cents) => ("fixed", cents),
    };
    let target = match promotion.target {
        Target::Order => "order",
        Target::Lines => "lines",
    };
    // One statement creates (id 0) or saves. A checkout counting this promotion's uses holds its row: a save waits.
    let id = sqlx::query_scalar!(
        r#"
        WITH saved AS (
            UPDATE promotions SET name = $2, code = $3, kind = $4, amount = $5, currency = $6, target = $7,
                   min_subtotal_cents = $8, product_ids = $9, category_slugs = $10, first_order_only = $11,
                   starts_at = $12, ends_at = $13, usage_limit = $14, per_customer_limit = $15,
                   archived_at = CASE WHEN $16 THEN COALESCE(archived_at, now()) END, updated_at = now()
            WHERE id = $1 AND $1 <> 0
            RETURNING id
        ), created AS (
            INSERT INTO promotions (name, code, kind, amount, currency, target, min_subtotal_cents, product_ids,
                                    category_slugs, first_order_only, starts_at, ends_at, usage_limit,
                                    per_customer_limit, archived_at)
            SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, CASE WHEN $16 THEN now() END
            WHERE $1 = 0
            RETURNING id
        )
        SELECT id AS "id!" FROM saved UNION ALL SELECT id FROM created
        "#,
        promotion.id,
        promotion.name,
        promotion.code,
        kind,
        amount,
        promotion.currency,
        target,
        promotion.min_subtotal_cents,
        &promotion.product_ids,
        &promotion.category_slugs,
        promotion.first_order_only,
        promotion.starts_at as _,
        promotion.ends_at as _,
        promotion.usage_limit,
        promotion.per_customer_limit,
        promotion.archived
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(id)
}
