//! Notification queries, and turning a catalog event into notifications (the worker calls `record`).

use super::{admin_notice, cart_reminder, shopper_notice, CatalogEvent, Inbox, NoticeKind, Notification};
use sqlx::PgPool;
use uuid::Uuid;

/// A user's latest `limit` notifications and their unread count.
pub async fn inbox(pool: &PgPool, user: Uuid, limit: i64) -> Result<Inbox, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id, kind, message, product_slug, created_at AS "created_at: chrono::DateTime<chrono::Utc>", read_at IS NOT NULL AS "read!"
           FROM notifications WHERE user_id = $1 ORDER BY id DESC LIMIT $2"#,
        user,
        limit
    )
    .fetch_all(pool)
    .await?;
    let items = rows
        .into_iter()
        .map(|row| Notification::new(row.id, row.kind, row.message, row.product_slug, row.created_at, row.read))
        .collect();
    Ok(Inbox { unread: unread_count(pool, user).await?, items })
}

async fn unread_count(pool: &PgPool, user: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM notifications WHERE user_id = $1 AND read_at IS NULL"#,
        user
    )
    .fetch_one(pool)
    .await
}

/// Marks one of the user's notifications read (all of them with `None`); returns the unread count left.
pub async fn mark_read(pool: &PgPool, user: Uuid, id: Option<i64>) -> Result<i64, sqlx::Error> {
    sqlx::query!(
        "UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL AND ($2::bigint IS NULL OR id = $2)",
        user,
        id
    )
    .execute(pool)
    .await?;
    unread_count(pool, user).await
}

/// Stores what an event tells its audiences, once: a replayed event adds nothing. Returns the rows added.
///
/// Shoppers are those whose cart holds the product now (or held it, for a deletion); admins get every event.
pub async fn record(pool: &PgPool, event: &CatalogEvent) -> Result<u64, sqlx::Error> {
    let slug = event.after.as_ref().or(event.before.as_ref()).map(|state| state.slug.clone());
    let mut tx = pool.begin().await?;
    let mut added = 0;
    if let Some((kind, message, variants)) = shopper_notice(event) {
        added += sqlx::query!(
            r#"
            INSERT INTO notifications (user_id, event_id, kind, product_slug, message)
            SELECT holder, $1, $2, $3, $4
            FROM (
                SELECT o.user_id AS holder FROM orders o JOIN order_lines l ON l.order_id = o.id
                WHERE o.status = 'cart' AND o.user_id IS NOT NULL AND l.product_id = $5
                  AND (cardinality($7::bigint[]) = 0 OR l.variant_id = ANY ($7))
                UNION
                SELECT unnest($6::uuid[])
            ) holders
            WHERE EXISTS (SELECT 1 FROM users WHERE id = holder)
            ON CONFLICT (user_id, event_id, kind) DO NOTHING
            "#,
            event.event_id,
            kind.as_str(),
            slug,
            message,
            event.product_id,
            &event.cart_holders,
            &variants,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    added += sqlx::query!(
        r#"
        INSERT INTO notifications (user_id, event_id, kind, product_slug, message)
        SELECT id, $1, $2, $3, $4 FROM users WHERE is_admin
        ON CONFLICT (user_id, event_id, kind) DO NOTHING
        "#,
        event.event_id,
        NoticeKind::CatalogChange.as_str(),
        slug,
        admin_notice(event),
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(added)
}

/// Tells a signed-in shopper about the cart they left unpaid, once per cart: when `visit` (theirs) is not the
/// visit in which the cart last changed, and that change is at least `after` old. Returns whether they were told.
pub async fn remind_of_cart(
    pool: &PgPool,
    user: Uuid,
    visit: Uuid,
    after: std::time::Duration,
) -> Result<bool, sqlx::Error> {
    let Some(cart) = sqlx::query!(
        r#"
        SELECT o.id, array_agg(p.name ORDER BY l.added_at, p.id) AS "names!", sum(l.quantity) AS "items!"
        FROM orders o
        JOIN order_lines l ON l.order_id = o.id
        JOIN products p ON p.id = l.product_id
        WHERE o.user_id = $1 AND o.status = 'cart'
          AND o.updated_at <= now() - make_interval(secs => $3)
          AND o.changed_in_visit IS DISTINCT FROM $2
          AND NOT EXISTS (SELECT 1 FROM notifications n
                          WHERE n.user_id = $1 AND n.event_id = o.id AND n.kind = $4)
        GROUP BY o.id
        "#,
        user,
        visit,
        after.as_secs_f64(),
        NoticeKind::CartReminder.as_str(),
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(false);
    };
    let told = sqlx::query!(
        r#"
        INSERT INTO notifications (user_id, event_id, kind, message) VALUES ($1, $2, $3, $4)
        ON CONFLICT (user_id, event_id, kind) DO NOTHING
        "#,
        user,
        cart.id,
        NoticeKind::CartReminder.as_str(),
        cart_reminder(&cart.names, cart.items),
    )
    .execute(pool)
    .await?;
    Ok(told.rows_affected() == 1)
}
