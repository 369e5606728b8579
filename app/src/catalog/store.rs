//! Catalog queries.

use super::{CatalogQuery, Category, CategoryShelf, ProductCard, ProductDetail, ProductPage, StockLevel, PAGE_SIZE};
use sqlx::PgPool;

/// Every category in display order, each with up to `per_category` products.
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
            _ => shelves.push(CategoryShelf { slug: row.category_slug, name: row.category_name, products: vec![card] }),
        }
    }
    Ok(shelves)
}

/// Every category in display order.
pub async fn categories(pool: &PgPool) -> Result<Vec<Category>, sqlx::Error> {
    sqlx::query_as!(Category, "SELECT slug, name FROM categories ORDER BY position, slug").fetch_all(pool).await
}

/// Turns what a shopper typed into a safe prefix tsquery: `red tent` → `red:* & tent:*`.
///
/// Only letters and digits survive, so no tsquery syntax can be injected.
pub fn prefix_tsquery(raw: &str) -> String {
    raw.split(|c: char| !c.is_alphanumeric())
        .filter(|token| !token.is_empty())
        .take(8)
        .map(|token| format!("{}:*", token.chars().take(32).collect::<String>().to_lowercase()))
        .collect::<Vec<_>>()
        .join(" & ")
}

/// Full-text search with ranking, plus trigram similarity for misspellings; filters, sort and paging.
pub async fn search(pool: &PgPool, query: &CatalogQuery) -> Result<ProductPage, sqlx::Error> {
    let page = query.page();
    let (products, total) = search_window(pool, query, (page - 1) * PAGE_SIZE, PAGE_SIZE).await?;
    Ok(ProductPage { products, total, page, page_count: (total + PAGE_SIZE - 1) / PAGE_SIZE })
}

/// The same search, `limit` products from `offset` on (the page number in `query` is not read), with the
/// number of products that match in all.
pub async fn search_window(
    pool: &PgPool,
    query: &CatalogQuery,
    offset: i64,
    limit: i64,
) -> Result<(Vec<ProductCard>, i64), sqlx::Error> {
    let tsquery = prefix_tsquery(&query.q);
    let raw = query.q.trim().to_lowercase();
    // Prices are filtered in whole units; the catalog stores minor units.
    let min_cents = query.min_price.map(|p| p.saturating_mul(100));
    let max_cents = query.max_price.map(|p| p.saturating_mul(100).saturating_add(99));
    let rows = sqlx::query!(
        r#"
        WITH input AS (
            SELECT CASE WHEN $1::text = '' THEN NULL ELSE to_tsquery('english', $1) END AS tsq, $2::text AS raw
        )
        SELECT p.id, p.slug, p.name, p.price_cents, p.currency, p.stock, count(*) OVER () AS "total!"
        FROM products p, input i
        WHERE p.archived_at IS NULL
          AND ($3::text = '' OR p.category_slug = $3)
          AND ($4::bigint IS NULL OR p.price_cents >= $4)
          AND ($5::bigint IS NULL OR p.price_cents <= $5)
          AND (NOT $6::bool OR p.stock > 0)
          AND (i.tsq IS NULL OR p.search @@ i.tsq OR word_similarity(i.raw, lower(p.name)) >= 0.5)
        ORDER BY
          CASE WHEN $7::text = 'price_asc' THEN p.price_cents END ASC,
          CASE WHEN $7::text = 'price_desc' THEN p.price_cents END DESC,
          CASE WHEN $7::text = 'relevance' AND i.tsq IS NOT NULL
               THEN ts_rank(p.search, i.tsq) + word_similarity(i.raw, lower(p.name)) END DESC NULLS LAST,
          p.created_at DESC, p.id
        LIMIT $8 OFFSET $9
        "#,
        tsquery,
        raw,
        query.category,
        min_cents,
        max_cents,
        query.in_stock,
        query.sort.as_str(),
        limit,
        offset,
    )
    .fetch_all(pool)
    .await?;
    let total = rows.first().map(|row| row.total).unwrap_or(0);
    let products = rows
        .into_iter()
        .map(|row| ProductCard {
            id: row.id,
            slug: row.slug,
            name: row.name,
            price_cents: row.price_cents,
            currency: row.currency,
            stock: row.stock,
        })
        .collect();
    Ok((products, total))
}

/// A product on sale, by slug.
pub async fn product_by_slug(pool: &PgPool, slug: &str) -> Result<Option<ProductDetail>, sqlx::Error> {
    sqlx::query_as!(
        ProductDetail,
        r#"
        SELECT p.id, p.slug, p.name, p.description, p.category_slug, c.name AS category_name,
               p.price_cents, p.currency, p.stock
        FROM products p JOIN categories c ON c.slug = p.category_slug
        WHERE p.slug = $1 AND p.archived_at IS NULL
        "#,
        slug
    )
    .fetch_optional(pool)
    .await
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

#[cfg(test)]
mod tests {
    use super::prefix_tsquery;

    #[test]
    fn search_text_becomes_a_safe_prefix_query() {
        assert_eq!(prefix_tsquery("Red  Tent"), "red:* & tent:*");
        assert_eq!(prefix_tsquery("tent' | !(drop)"), "tent:* & drop:*");
        assert_eq!(prefix_tsquery("  &|! "), "");
    }
}
