//! Back-office queries. Every product change writes its catalog event to the outbox in the same transaction.

use super::{AdminOrderRow, ManagedOrder, ManagedProduct, OrderEmail, Parcel, ProductDraft, ORDERS_PAGE_SIZE};
use crate::tax::TaxCategory;
use crate::{
    catalog::artwork::product_svg,
    error::AppError,
    notifications::{CatalogChange, CatalogEvent, ProductState, VariantState, CATALOG_SCHEMA_VERSION},
    orders::{store as orders, OrderStatus},
};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// An uploaded image: its bytes and the type read from them.
pub struct UploadedImage {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

/// Products by name or slug, newest first; `archived` picks active or archived ones (`None`: both).
pub async fn list_products(
    pool: &PgPool,
    query: &str,
    archived: Option<bool>,
) -> Result<Vec<ManagedProduct>, sqlx::Error> {
    let pattern = format!("%{}%", query.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    sqlx::query_as!(
        ManagedProduct,
        r#"
        SELECT id, slug, name, description, category_slug, tax_category, price_cents, currency, stock, weight_grams,
               archived_at IS NOT NULL AS "archived!", image_upload IS NOT NULL AS "uploaded_image!", updated_at AS "updated_at: chrono::DateTime<chrono::Utc>",
               EXISTS (SELECT 1 FROM product_options o WHERE o.product_id = products.id) AS "has_options!"
        FROM products
        WHERE ($1 = '%%' OR name ILIKE $1 OR slug ILIKE $1)
          AND ($2::boolean IS NULL OR (archived_at IS NOT NULL) = $2)
        ORDER BY created_at DESC, id DESC
        LIMIT 200
        "#,
        pattern,
        archived
    )
    .fetch_all(pool)
    .await
}

/// One product, archived or not.
pub async fn product(pool: &PgPool, id: i64) -> Result<Option<ManagedProduct>, sqlx::Error> {
    sqlx::query_as!(
        ManagedProduct,
        r#"
        SELECT id, slug, name, description, category_slug, tax_category, price_cents, currency, stock, weight_grams,
               archived_at IS NOT NULL AS "archived!", image_upload IS NOT NULL AS "uploaded_image!", updated_at AS "updated_at: chrono::DateTime<chrono::Utc>",
               EXISTS (SELECT 1 FROM product_options o WHERE o.product_id = products.id) AS "has_options!"
        FROM products WHERE id = $1
        "#,
        id
    )
    .fetch_optional(pool)
    .await
}

/// The product as events show it, locked until the transaction ends (its variants' stock with it: every change of
/// theirs moves the product's figure).
pub(super) async fn lock_state(conn: &mut PgConnection, id: i64) -> Result<ProductState, AppError> {
    sqlx::query!("SELECT id FROM products WHERE id = $1 FOR UPDATE", id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(state(conn, id).await?)
}

/// The product as events show it, with all its variants.
pub(super) async fn state(conn: &mut PgConnection, id: i64) -> Result<ProductState, sqlx::Error> {
    let product = sqlx::query!(
        r#"SELECT slug, name, price_cents, currency, stock, archived_at IS NOT NULL AS "archived!" FROM products WHERE id = $1"#,
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    let variants = sqlx::query_as!(
        VariantState,
        r#"SELECT id, sku, options, price_cents, stock, archived_at IS NOT NULL AS "archived!"
           FROM variants WHERE product_id = $1 ORDER BY position, id"#,
        id
    )
    .fetch_all(conn)
    .await?;
    Ok(ProductState {
        slug: product.slug,
        name: product.name,
        price_cents: product.price_cents,
        currency: product.currency,
        stock: product.stock,
        archived: product.archived,
        variants,
    })
}

/// Writes a catalog event to the outbox (the relay publishes it to `catalog.v1` once the transaction commits) and
/// its webhook deliveries.
pub(super) async fn write_event(
    conn: &mut PgConnection,
    change: CatalogChange,
    product_id: i64,
    actor: Uuid,
    before: Option<ProductState>,
    after: Option<ProductState>,
    cart_holders: Vec<Uuid>,
) -> Result<(), AppError> {
    let event = CatalogEvent {
        schema_version: CATALOG_SCHEMA_VERSION,
        event_id: Uuid::new_v4(),
        change,
        product_id,
        occurred_at: chrono::Utc::now(),
        actor: Some(actor),
        before,
        after,
        cart_holders,
    };
    let payload = serde_json::to_value(&event).map_err(|error| {
        tracing::error!(%error, "could not encode a catalog event");
        AppError::Internal
    })?;
    sqlx::query!(
        "INSERT INTO catalog_outbox (event_id, product_id, payload) VALUES ($1, $2, $3)",
        event.event_id,
        product_id,
        payload
    )
    .execute(&mut *conn)
    .await?;
    crate::webhooks::store::enqueue_catalog(conn, &event).await?;
    Ok(())
}

/// Turns a constraint violation into a message the admin can act on.
pub(super) fn on_constraint(error: sqlx::Error) -> AppError {
    match error.as_database_error().and_then(|e| e.constraint()) {
        Some("products_slug_key") => AppError::Invalid("Another product already uses that URL slug.".into()),
        Some("products_category_slug_fkey") => AppError::Invalid("Unknown category.".into()),
        Some("variants_sku_key") => AppError::Invalid("Another product or variant already uses that SKU.".into()),
        _ => error.into(),
    }
}

/// Creates a product with generated artwork; returns its id.
pub async fn create_product(pool: &PgPool, actor: Uuid, draft: &ProductDraft) -> Result<i64, AppError> {
    let mut tx = pool.begin().await?;
    let id = sqlx::query_scalar!(
        r#"
        INSERT INTO products (slug, name, description, category_slug, price_cents, stock, image_svg, tax_category,
                              weight_grams)
        VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, 'standard'), COALESCE($9, 0))
        RETURNING id
        "#,
        draft.slug,
        draft.name,
        draft.description,
        draft.category_slug,
        draft.price_cents,
        draft.stock,
        product_svg(&draft.name, &draft.category_slug),
        draft.tax_category.map(TaxCategory::as_str),
        draft.weight_grams,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(on_constraint)?;
    let after = state(&mut tx, id).await?;
    write_event(&mut tx, CatalogChange::Created, id, actor, None, Some(after), vec![]).await?;
    tx.commit().await?;
    Ok(id)
}

/// Updates a product. Stock moves by the difference from what the form showed, so concurrent sales stay sold; it
/// is the stock of the product's only variant (a product with options keeps its stock per variant, on its variants
/// page).
pub async fn update_product(
    pool: &PgPool,
    actor: Uuid,
    id: i64,
    draft: &ProductDraft,
    stock_was: i32,
) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let before = lock_state(&mut tx, id).await?;
    let delta = i64::from(draft.stock) - i64::from(stock_was);
    if delta != 0 {
        let on_sale: Vec<&VariantState> = before.variants.iter().filter(|variant| !variant.archived).collect();
        let only = match on_sale.as_slice() {
            [only] if only.options.is_empty() => *only,
            _ => {
                return Err(AppError::Invalid(format!(
                    "{} keeps its stock per variant: change it on the product's variants page.",
                    before.name
                )))
            }
        };
        let stock = i64::from(only.stock) + delta;
        if stock < 0 {
            return Err(AppError::Invalid(format!(
                "Only {} left now (some sold while you edited); the stock cannot go below zero.",
                only.stock
            )));
        }
        let stock = i32::try_from(stock).map_err(|_| AppError::Invalid("That stock is too large.".into()))?;
        sqlx::query!("UPDATE variants SET stock = $2 WHERE id = $1", only.id, stock).execute(&mut *tx).await?;
    }
    let regenerate_art = before.name != draft.name;
    sqlx::query!(
        r#"
        UPDATE products
        SET slug = $2, name = $3, description = $4, category_slug = $5, price_cents = $6,
            image_svg = CASE WHEN $7 THEN $8 ELSE image_svg END, tax_category = COALESCE($9, tax_category),
            weight_grams = COALESCE($10, weight_grams), updated_at = now()
        WHERE id = $1
        "#,
        id,
        draft.slug,
        draft.name,
        draft.description,
        draft.category_slug,
        draft.price_cents,
        regenerate_art,
        product_svg(&draft.name, &draft.category_slug),
        draft.tax_category.map(TaxCategory::as_str),
        draft.weight_grams,
    )
    .execute(&mut *tx)
    .await
    .map_err(on_constraint)?;
    let after = state(&mut tx, id).await?;
    write_event(&mut tx, CatalogChange::Updated, id, actor, Some(before), Some(after), vec![]).await?;
    tx.commit().await?;
    Ok(())
}

/// Archives or restores a product.
pub async fn set_archived(pool: &PgPool, actor: Uuid, id: i64, archived: bool) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let before = lock_state(&mut tx, id).await?;
    if before.archived == archived {
        return Ok(());
    }
    sqlx::query!(
        "UPDATE products SET archived_at = CASE WHEN $2 THEN now() END, updated_at = now() WHERE id = $1",
        id,
        archived
    )
    .execute(&mut *tx)
    .await?;
    let after = state(&mut tx, id).await?;
    let change = if archived { CatalogChange::Archived } else { CatalogChange::Restored };
    write_event(&mut tx, change, id, actor, Some(before), Some(after), vec![]).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a never-ordered product, removing it from carts; the event names the signed-in holders to tell.
pub async fn delete_product(pool: &PgPool, actor: Uuid, id: i64) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let before = lock_state(&mut tx, id).await?;
    let ordered = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM order_lines l JOIN orders o ON o.id = l.order_id
                          WHERE l.product_id = $1 AND o.status <> 'cart') AS "ordered!""#,
        id
    )
    .fetch_one(&mut *tx)
    .await?;
    if ordered {
        return Err(AppError::Invalid(format!(
            "{} has been ordered, so its history must stay: archive it instead.",
            before.name
        )));
    }
    let cart_holders = sqlx::query_scalar!(
        r#"
        DELETE FROM order_lines l USING orders o
        WHERE l.order_id = o.id AND l.product_id = $1 AND o.status = 'cart'
        RETURNING o.user_id AS "user_id?"
        "#,
        id
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .flatten()
    .collect();
    sqlx::query!("DELETE FROM products WHERE id = $1", id).execute(&mut *tx).await?;
    write_event(&mut tx, CatalogChange::Deleted, id, actor, Some(before), None, cart_holders).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets (or, with `None`, clears) a product's uploaded image.
pub async fn set_image(pool: &PgPool, actor: Uuid, id: i64, image: Option<UploadedImage>) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let before = lock_state(&mut tx, id).await?;
    let (bytes, content_type) = match image {
        Some(image) => (Some(image.bytes), Some(image.content_type)),
        None => (None, None),
    };
    sqlx::query!(
        "UPDATE products SET image_upload = $2, image_upload_type = $3, updated_at = now() WHERE id = $1",
        id,
        bytes,
        content_type
    )
    .execute(&mut *tx)
    .await?;
    let after = state(&mut tx, id).await?;
    write_event(&mut tx, CatalogChange::Updated, id, actor, Some(before), Some(after), vec![]).await?;
    tx.commit().await?;
    Ok(())
}

