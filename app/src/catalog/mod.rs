//! Browse: the catalog's types, server functions and pages.

pub mod artwork;
#[cfg(feature = "ssr")]
pub mod cache;
#[cfg(feature = "ssr")]
pub mod spelling;
#[cfg(feature = "ssr")]
pub mod store;
pub mod suggest;
mod views;

pub use views::{CatalogPage, HomePage, ProductPage};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_context as ctx;
pub use crate::variants::{combinations, titled, variant_label, OptionGroup, VariantChoice};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Products per catalog page.
pub const PAGE_SIZE: i64 = 12;
/// The longest search query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 100;

/// A product as a card in a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductCard {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub price_cents: i64,
    pub currency: String,
    pub stock: i32,
}

/// One category with the products shown for it on the home page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryShelf {
    pub slug: String,
    pub name: String,
    pub products: Vec<ProductCard>,
}

/// A category in the navigation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub slug: String,
    pub name: String,
}

/// Everything a product page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductDetail {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub category_slug: String,
    pub category_name: String,
    pub price_cents: i64,
    pub currency: String,
    pub stock: i32,
    /// The option groups a shopper chooses from (none for a product without options).
    pub options: Vec<OptionGroup>,
    /// The variants on sale, in the merchant's order (one, with no option values, for a product without options).
    pub variants: Vec<VariantChoice>,
}

impl ProductDetail {
    /// The variant a product without options is bought as; `None` when the shopper must choose.
    pub fn only_variant(&self) -> Option<&VariantChoice> {
        match self.variants.as_slice() {
            [only] if self.options.is_empty() => Some(only),
            _ => None,
        }
    }
}

/// The live stock of one product, as a shopper reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    pub product_id: i64,
    pub stock: i32,
}

/// The live stock of one variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantStock {
    pub id: i64,
    pub stock: i32,
}

impl StockLevel {
    /// "In stock", "Only 3 left" or "Out of stock".
    pub fn label(&self) -> String {
        stock_label(self.stock)
    }
}

/// "12 in stock", "Only 3 left" or "Out of stock".
pub fn stock_label(stock: i32) -> String {
    match stock {
        s if s <= 0 => "Out of stock".to_string(),
        s if s <= 5 => format!("Only {s} left"),
        s => format!("{s} in stock"),
    }
}

/// How the catalog list is ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Best match first (only meaningful with a query; falls back to newest).
    #[default]
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
}

impl SortOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Relevance => "relevance",
            SortOrder::PriceAsc => "price_asc",
            SortOrder::PriceDesc => "price_desc",
            SortOrder::Newest => "newest",
        }
    }

    /// Reads a sort from the URL; anything unknown is the default.
    pub fn parse(raw: &str) -> Self {
        match raw {
            "price_asc" => SortOrder::PriceAsc,
            "price_desc" => SortOrder::PriceDesc,
            "newest" => SortOrder::Newest,
            _ => SortOrder::Relevance,
        }
    }

    pub const ALL: [(SortOrder, &'static str); 4] = [
        (SortOrder::Relevance, "Relevance"),
        (SortOrder::PriceAsc, "Price: low to high"),
        (SortOrder::PriceDesc, "Price: high to low"),
        (SortOrder::Newest, "Newest"),
    ];
}

/// What the shopper asked the catalog for; every field lives in the URL so a reload keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CatalogQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub category: String,
    /// Whole currency units, as typed in the filter.
    #[serde(default)]
    pub min_price: Option<i64>,
    #[serde(default)]
    pub max_price: Option<i64>,
    #[serde(default)]
    pub in_stock: bool,
    #[serde(default)]
    pub sort: SortOrder,
    #[serde(default)]
    pub page: Option<i64>,
}

impl CatalogQuery {
    /// The page number, at least 1.
    pub fn page(&self) -> i64 {
        self.page.unwrap_or(1).clamp(1, 10_000)
    }

    /// Checks the query, with a message a shopper understands.
    pub fn validate(&self) -> Result<(), AppError> {
        if self.q.chars().count() > MAX_QUERY_CHARS {
            return Err(AppError::Invalid(format!("Searches are limited to {MAX_QUERY_CHARS} characters.")));
        }
        if self.min_price.is_some_and(|p| p < 0) || self.max_price.is_some_and(|p| p < 0) {
            return Err(AppError::Invalid("Prices cannot be negative.".into()));
        }
        if let (Some(min), Some(max)) = (self.min_price, self.max_price) {
            if min > max {
                return Err(AppError::Invalid("The minimum price is above the maximum price.".into()));
            }
        }
        Ok(())
    }

