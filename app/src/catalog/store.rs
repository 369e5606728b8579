//! Catalog queries.

use super::{CategoryShelf, ProductCard, StockLevel};
use sqlx::PgPool;

/// Every category in display order, each with up to `per_category` products (newest first).
pub async fn home_shelves(pool: &PgPool, per_category: i64) -> Result<Vec<CategoryShelf>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        SELECT c.slug AS category_slug, c.name AS category_name,
               p.id AS "id!", p.slug AS "slug!", p.name AS "name!", p.price_cents AS "price_cents!",
               p.currency AS "currency!", p.stock AS "stock!"
        FROM categories c
        CROSS JOIN LATERAL (
            SELECT id, slug, name, price_cents, currency, stock
            FROM products
            WHERE category_slug = c.slug AND archived_at IS NULL
            ORDER BY created_at DESC, id
            LIMIT $1
        ) p
        ORDER BY c.position, c.slug, p.id
        "#,
        per_category
    )
    .fetch_all(pool)
    .await?;

    let mut shelves: Vec<CategoryShelf> = Vec::new();
    for row in rows {
        let card = ProductCard {
            id: row.id,
            slug: row.slug,
            name: row.name,
            price_cents: row.price_cents,
            currency: row.currency,
            stock: row.stock,
        };
        match shelves.last_mut() {
            Some(shelf) if shelf.slug == row.category_slug => shelf.products.push(card),
            _ => shelves.push(CategoryShelf {
                slug: row.category_slug,
                name: row.category_name,
                products: vec![card],
            }),
        }
    }
    Ok(shelves)
}

/// The stock of a product that is on sale, or `None` when there is no such product.
pub async fn stock_level(pool: &PgPool, product_id: i64) -> Result<Option<StockLevel>, sqlx::Error> {
    sqlx::query_as!(
        StockLevel,
        "SELECT id AS product_id, stock FROM products WHERE id = $1 AND archived_at IS NULL",
        product_id
    )
    .fetch_optional(pool)
    .await
}