/// Orders that left the cart, newest first, `ORDERS_PAGE_SIZE` a page.
pub async fn list_orders(
    pool: &PgPool,
    status: Option<OrderStatus>,
    page: i64,
) -> Result<Vec<AdminOrderRow>, sqlx::Error> {
    sqlx::query_as!(
        AdminOrderRow,
        r#"
        SELECT o.id, o.status AS "status: OrderStatus", o.total_cents AS "total_cents!", o.currency, o.created_at AS "created_at: chrono::DateTime<chrono::Utc>",
               COALESCE(u.name, 'deleted user') AS "shopper!",
               (SELECT COALESCE(sum(quantity), 0) FROM order_lines WHERE order_id = o.id) AS "item_count!"
        FROM orders o LEFT JOIN users u ON u.id = o.user_id
        WHERE o.status <> 'cart' AND ($1::text IS NULL OR o.status = $1)
        ORDER BY o.created_at DESC, o.id
        LIMIT $2 OFFSET $3
        "#,
        status.map(OrderStatus::as_str),
        ORDERS_PAGE_SIZE,
        (page - 1) * ORDERS_PAGE_SIZE
    )
    .fetch_all(pool)
    .await
}

/// Accounts whose name or email contains `query`, most recently signed in first.
pub async fn list_users(pool: &PgPool, query: &str) -> Result<Vec<super::ManagedUser>, sqlx::Error> {
    sqlx::query_as!(
        super::ManagedUser,
        r#"
        SELECT id, name, email, is_admin, last_login_at AS "last_login_at: chrono::DateTime<chrono::Utc>",
               sessions_valid_after AS "sessions_ended_at: chrono::DateTime<chrono::Utc>"
        FROM users
        WHERE $1 = '' OR strpos(lower(name), lower($1)) > 0 OR strpos(lower(COALESCE(email, '')), lower($1)) > 0
        ORDER BY last_login_at DESC
        LIMIT 100
        "#,
        query
    )
    .fetch_all(pool)
    .await
}

