//! Variant queries for the back office. Every change locks the product, moves its variants and writes one catalog
//! event with the product before and after, in one transaction.

use super::{generated_sku, ManagedVariant, VariantDraft, VariantEditor};
use crate::{
    admin::store::{lock_state, on_constraint, product, state, write_event},
    error::AppError,
    notifications::CatalogChange,
    variants::{combinations, variant_label, OptionGroup},
};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A product's option groups and every variant, or `None` for no such product.
pub async fn editor(pool: &PgPool, id: i64) -> Result<Option<VariantEditor>, sqlx::Error> {
    let Some(product) = product(pool, id).await? else {
        return Ok(None);
    };
    let options = sqlx::query_as!(
        OptionGroup,
        "SELECT name, choices FROM product_options WHERE product_id = $1 ORDER BY position",
        id
    )
    .fetch_all(pool)
    .await?;
    let variants = sqlx::query_as!(
        ManagedVariant,
        r#"SELECT id, sku, options, price_cents, stock, position, archived_at IS NOT NULL AS "archived!"
           FROM variants WHERE product_id = $1 ORDER BY archived_at IS NOT NULL, position, id"#,
        id
    )
    .fetch_all(pool)
    .await?;
    Ok(Some(VariantEditor { product, options, variants }))
}

/// Replaces a product's option groups (inside the caller's transaction; its variants are the caller's to match).
pub async fn write_options(conn: &mut PgConnection, id: i64, groups: &[OptionGroup]) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM product_options WHERE product_id = $1", id).execute(&mut *conn).await?;
    for (position, group) in groups.iter().enumerate() {
        sqlx::query!(
            "INSERT INTO product_options (product_id, position, name, choices) VALUES ($1, $2, $3, $4)",
            id,
            position as i16,
            group.name,
            &group.choices
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A SKU no variant uses yet: the one made from the slug and choices, or it with `-2`, `-3`…
async fn free_sku(conn: &mut PgConnection, slug: &str, options: &[String]) -> Result<String, sqlx::Error> {
    let base = generated_sku(slug, options);
    // Every SKU the base or a numbered copy of it could collide with, in one query.
    let taken = sqlx::query_scalar!("SELECT sku FROM variants WHERE sku = $1 OR starts_with(sku, $1 || '-')", base)
        .fetch_all(conn)
        .await?;
    let candidate = |n: usize| if n == 1 { base.clone() } else { format!("{base}-{n}") };
    // Of the first `taken.len() + 1` candidates, at least one is free.
    let free = (1..=taken.len() + 1).map(candidate).find(|sku| !taken.contains(sku));
    Ok(free.unwrap_or_else(|| candidate(taken.len() + 1)))
}

/// Replaces a product's option groups and makes its variants follow: one on sale for every combination (existing
/// ones kept, archived ones restored, new ones created without stock), the others archived (their stock kept for
/// if they come back). No groups: the product is sold as its one variant without options.
pub async fn set_options(pool: &PgPool, actor: Uuid, id: i64, groups: &[OptionGroup]) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let before = lock_state(&mut tx, id).await?;
    write_options(&mut tx, id, groups).await?;
    let wanted: Vec<Vec<String>> = combinations(groups, &[]).into_iter().map(|(options, _)| options).collect();
    for (position, options) in wanted.iter().enumerate() {
        let known = before.variants.iter().find(|variant| &variant.options == options);
        match known {
            Some(variant) => {
                sqlx::query!(
                    "UPDATE variants SET archived_at = NULL, position = $2 WHERE id = $1",
                    variant.id,
                    position as i32
                )
                .execute(&mut *tx)
                .await?;
            }
            None => {
                let sku = free_sku(&mut tx, &before.slug, options).await?;
                sqlx::query!(
                    "INSERT INTO variants (product_id, sku, options, position) VALUES ($1, $2, $3, $4)",
                    id,
                    sku,
                    options,
                    position as i32
                )
                .execute(&mut *tx)
                .await
                .map_err(on_constraint)?;
            }
        }
    }
    for variant in before.variants.iter().filter(|variant| !variant.archived && !wanted.contains(&variant.options)) {
        sqlx::query!("UPDATE variants SET archived_at = now() WHERE id = $1", variant.id).execute(&mut *tx).await?;
    }
    sqlx::query!("UPDATE products SET updated_at = now() WHERE id = $1", id).execute(&mut *tx).await?;
    let after = state(&mut tx, id).await?;
    write_event(&mut tx, CatalogChange::Updated, id, actor, Some(before), Some(after), vec![]).await?;
    tx.commit().await?;
    Ok(())
}

/// Saves every submitted variant row of a product: SKU, price, order, archived flag, and stock moved by the
/// difference from what the form showed (units sold meanwhile stay sold). A row of another product, a stock that
/// would go below zero or a variant restored whose choices the options no longer offer refuses the whole save.
pub async fn save(pool: &PgPool, actor: Uuid, id: i64, rows: &[VariantDraft]) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let before = lock_state(&mut tx, id).await?;
    let offered: Vec<Vec<String>> = sqlx::query_as!(
        OptionGroup,
        "SELECT name, choices FROM product_options WHERE product_id = $1 ORDER BY position",
        id
    )
    .fetch_all(&mut *tx)
    .await
    .map(|groups| combinations(&groups, &[]).into_iter().map(|(options, _)| options).collect())?;
    for row in rows {
        let Some(variant) = before.variants.iter().find(|variant| variant.id == row.id) else {
            return Err(AppError::Invalid(format!("Variant {} is not one of {}'s.", row.sku, before.name)));
        };
        let label = variant_label(&variant.options);
        let name = if label.is_empty() { row.sku.clone() } else { label };
        if variant.archived && !row.archived && !offered.contains(&variant.options) {
            return Err(AppError::Invalid(format!(
                "{name} is not a combination of the product's options any more; add its choices back to restore it."
            )));
        }
        let stock = i64::from(variant.stock) + i64::from(row.stock) - i64::from(row.stock_was);
        if stock < 0 {
            return Err(AppError::Invalid(format!(
                "{name}: only {} left now (some sold while you edited); the stock cannot go below zero.",
                variant.stock
            )));
        }
        let stock = i32::try_from(stock).map_err(|_| AppError::Invalid(format!("{name}: that stock is too large.")))?;
        sqlx::query!(
            r#"
            UPDATE variants
            SET sku = $2, price_cents = $3, stock = $4, position = $5,
                archived_at = CASE WHEN $6 THEN COALESCE(archived_at, now()) END
            WHERE id = $1
            "#,
            row.id,
            row.sku,
            row.price_cents,
            stock,
            row.position,
            row.archived,
        )
        .execute(&mut *tx)
        .await
        .map_err(on_constraint)?;
    }
    sqlx::query!("UPDATE products SET updated_at = now() WHERE id = $1", id).execute(&mut *tx).await?;
    let after = state(&mut tx, id).await?;
    write_event(&mut tx, CatalogChange::Updated, id, actor, Some(before), Some(after), vec![]).await?;
    tx.commit().await?;
    Ok(())
}
