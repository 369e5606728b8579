//! Catalog queries.

use super::{
    spelling::{self, Spelled},
    CatalogQuery, Category, CategoryCount, CategoryShelf, Facets, OptionGroup, PriceBand, ProductCard, ProductDetail,
    ProductPage, StockLevel, VariantChoice, VariantStock, PAGE_SIZE, PRICE_BANDS,
};
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

/// Full-text search with ranking, plus trigram similarity for misspellings; filters, sort and paging.
pub async fn search(pool: &PgPool, query: &CatalogQuery) -> Result<ProductPage, sqlx::Error> {
    let page = query.page();
    let spelled = spell(pool, &query.q).await?;
    let (found, facets) = tokio::try_join!(
        search_with(pool, query, &spelled, (page - 1) * PAGE_SIZE, PAGE_SIZE),
        facets(pool, query, &spelled),
    )?;
    Ok(ProductPage {
        products: found.products,
        total: found.total,
        page,
        page_count: (found.total + PAGE_SIZE - 1) / PAGE_SIZE,
        did_you_mean: found.did_you_mean,
        facets,
    })
}

/// The search's facets: per category, per price band and in stock, each with the other filters applied.
pub async fn facets(pool: &PgPool, query: &CatalogQuery, spelled: &Spelled) -> Result<Facets, sqlx::Error> {
    let forgiving = spelled.tsquery();
    let raw = query.q.trim().to_lowercase();
    let (min_cents, max_cents) = cents_range(query);
    let bounds: Vec<i64> = PRICE_BANDS.iter().map(|bound| bound * 100).collect();
    let rows = sqlx::query!(
        r#"
        WITH input AS (
            SELECT CASE WHEN $1::text = '' THEN NULL ELSE to_tsquery('english', $1) END AS tsq, $2::text AS raw
        ), matched AS (
            SELECT p.category_slug, width_bucket(p.price_cents, $7::bigint[]) AS band, p.stock > 0 AS in_stock,
                   ($3::text = '' OR p.category_slug = $3) AS category_ok,
                   (($4::bigint IS NULL OR p.price_cents >= $4) AND ($5::bigint IS NULL OR p.price_cents <= $5)) AS price_ok,
                   (NOT $6::bool OR p.stock > 0) AS stock_ok
            FROM products p, input i
            WHERE p.archived_at IS NULL
              AND (i.tsq IS NULL OR p.search @@ i.tsq OR word_similarity(i.raw, lower(p.name)) >= 0.5)
        )
        SELECT 'category' AS "facet!", c.slug AS "key!", c.name AS "label!", c.position AS "position!",
               count(*) AS "count!"
        FROM matched m JOIN categories c ON c.slug = m.category_slug
        WHERE m.price_ok AND m.stock_ok
        GROUP BY c.slug, c.name, c.position
        UNION ALL
        SELECT 'price', '', '', m.band, count(*) FROM matched m WHERE m.category_ok AND m.stock_ok GROUP BY m.band
        UNION ALL
        SELECT 'in_stock', '', '', 0, count(*) FROM matched m WHERE m.category_ok AND m.price_ok AND m.in_stock
        "#,
        forgiving,
        raw,
        query.category,
        min_cents,
        max_cents,
        query.in_stock,
        &bounds,
    )
    .fetch_all(pool)
    .await?;
    let mut facets = Facets::default();
    let mut categories = Vec::new();
    for row in rows {
        match row.facet.as_str() {
            "category" => {
                categories.push((row.position, CategoryCount { slug: row.key, name: row.label, count: row.count }))
            }
            "price" => facets.prices.push(PriceBand::nth(usize::try_from(row.position).unwrap_or(0), row.count)),
            _ => facets.in_stock = row.count,
        }
    }
    categories.sort_by(|(a, x), (b, y)| (a, &x.slug).cmp(&(b, &y.slug)));
    facets.categories = categories.into_iter().map(|(_, category)| category).collect();
    facets.prices.sort_by_key(|band| band.min);
    Ok(facets)
}

