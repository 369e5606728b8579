//! Browse: the catalog's types, server functions and pages.

#[cfg(feature = "ssr")]
pub mod store;
mod views;

pub use views::HomePage;

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

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

/// The live stock of one product, as a shopper reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    pub product_id: i64,
    pub stock: i32,
}

impl StockLevel {
    /// "In stock", "Only 3 left" or "Out of stock".
    pub fn label(&self) -> String {
        match self.stock {
            s if s <= 0 => "Out of stock".to_string(),
            s if s <= 5 => format!("Only {s} left"),
            s => format!("{s} in stock"),
        }
    }
}

/// The home page's shelves: every category with its first products.
#[server(endpoint = "home_shelves")]
pub async fn home_shelves() -> Result<Vec<CategoryShelf>, AppError> {
    crate::server_context::with_status(async {
        let pool = crate::server_context::pool()?;
        Ok(store::home_shelves(&pool, 4).await?)
    }.await)
}

/// The current stock of a product, read fresh from the database.
#[server(endpoint = "product_stock")]
pub async fn product_stock(product_id: i64) -> Result<StockLevel, AppError> {
    crate::server_context::with_status(async {
        if product_id <= 0 {
            return Err(AppError::NotFound);
        }
        let pool = crate::server_context::pool()?;
        store::stock_level(&pool, product_id).await?.ok_or(AppError::NotFound)
    }.await)
}

#[cfg(test)]
mod tests {
    use super::StockLevel;

    #[test]
    fn stock_label_warns_when_few_are_left() {
        let level = |stock| StockLevel { product_id: 1, stock }.label();
        assert_eq!(level(0), "Out of stock");
        assert_eq!(level(3), "Only 3 left");
        assert_eq!(level(12), "12 in stock");
    }
}
