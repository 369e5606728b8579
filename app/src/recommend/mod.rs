//! Recommendations from the shop's own clickstream and orders, with no outside service: "Often viewed together"
//! on a product page, "Bought together" in the cart, and "Picked for you" on the home page (from the shopper's
//! recent views and cart; "Popular right now" for a visitor without history).
//!
//! The worker keeps the counts as it stores each event, in that event's transaction ([`store::record_view`],
//! [`store::record_purchase`]): how many visits viewed each product and each pair of products, and how many paid
//! orders held them. A page reads them with one query. Pairs are ranked by their cosine similarity (the pair's
//! count over the geometric mean of the two products' counts), so a product everyone views does not top every
//! list. Only products on sale and in stock are shown, never the page's own product nor what is in the cart.
//!
//! This module knows neither the catalog nor the cart: the pages that show a slot pass what to leave out (the
//! product, the cart's products), which they have already loaded.

#[cfg(feature = "ssr")]
pub mod store;
mod views;

pub use views::RecommendationShelf;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_context as ctx;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// How many products a slot shows.
pub const SHOWN: i64 = 4;
/// The most products a caller may ask to leave out (a cart holds fewer lines than this in practice).
pub const MAX_EXCLUDED: usize = 200;

/// Where a recommendation was shown. It rides in the product link (`/product/<slug>?rec=<slot>`) and in the link's
/// `data-track`, so a click on it, and the product page it opens, say which slot the shopper came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Slot {
    /// On a product page: products that visits which viewed it also viewed.
    ViewedTogether,
    /// In the cart: products that paid orders held with the cart's.
    BoughtTogether,
    /// On the home page, for a shopper with history: related to their recent views and their cart.
    PickedForYou,
    /// On the home page, for a visitor without history: the most viewed products.
    Popular,
}

impl Slot {
    pub const ALL: [Slot; 4] = [Slot::ViewedTogether, Slot::BoughtTogether, Slot::PickedForYou, Slot::Popular];

    /// The slot's name in links and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Slot::ViewedTogether => "viewed-together",
            Slot::BoughtTogether => "bought-together",
            Slot::PickedForYou => "picked-for-you",
            Slot::Popular => "popular",
        }
    }

    /// The slot of a link's `rec` value; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Slot> {
        Slot::ALL.into_iter().find(|slot| slot.as_str() == raw)
    }

    /// The slot a page was opened from: the `rec` value in its path's query, if it names one.
    pub fn of_path(path: &str) -> Option<Slot> {
        let query = path.split_once('?')?.1;
        let query = query.split('#').next().unwrap_or(query);
        query.split('&').find_map(|pair| pair.strip_prefix("rec=")).and_then(Slot::parse)
    }

    /// The slot a clicked link's label (its `data-track`, `rec-<slot>`) names, if any.
    pub fn of_label(label: &str) -> Option<Slot> {
        label.strip_prefix("rec-").and_then(Slot::parse)
    }

    /// The heading shoppers read above the slot.
    pub fn heading(self) -> &'static str {
        match self {
            Slot::ViewedTogether => "Often viewed together",
            Slot::BoughtTogether => "Bought together",
            Slot::PickedForYou => "Picked for you",
            Slot::Popular => "Popular right now",
        }
    }

    /// The link to a recommended product, carrying the slot.
    pub fn href(self, slug: &str) -> String {
        format!("/product/{slug}?rec={}", self.as_str())
    }
}

/// A recommended product, as a small card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommended {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub price_cents: i64,
    pub currency: String,
}

/// What one slot shows, best first; empty when there is nothing to recommend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendations {
    pub slot: Slot,
    pub products: Vec<Recommended>,
}