/// The price filter in minor units: the filter is in whole units, the catalog in cents (a maximum of 49 takes
/// 49.99).
fn cents_range(query: &CatalogQuery) -> (Option<i64>, Option<i64>) {
    (query.min_price.map(|p| p.saturating_mul(100)), query.max_price.map(|p| p.saturating_mul(100).saturating_add(99)))
}

/// A window of search results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchWindow {
    pub products: Vec<ProductCard>,
    /// How many products match in all (as typed or through a correction).
    pub total: i64,
    /// The corrected query, when nothing matched as typed but a correction did.
    pub did_you_mean: Option<String>,
}

/// The query's words, each with its corrections from the catalog's words ([`spelling::corrections`]).
pub async fn spell(pool: &PgPool, query: &str) -> Result<Spelled, sqlx::Error> {
    let mut spelled = Spelled::as_typed(query);
    spelled.corrections = corrections(pool, &spelled.words).await?;
    Ok(spelled)
}

/// Each of `words`' corrections from the catalog's words; an empty list for a word that needs none.
async fn corrections(pool: &PgPool, words: &[String]) -> Result<Vec<Vec<String>>, sqlx::Error> {
    let asked: Vec<String> = words
        .iter()
        .filter(|word| spelling::allowed_edits(word.chars().count()) > 0 && word.chars().all(char::is_alphabetic))
        .cloned()
        .collect();
    if asked.is_empty() {
        return Ok(vec![Vec::new(); words.len()]);
    }
    // The catalog words of about the same length, and any that starts with the word (then it is no typo).
    let rows = sqlx::query!(
        r#"
        SELECT q.word AS "asked!", l.word AS "candidate!"
        FROM unnest($1::text[]) q(word)
        JOIN search_lexicon l ON char_length(l.word) BETWEEN char_length(q.word) - 2 AND char_length(q.word) + 2
                              OR starts_with(l.word, q.word)
        "#,
        &asked,
    )
    .fetch_all(pool)
    .await?;
    Ok(words
        .iter()
        .map(|word| {
            let candidates = rows.iter().filter(|row| &row.asked == word).map(|row| row.candidate.as_str());
            spelling::corrections(word, candidates)
        })
        .collect())
}

/// The same search, `limit` products from `offset` on (the page number in `query` is not read), with the
/// number of products that match in all; misspelt words are corrected ([`spelling`]).
pub async fn search_window(
    pool: &PgPool,
    query: &CatalogQuery,
    offset: i64,
    limit: i64,
) -> Result<SearchWindow, sqlx::Error> {
    search_with(pool, query, &spell(pool, &query.q).await?, offset, limit).await
}

/// The search with the query's words spelled so ([`Spelled::as_typed`]: the query as typed only). Products that
/// match as typed come first when sorted by relevance.
pub async fn search_with(
    pool: &PgPool,
    query: &CatalogQuery,
    spelled: &Spelled,
    offset: i64,
    limit: i64,
) -> Result<SearchWindow, sqlx::Error> {
    let exact = spelled.exact_tsquery();
    let forgiving = spelled.tsquery();
    let raw = query.q.trim().to_lowercase();
    let (min_cents, max_cents) = cents_range(query);
    let rows = sqlx::query!(
        r#"
        WITH input AS (
            SELECT CASE WHEN $1::text = '' THEN NULL ELSE to_tsquery('english', $1) END AS tsq,
                   CASE WHEN $10::text = '' THEN NULL ELSE to_tsquery('english', $10) END AS exact,
                   $2::text AS raw
        ), found AS (
            SELECT p.*, (i.exact IS NULL OR p.search @@ i.exact OR word_similarity(i.raw, lower(p.name)) >= 0.5) AS as_typed
            FROM products p, input i
            WHERE p.archived_at IS NULL
              AND (i.tsq IS NULL OR p.search @@ i.tsq OR word_similarity(i.raw, lower(p.name)) >= 0.5)
        )
        SELECT p.id, p.slug, p.name, p.price_cents, p.currency, p.stock, count(*) OVER () AS "total!",
               count(*) FILTER (WHERE p.as_typed) OVER () AS "as_typed!"
        FROM found p, input i
        WHERE ($3::text = '' OR p.category_slug = $3)
          AND ($4::bigint IS NULL OR p.price_cents >= $4)
          AND ($5::bigint IS NULL OR p.price_cents <= $5)
          AND (NOT $6::bool OR p.stock > 0)
        ORDER BY
          CASE WHEN $7::text = 'price_asc' THEN p.price_cents END ASC,
          CASE WHEN $7::text = 'price_desc' THEN p.price_cents END DESC,
          CASE WHEN $7::text = 'relevance' THEN p.as_typed END DESC,
          CASE WHEN $7::text = 'relevance' AND i.tsq IS NOT NULL
               THEN ts_rank(p.search, i.tsq) + word_similarity(i.raw, lower(p.name)) END DESC NULLS LAST,
          p.created_at DESC, p.id
        LIMIT $8 OFFSET $9
        "#,
        forgiving,
        raw,
        query.category,
        min_cents,
        max_cents,
        query.in_stock,
        query.sort.as_str(),
        limit,
        offset,
        exact,
    )
    .fetch_all(pool)
    .await?;
    let (total, as_typed) = rows.first().map(|row| (row.total, row.as_typed)).unwrap_or((0, 0));
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
    let did_you_mean = (total > 0 && as_typed == 0).then(|| spelled.corrected()).flatten();
    Ok(SearchWindow { products, total, did_you_mean })
}