/// Any order with who placed it.
pub async fn order(pool: &PgPool, id: Uuid) -> Result<Option<ManagedOrder>, sqlx::Error> {
    let Some(detail) = orders::detail(pool, None, id).await? else { return Ok(None) };
    let shopper =
        sqlx::query!("SELECT u.name, u.email FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id = $1", id)
            .fetch_optional(pool)
            .await?;
    let emails = sqlx::query!(
        r#"SELECT kind, subject, recipient, status, attempts, last_error,
                  COALESCE(sent_at, created_at) AS "at!: chrono::DateTime<chrono::Utc>"
           FROM emails WHERE order_id = $1 ORDER BY id"#,
        id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|row| OrderEmail {
        what: row.subject.unwrap_or_else(|| {
            let kind = row.kind.replace('_', " ");
            kind[..1].to_uppercase() + &kind[1..]
        }),
        recipient: row.recipient,
        status: row.status,
        attempts: row.attempts,
        last_error: row.last_error,
        at: row.at,
    })
    .collect();
    Ok(Some(ManagedOrder {
        shopper: shopper.as_ref().map(|s| s.name.clone()).unwrap_or_else(|| "deleted user".into()),
        shopper_email: shopper.and_then(|s| s.email),
        detail,
        emails,
    }))
}

