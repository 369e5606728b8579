//! Notification queries, and turning a catalog event into notifications (the worker calls `record`).

use super::{admin_notice, shopper_notice, CatalogEvent, Inbox, NoticeKind, Notification};
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
    if let Some((kind, message)) = shopper_notice(event) {
        added += sqlx::query!(
            r#"
            INSERT INTO notifications (user_id, event_id, kind, product_slug, message)
            SELECT holder, $1, $2, $3, $4
            FROM (
                SELECT o.user_id AS holder FROM orders o JOIN order_lines l ON l.order_id = o.id
                WHERE o.status = 'cart' AND o.user_id IS NOT NULL AND l.product_id = $5
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