/// A product on sale, by slug.
pub async fn product_by_slug(pool: &PgPool, slug: &str) -> Result<Option<ProductDetail>, sqlx::Error> {
    let Some(row) = sqlx::query!(
        r#"
        SELECT p.id, p.slug, p.name, p.description, p.category_slug, c.name AS category_name,
               p.price_cents, p.currency, p.stock
        FROM products p JOIN categories c ON c.slug = p.category_slug
        WHERE p.slug = $1 AND p.archived_at IS NULL
        "#,
        slug
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let options = sqlx::query_as!(
        OptionGroup,
        "SELECT name, choices FROM product_options WHERE product_id = $1 ORDER BY position",
        row.id
    )
    .fetch_all(pool)
    .await?;
    let variants = sqlx::query_as!(
        VariantChoice,
        r#"
        SELECT v.id, v.sku, v.options, COALESCE(v.price_cents, p.price_cents) AS "price_cents!", v.stock
        FROM variants v JOIN products p ON p.id = v.product_id
        WHERE v.product_id = $1 AND v.archived_at IS NULL
        ORDER BY v.position, v.id
        "#,
        row.id
    )
    .fetch_all(pool)
    .await?;
    Ok(Some(ProductDetail {
        id: row.id,
        slug: row.slug,
        name: row.name,
        description: row.description,
        category_slug: row.category_slug,
        category_name: row.category_name,
        price_cents: row.price_cents,
        currency: row.currency,
        stock: row.stock,
        options,
        variants,
    }))
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

/// A product's live stock and each of its on-sale variants', in one query; `None` when the product is not on sale.
pub async fn live_stock(pool: &PgPool, product_id: i64) -> Result<Option<(i32, Vec<VariantStock>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        SELECT p.stock, v.id AS "variant?", v.stock AS "variant_stock?"
        FROM products p LEFT JOIN variants v ON v.product_id = p.id AND v.archived_at IS NULL
        WHERE p.id = $1 AND p.archived_at IS NULL
        ORDER BY v.position, v.id
        "#,
        product_id
    )
    .fetch_all(pool)
    .await?;
    let Some(product_stock) = rows.first().map(|row| row.stock) else {
        return Ok(None);
    };
    let variants =
        rows.into_iter().filter_map(|row| Some(VariantStock { id: row.variant?, stock: row.variant_stock? })).collect();
    Ok(Some((product_stock, variants)))
}

/// The stock of each of a product's variants on sale.
pub async fn variant_stocks(pool: &PgPool, product_id: i64) -> Result<Vec<VariantStock>, sqlx::Error> {
    sqlx::query_as!(
        VariantStock,
        "SELECT id, stock FROM variants WHERE product_id = $1 AND archived_at IS NULL ORDER BY position, id",
        product_id
    )
    .fetch_all(pool)
    .await
}