/// Ships a parcel of a paid order (any other state is refused with its name): each unit at most once, checked under
/// the order's lock (so two admins shipping at once queue) and by the database. When nothing is left to ship the
/// order becomes fulfilled; returns its status.
pub async fn ship(
    pool: &PgPool,
    id: Uuid,
    admin: Uuid,
    admin_name: &str,
    parcel: &Parcel,
) -> Result<OrderStatus, AppError> {
    let mut tx = pool.begin().await?;
    let status = sqlx::query_scalar!(
        r#"SELECT status AS "status: OrderStatus" FROM orders WHERE id = $1 AND status <> 'cart' FOR UPDATE"#,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    if !status.can_become(OrderStatus::Fulfilled) {
        return Err(AppError::Invalid(format!(
            "This order is {}; only paid orders can be shipped.",
            status.label().to_lowercase()
        )));
    }
    let lines = sqlx::query!(
        r#"
        SELECT l.variant_id, p.name, v.options,
               l.quantity - (SELECT COALESCE(sum(s.quantity), 0) FROM shipment_lines s
                             WHERE s.order_id = l.order_id AND s.variant_id = l.variant_id)::integer AS "left!"
        FROM order_lines l JOIN products p ON p.id = l.product_id JOIN variants v ON v.id = l.variant_id
        WHERE l.order_id = $1
        "#,
        id
    )
    .fetch_all(&mut *tx)
    .await?;
    let units: Vec<(i64, i32)> = if parcel.units.is_empty() {
        lines.iter().filter(|line| line.left > 0).map(|line| (line.variant_id, line.left)).collect()
    } else {
        parcel.units.clone()
    };
    for (variant, quantity) in &units {
        let Some(line) = lines.iter().find(|line| line.variant_id == *variant) else {
            return Err(AppError::Invalid("That item is not in this order.".into()));
        };
        if *quantity > line.left {
            let title = crate::variants::titled(&line.name, &crate::variants::variant_label(&line.options));
            return Err(AppError::Invalid(format!("Only {} of {title} are left to ship.", line.left)));
        }
    }
    if units.is_empty() {
        return Err(AppError::Invalid("Everything in this order has shipped.".into()));
    }
    let shipment = Uuid::new_v4();
    sqlx::query!(
        "INSERT INTO shipments (id, order_id, carrier, tracking, shipped_by) VALUES ($1, $2, $3, $4, $5)",
        shipment,
        id,
        parcel.carrier,
        parcel.tracking,
        admin
    )
    .execute(&mut *tx)
    .await?;
    for (variant, quantity) in &units {
        sqlx::query!(
            "INSERT INTO shipment_lines (shipment_id, order_id, variant_id, quantity) VALUES ($1, $2, $3, $4)",
            shipment,
            id,
            variant,
            quantity
        )
        .execute(&mut *tx)
        .await?;
    }
    crate::email::enqueue(&mut tx, id, crate::email::EmailKind::Shipment, Some(shipment)).await?;
    let shipped: i32 = units.iter().map(|(_, quantity)| quantity).sum();
    let left: i32 = lines.iter().map(|line| line.left).sum::<i32>() - shipped;
    let status = if left == 0 {
        let how = [parcel.carrier.as_deref(), parcel.tracking.as_deref()].into_iter().flatten().collect::<Vec<_>>();
        let note = if how.is_empty() {
            format!("shipped by {admin_name}")
        } else {
            format!("shipped by {admin_name}: {}", how.join(" "))
        };
        orders::transition(&mut tx, id, OrderStatus::Fulfilled, &note).await?;
        OrderStatus::Fulfilled
    } else {
        status
    };
    tx.commit().await?;
    Ok(status)
}