    /// The URL query string for this query on another page (empty fields left out).
    pub fn to_query_string(&self, page: i64) -> String {
        let mut pairs: Vec<String> = Vec::new();
        let mut push = |key: &str, value: String| pairs.push(format!("{key}={}", crate::encode_query_value(&value)));
        if !self.q.is_empty() {
            push("q", self.q.clone());
        }
        if !self.category.is_empty() {
            push("category", self.category.clone());
        }
        if let Some(min) = self.min_price {
            push("min_price", min.to_string());
        }
        if let Some(max) = self.max_price {
            push("max_price", max.to_string());
        }
        if self.in_stock {
            push("in_stock", "true".into());
        }
        if self.sort != SortOrder::Relevance {
            push("sort", self.sort.as_str().into());
        }
        if page > 1 {
            push("page", page.to_string());
        }
        pairs.join("&")
    }
}

/// One page of catalog results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductPage {
    pub products: Vec<ProductCard>,
    pub total: i64,
    pub page: i64,
    pub page_count: i64,
    /// The query with its misspelt words corrected, when nothing matched it as typed but the corrections did (the
    /// products shown are theirs).
    pub did_you_mean: Option<String>,
    pub facets: Facets,
}

/// The lower bounds of the price bands the catalog offers, in whole units (the first band starts at 0).
pub const PRICE_BANDS: [i64; 4] = [25, 50, 100, 250];

/// How many products each refinement of a search leaves: each facet counted with the other filters applied,
/// never its own (so every category shows what choosing it would give).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facets {
    /// In the catalog's order; only categories with matches.
    pub categories: Vec<CategoryCount>,
    /// Only bands with matches, cheapest first.
    pub prices: Vec<PriceBand>,
    pub in_stock: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryCount {
    pub slug: String,
    pub name: String,
    pub count: i64,
}

/// A price band in whole units, bounds included, as the price filter takes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceBand {
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub count: i64,
}

impl PriceBand {
    /// The band `index` of [`PRICE_BANDS`] (0: below the first bound).
    pub fn nth(index: usize, count: i64) -> Self {
        let min = index.checked_sub(1).and_then(|i| PRICE_BANDS.get(i)).copied();
        let max = PRICE_BANDS.get(index).map(|bound| bound - 1);
        PriceBand { min, max, count }
    }

    pub fn label(&self) -> String {
        match (self.min, self.max) {
            (None, Some(max)) => format!("Under €{}", max + 1),
            (Some(min), Some(max)) => format!("€{min} to €{}", max + 1),
            (Some(min), None) => format!("€{min} and up"),
            (None, None) => "Any price".into(),
        }
    }
}

/// This web server's catalog cache.
#[cfg(feature = "ssr")]
fn catalog_cache() -> Result<cache::CatalogCache, AppError> {
    ctx::provided("catalog cache")
}

/// Empties this server's catalog cache after a change to the catalog that committed (`result` is the change's):
/// the admin who made it sees it on their next page at once, and every other copy when the change's
/// `catalog.v1` event reaches it.
#[cfg(feature = "ssr")]
pub fn changed<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if result.is_ok() {
        catalog_cache()?.invalidate();
    }
    result
}

/// The home page's shelves: every category with its first products (from the catalog cache).
#[server(endpoint = "home_shelves")]
pub async fn home_shelves() -> Result<Vec<CategoryShelf>, AppError> {
    let pool = ctx::pool()?;
    let load = async {
        ctx::slow_catalog_drill().await;
        store::home_shelves(&pool, 4).await.map(Some)
    };
    let shelves = catalog_cache()?.get_or_load(cache::Key::Shelves, load).await?;
    Ok(shelves.map(|shelves| shelves.to_vec()).unwrap_or_default())
}

/// Every category, in display order (from the catalog cache).
#[server(endpoint = "categories")]
pub async fn categories() -> Result<Vec<Category>, AppError> {
    let pool = ctx::pool()?;
    let load = async {
        ctx::slow_catalog_drill().await;
        store::categories(&pool).await.map(Some)
    };
    let categories = catalog_cache()?.get_or_load(cache::Key::Categories, load).await?;
    Ok(categories.map(|categories| categories.to_vec()).unwrap_or_default())
}

/// Search, filter, sort and page the catalog.
#[server(endpoint = "search_products", input = server_fn::codec::Json)]
pub async fn search_products(query: CatalogQuery) -> Result<ProductPage, AppError> {
    query.validate()?;
    let pool = ctx::pool()?;
    ctx::slow_catalog_drill().await;
    Ok(store::search(&pool, &query).await?)
}