/// The ids to leave out, checked: at most [`MAX_EXCLUDED`], each a possible product id.
#[cfg(feature = "ssr")]
fn checked(ids: Vec<i64>) -> Result<Vec<i64>, AppError> {
    if ids.len() > MAX_EXCLUDED {
        return Err(AppError::Invalid(format!("At most {MAX_EXCLUDED} products can be left out.")));
    }
    Ok(ids.into_iter().filter(|id| *id > 0).collect())
}

/// "Often viewed together" for a product page: what the visits that viewed `product_id` viewed too, leaving out
/// `in_cart`.
#[server(endpoint = "viewed_together")]
pub async fn viewed_together(product_id: i64, in_cart: Vec<i64>) -> Result<Recommendations, AppError> {
    let mut exclude = checked(in_cart)?;
    exclude.push(product_id);
    let products = store::related(&ctx::pool()?, store::Signal::Viewed, &[product_id], &exclude, SHOWN).await?;
    Ok(Recommendations { slot: Slot::ViewedTogether, products })
}

/// "Bought together" for the cart: what paid orders held with the cart's products.
#[server(endpoint = "bought_together")]
pub async fn bought_together(in_cart: Vec<i64>) -> Result<Recommendations, AppError> {
    let in_cart = checked(in_cart)?;
    let products = if in_cart.is_empty() {
        Vec::new()
    } else {
        store::related(&ctx::pool()?, store::Signal::Bought, &in_cart, &in_cart, SHOWN).await?
    };
    Ok(Recommendations { slot: Slot::BoughtTogether, products })
}

/// The home page's slot: "Picked for you" from this visit's and the signed-in shopper's recent views and the
/// cart (topped up with popular products when few are related); "Popular right now" without any history. A
/// visit made for this request has none, and costs one query.
#[server(endpoint = "picked_for_you")]
pub async fn picked_for_you(in_cart: Vec<i64>) -> Result<Recommendations, AppError> {
    let in_cart = checked(in_cart)?;
    let pool = ctx::pool()?;
    let user = ctx::session_user().await?.map(|user| user.id);
    let mut seeds = if ctx::is_new_visit() && user.is_none() {
        Vec::new()
    } else {
        store::recent_views(&pool, ctx::visit_id().await?, user, 10).await?
    };
    for id in &in_cart {
        if !seeds.contains(id) {
            seeds.push(*id);
        }
    }
    let mut exclude = seeds.clone();
    let mut products = if seeds.is_empty() {
        Vec::new()
    } else {
        store::related(&pool, store::Signal::Viewed, &seeds, &exclude, SHOWN).await?
    };
    let slot = if products.is_empty() { Slot::Popular } else { Slot::PickedForYou };
    if (products.len() as i64) < SHOWN {
        exclude.extend(products.iter().map(|product| product.id));
        let missing = SHOWN - products.len() as i64;
        products.extend(store::popular(&pool, &exclude, missing).await?);
    }
    Ok(Recommendations { slot, products })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_rides_in_its_links_and_reads_back() {
        for slot in Slot::ALL {
            assert_eq!(Slot::parse(slot.as_str()), Some(slot));
            assert!(slot.href("ridgeline-2-tent").ends_with(&format!("?rec={}", slot.as_str())));
            assert_eq!(serde_json::to_value(slot).unwrap(), slot.as_str());
        }
        assert_eq!(Slot::ViewedTogether.href("a-b"), "/product/a-b?rec=viewed-together");
        assert_eq!(Slot::parse("viewed_together"), None);
        assert_eq!(Slot::of_path("/product/a-b?rec=popular"), Some(Slot::Popular));
        assert_eq!(Slot::of_path("/product/a-b?x=1&rec=bought-together#top"), Some(Slot::BoughtTogether));
        assert_eq!(Slot::of_path("/product/a-b?rec=nope"), None);
        assert_eq!(Slot::of_path("/product/rec=popular"), None);
        assert_eq!(Slot::of_label("rec-picked-for-you"), Some(Slot::PickedForYou));
        assert_eq!(Slot::of_label("Add to cart"), None);
    }
}