/// A product on sale, by its URL slug: what the catalog cache keeps of it, with its stock read now (checkouts move
/// stock without a catalog event; an archived product has no stock to read, whatever the cache still holds).
#[server(endpoint = "product_detail")]
pub async fn get_product(slug: String) -> Result<ProductDetail, AppError> {
    if slug.len() > 96 {
        return Err(AppError::NotFound);
    }
    let pool = ctx::pool()?;
    let load = async {
        ctx::slow_catalog_drill().await;
        store::product_by_slug(&pool, &slug).await
    };
    let product = catalog_cache()?.get_or_load(cache::Key::Product(slug.clone()), load).await?;
    let product = product.ok_or(AppError::NotFound)?;
    ctx::slow_catalog_drill().await;
    let (stock, variants) = store::live_stock(&pool, product.id).await?.ok_or(AppError::NotFound)?;
    let mut detail = ProductDetail { stock, ..ProductDetail::clone(&product) };
    for variant in &mut detail.variants {
        variant.stock = variants.iter().find(|level| level.id == variant.id).map_or(0, |level| level.stock);
    }
    Ok(detail)
}

/// The current stock of a product, read fresh from the database.
#[server(endpoint = "product_stock")]
pub async fn product_stock(product_id: i64) -> Result<StockLevel, AppError> {
    if product_id <= 0 {
        return Err(AppError::NotFound);
    }
    let pool = ctx::pool()?;
    ctx::slow_catalog_drill().await;
    store::stock_level(&pool, product_id).await?.ok_or(AppError::NotFound)
}

#[cfg(test)]
mod facet_tests {
    use super::*;

    #[test]
    fn price_bands_meet_without_gaps_in_whole_units() {
        let bands: Vec<(Option<i64>, Option<i64>, String)> =
            (0..=PRICE_BANDS.len()).map(|i| PriceBand::nth(i, 1)).map(|b| (b.min, b.max, b.label())).collect();
        assert_eq!(
            bands,
            [
                (None, Some(24), "Under €25".to_string()),
                (Some(25), Some(49), "€25 to €50".to_string()),
                (Some(50), Some(99), "€50 to €100".to_string()),
                (Some(100), Some(249), "€100 to €250".to_string()),
                (Some(250), None, "€250 and up".to_string()),
            ]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_product_without_options_is_bought_as_its_only_variant() {
        let variant = VariantChoice { id: 9, sku: "MUG".into(), options: vec![], price_cents: 100, stock: 1 };
        let plain = ProductDetail {
            id: 1,
            slug: "mug".into(),
            name: "Mug".into(),
            description: String::new(),
            category_slug: "kitchen".into(),
            category_name: "Kitchen".into(),
            price_cents: 100,
            currency: "EUR".into(),
            stock: 1,
            options: vec![],
            variants: vec![variant],
        };
        assert_eq!(plain.only_variant().map(|v| v.id), Some(9));
        assert_eq!(
            ProductDetail { options: vec![OptionGroup { name: "Size".into(), choices: vec!["S".into()] }], ..plain }
                .only_variant(),
            None
        );
    }

    #[test]
    fn stock_label_warns_when_few_are_left() {
        assert_eq!(stock_label(0), "Out of stock");
        assert_eq!(stock_label(3), "Only 3 left");
        assert_eq!(stock_label(12), "12 in stock");
    }

    #[test]
    fn catalog_queries_round_trip_through_the_url() {
        let query = CatalogQuery {
            q: "red tent".into(),
            category: "trail-camp".into(),
            min_price: Some(10),
            max_price: None,
            in_stock: true,
            sort: SortOrder::PriceDesc,
            page: Some(3),
        };
        assert_eq!(
            query.to_query_string(2),
            "q=red%20tent&category=trail-camp&min_price=10&in_stock=true&sort=price_desc&page=2"
        );
        assert_eq!(CatalogQuery::default().to_query_string(1), "");
    }

    #[test]
    fn catalog_queries_reject_nonsense_with_a_reason() {
        let bad = |query: CatalogQuery| query.validate().unwrap_err().to_string();
        assert!(bad(CatalogQuery { min_price: Some(-1), ..Default::default() }).contains("negative"));
        assert!(bad(CatalogQuery { min_price: Some(50), max_price: Some(10), ..Default::default() }).contains("above"));
        assert!(bad(CatalogQuery { q: "x".repeat(101), ..Default::default() }).contains("limited"));
        assert_eq!(CatalogQuery { page: Some(-4), ..Default::default() }.page(), 1);
        assert_eq!(SortOrder::parse("drop table"), SortOrder::Relevance);
    }
}
