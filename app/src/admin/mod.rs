//! The admin back office: products (create, edit, archive, delete, images) and orders (filter, fulfil, cancel).
//!
//! Every server function here checks the admin role on the server; the hidden links are a convenience only.

#[cfg(feature = "ssr")]
pub mod store;
pub mod variant_editor;
mod views;

pub use variant_editor::AdminVariantsPage;
pub use views::{AdminOrderPage, AdminOrdersPage, AdminProductPage, AdminProductsPage, AdminUsersPage};

#[cfg(feature = "ssr")]
use crate::server_context as ctx;
use crate::{
    error::AppError,
    orders::{OrderDetail, OrderStatus},
};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Orders per admin list page.
pub const ORDERS_PAGE_SIZE: i64 = 25;
/// The largest uploaded product image, in bytes.
pub const MAX_IMAGE_BYTES: usize = 1024 * 1024;

/// A product as the back office lists and edits it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedProduct {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub category_slug: String,
    /// `standard`, `reduced` or `zero` (`crate::tax::TaxCategory`).
    pub tax_category: String,
    pub price_cents: i64,
    pub currency: String,
    pub stock: i32,
    /// What one unit weighs packed, in grams (weight-based shipping adds up the order's).
    pub weight_grams: i32,
    pub archived: bool,
    pub uploaded_image: bool,
    pub updated_at: DateTime<Utc>,
    /// Its stock is kept per variant (on its variants page), not in the product form.
    pub has_options: bool,
}

/// The product form as submitted: text, validated by [`ProductDraft::parse`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductForm {
    /// `0` creates a product.
    pub id: i64,
    pub name: String,
    /// Left empty, it is made from the name.
    pub slug: String,
    pub description: String,
    pub category_slug: String,
    pub price: String,
    pub stock: String,
    /// The stock the form showed: an edit applies the difference, so units sold meanwhile stay sold.
    pub stock_was: i32,
    /// `standard`, `reduced` or `zero`; left out: standard for a new product, unchanged for an edit.
    #[serde(default)]
    pub tax_category: String,
    /// Grams; left out: 0 for a new product, unchanged for an edit.
    #[serde(default)]
    pub weight: String,
}

/// A product's fields once they are known to be valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductDraft {
    pub name: String,
    pub slug: String,
    pub description: String,
    pub category_slug: String,
    pub price_cents: i64,
    pub stock: i32,
    /// `None`: standard for a new product, unchanged for an edit.
    pub tax_category: Option<crate::tax::TaxCategory>,
    /// Grams; `None`: 0 for a new product, unchanged for an edit.
    pub weight_grams: Option<i32>,
}

impl ProductDraft {
    /// Checks every field and names each problem in one message.
    pub fn parse(form: &ProductForm) -> Result<Self, AppError> {
        let mut problems = Vec::new();
        let name = form.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 120 {
            problems.push("a name of 1 to 120 characters");
        }
        let slug = if form.slug.trim().is_empty() {
            crate::catalog::artwork::slugify(&name)
        } else {
            form.slug.trim().to_string()
        };
        if slug.is_empty()
            || slug.len() > 96
            || !slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            problems.push("a URL slug of lowercase letters, digits and dashes");
        }
        let description = form.description.trim().to_string();
        if description.chars().count() > 4000 {
            problems.push("a description of at most 4,000 characters");
        }
        let category_slug = form.category_slug.trim().to_string();
        if category_slug.is_empty() {
            problems.push("a category");
        }
        let price_cents = crate::money::parse_price(&form.price).filter(|cents| (1..=100_000_000).contains(cents));
        if price_cents.is_none() {
            problems.push("a price between 0.01 and 1,000,000.00");
        }
        let stock = form.stock.trim().parse::<i32>().ok().filter(|stock| (0..=1_000_000).contains(stock));
        if stock.is_none() {
            problems.push("a stock between 0 and 1,000,000");
        }
        let tax_category = match form.tax_category.trim() {
            "" => Some(None),
            raw => crate::tax::TaxCategory::parse(raw).map(Some),
        };
        if tax_category.is_none() {
            problems.push("a tax category: standard, reduced or zero");
        }
        let weight_grams = match form.weight.trim() {
            "" => Some(None),
            raw => raw.parse::<i32>().ok().filter(|grams| (0..=1_000_000).contains(grams)).map(Some),
        };
        if weight_grams.is_none() {
            problems.push("a weight from 0 to 1,000,000 grams");
        }
        match (price_cents, stock, tax_category, weight_grams) {
            (Some(price_cents), Some(stock), Some(tax_category), Some(weight_grams)) if problems.is_empty() => {
                Ok(Self { name, slug, description, category_slug, price_cents, stock, tax_category, weight_grams })
            }
            _ => Err(AppError::Invalid(format!("Please give {}.", problems.join(", ")))),
        }
    }
}

/// An order in the admin list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminOrderRow {
    pub id: Uuid,
    pub status: OrderStatus,
    pub shopper: String,
    pub total_cents: i64,
    pub currency: String,
    pub item_count: i64,
    pub created_at: DateTime<Utc>,
}

/// Why an image upload was refused: the code travels in the redirect (`?image_error=too-large`), and the page
/// shows only the message a known code maps to, so a crafted link cannot put words in the back office.
pub const IMAGE_ERRORS: [(&str, &str); 5] = [
    ("cut-short", "The upload was cut short or too large."),
    ("too-large", "That image is larger than 1 MiB."),
    ("missing", "Choose an image file first."),
    ("type", "Only PNG, JPEG and WebP images are accepted."),
    ("not-saved", "The image could not be saved; please try again."),
];

/// The message of an image-upload error code; `None` for a code the server never sends.
pub fn image_error_message(code: &str) -> Option<&'static str> {
    IMAGE_ERRORS.iter().find(|(known, _)| *known == code).map(|(_, message)| *message)
}

/// An account in the admin list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedUser {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub is_admin: bool,
    pub last_login_at: DateTime<Utc>,
    /// When an admin last ended all of this user's sessions.
    pub sessions_ended_at: Option<DateTime<Utc>>,
}

/// One order with who placed it, for the admin order page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedOrder {
    pub shopper: String,
    pub shopper_email: Option<String>,
    pub detail: OrderDetail,
    /// The messages sent (or being sent) to the shopper about it, oldest first.
    pub emails: Vec<OrderEmail>,
}

/// A message to the shopper about an order, and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEmail {
    /// Its subject as sent, else what it is ("Order confirmation").
    pub what: String,
    pub recipient: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// When it was sent, else when it was written.
    pub at: DateTime<Utc>,
}

/// Products matching `query` (name or slug), active or archived (`show`: "active", "archived" or "all").
#[server(endpoint = "admin/products")]
pub async fn admin_products(query: String, show: String) -> Result<Vec<ManagedProduct>, AppError> {
    ctx::require_admin().await?;
    let archived = match show.as_str() {
        "" | "active" => Some(false),
        "archived" => Some(true),
        "all" => None,
        _ => return Err(AppError::Invalid("Unknown product filter.".into())),
    };
    if query.chars().count() > 100 {
        return Err(AppError::Invalid("Search for at most 100 characters.".into()));
    }
    let pool = ctx::pool()?;
    Ok(store::list_products(&pool, query.trim(), archived).await?)
}

/// One product for the edit form; `None` for id 0, the form for a new product.
#[server(endpoint = "admin/product")]
pub async fn admin_product(id: i64) -> Result<Option<ManagedProduct>, AppError> {
    ctx::require_admin().await?;
    if id == 0 {
        return Ok(None);
    }
    let pool = ctx::pool()?;
    store::product(&pool, id).await?.map(Some).ok_or(AppError::NotFound)
}

/// Creates (`form.id == 0`) or updates a product; returns its id. The catalog event commits with it.
#[server(endpoint = "admin/save_product")]
pub async fn save_product(form: ProductForm) -> Result<i64, AppError> {
    let admin = ctx::require_admin().await?;
    let draft = ProductDraft::parse(&form)?;
    let pool = ctx::pool()?;
    let saved = if form.id == 0 {
        store::create_product(&pool, admin.id, &draft).await
    } else {
        store::update_product(&pool, admin.id, form.id, &draft, form.stock_was).await.map(|()| form.id)
    };
    crate::catalog::changed(saved)
}

/// Archives (hides from the shop, keeps the history) or restores a product.
#[server(endpoint = "admin/archive_product")]
pub async fn set_product_archived(id: i64, archived: bool) -> Result<(), AppError> {
    let admin = ctx::require_admin().await?;
    let pool = ctx::pool()?;
    crate::catalog::changed(store::set_archived(&pool, admin.id, id, archived).await)
}

/// Deletes a product that was never ordered (carts holding it lose the line); an ordered one must be archived.
#[server(endpoint = "admin/delete_product")]
pub async fn delete_product(id: i64) -> Result<(), AppError> {
    let admin = ctx::require_admin().await?;
    let pool = ctx::pool()?;
    crate::catalog::changed(store::delete_product(&pool, admin.id, id).await)
}

/// Drops an uploaded image, going back to the generated artwork.
#[server(endpoint = "admin/reset_product_image")]
pub async fn reset_product_image(id: i64) -> Result<(), AppError> {
    let admin = ctx::require_admin().await?;
    let pool = ctx::pool()?;
    store::set_image(&pool, admin.id, id, None).await
}

/// Orders that left the cart, newest first, optionally in one state; `page` counts from 1.
#[server(endpoint = "admin/orders")]
pub async fn admin_orders(status: String, page: i64) -> Result<Vec<AdminOrderRow>, AppError> {
    ctx::require_admin().await?;
    let status = match status.as_str() {
        "" => None,
        raw => match OrderStatus::parse(raw) {
            Some(OrderStatus::Cart) | None => return Err(AppError::Invalid("Unknown order state.".into())),
            known => known,
        },
    };
    if !(1..=10_000).contains(&page) {
        return Err(AppError::Invalid("Unknown page.".into()));
    }
    let pool = ctx::pool()?;
    Ok(store::list_orders(&pool, status, page).await?)
}

/// Any shopper's order, with who placed it.
#[server(endpoint = "admin/order")]
pub async fn admin_order(order_id: Uuid) -> Result<ManagedOrder, AppError> {
    ctx::require_admin().await?;
    let pool = ctx::pool()?;
    store::order(&pool, order_id).await?.ok_or(AppError::NotFound)
}

/// Ships everything left of a paid order at once (no carrier or tracking number); it becomes fulfilled.
#[server(endpoint = "admin/fulfil_order")]
pub async fn fulfil_order(order_id: Uuid) -> Result<OrderStatus, AppError> {
    let admin = ctx::require_admin().await?;
    store::ship(&ctx::pool()?, order_id, admin.id, &admin.name, &Parcel::everything()).await
}

/// One line of the shipping form: a variant of the order and how many of its units go in this parcel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipLine {
    pub variant_id: i64,
    pub quantity: String,
}

/// A parcel once the form is known to be valid: its carrier and tracking number (if any), and the units in it
/// (none: everything not yet shipped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parcel {
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    pub units: Vec<(i64, i32)>,
}

impl Parcel {
    /// Everything not yet shipped, without a carrier or tracking number.
    pub fn everything() -> Self {
        Self { carrier: None, tracking: None, units: Vec::new() }
    }

    /// Checks the shipping form; every problem is named at once.
    pub fn parse(carrier: &str, tracking: &str, lines: &[ShipLine]) -> Result<Self, AppError> {
        let mut problems = Vec::new();
        let carrier = Some(carrier.trim()).filter(|carrier| !carrier.is_empty()).map(str::to_string);
        if carrier.as_ref().is_some_and(|carrier| carrier.chars().count() > 60) {
            problems.push("a carrier of at most 60 characters".to_string());
        }
        let tracking = Some(tracking.trim()).filter(|tracking| !tracking.is_empty()).map(str::to_string);
        let valid_tracking = |t: &str| {
            t.len() <= 100
                && t.starts_with(|c: char| c.is_ascii_alphanumeric())
                && t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '/' | '-'))
        };
        if tracking.as_deref().is_some_and(|tracking| !valid_tracking(tracking)) {
            problems.push("a tracking number of up to 100 letters, digits, spaces and . _ / -".to_string());
        }
        let mut units = Vec::new();
        for line in lines {
            match line.quantity.trim().parse::<i32>() {
                Ok(0) => {}
                Ok(quantity) if (1..=10_000).contains(&quantity) => units.push((line.variant_id, quantity)),
                _ => problems.push(format!("a number of units for each line (“{}” is not one)", line.quantity.trim())),
            }
        }
        if !lines.is_empty() && units.is_empty() && problems.is_empty() {
            problems.push("at least one unit to ship".to_string());
        }
        if problems.is_empty() {
            Ok(Self { carrier, tracking, units })
        } else {
            Err(AppError::Invalid(format!("Please give {}.", problems.join(", "))))
        }
    }
}

/// Ships some units of a paid order in one parcel (a plain form); the order becomes fulfilled once every unit has
/// shipped. Back to the order's page.
#[server(endpoint = "admin/ship_order")]
pub async fn ship_order(
    order_id: Uuid,
    carrier: String,
    tracking: String,
    #[server(default)] lines: Vec<ShipLine>,
) -> Result<(), AppError> {
    let admin = ctx::require_admin().await?;
    let parcel = Parcel::parse(&carrier, &tracking, &lines)?;
    let status = store::ship(&ctx::pool()?, order_id, admin.id, &admin.name, &parcel).await?;
    leptos_axum::redirect(&format!("/admin/orders/{order_id}?shipped={}", status.as_str()));
    Ok(())
}

/// Cancels any order: stock goes back, and a paid order is refunded first.
#[server(endpoint = "admin/cancel_order")]
pub async fn admin_cancel_order(order_id: Uuid) -> Result<OrderStatus, AppError> {
    let admin = ctx::require_admin().await?;
    let pool = ctx::pool()?;
    let payments = ctx::provided::<crate::orders::payment::Payments>("payment gateway")?;
    let note = format!("cancelled by {}", admin.name);
    crate::orders::payment::cancel(&pool, &payments, None, order_id, &note).await
}

/// Accounts whose name or email contains `query`, most recently signed in first (at most 100).
#[server(endpoint = "admin/users")]
pub async fn admin_users(query: String) -> Result<Vec<ManagedUser>, AppError> {
    ctx::require_admin().await?;
    let pool = ctx::pool()?;
    Ok(store::list_users(&pool, query.trim()).await?)
}

/// Ends every session of a user, on every device: each is signed out at its next request.
#[server(endpoint = "admin/end_sessions")]
pub async fn end_user_sessions(user_id: Uuid) -> Result<(), AppError> {
    let admin = ctx::require_admin().await?;
    let pool = ctx::pool()?;
    if !ctx::end_sessions(&pool, user_id).await? {
        return Err(AppError::NotFound);
    }
    tracing::info!(admin = %admin.id, user = %user_id, "an admin ended every session of a user");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> ProductForm {
        ProductForm {
            id: 0,
            name: "Alpine Stove".into(),
            slug: String::new(),
            description: "Burns anything.".into(),
            category_slug: "trail-camp".into(),
            price: "49.90".into(),
            stock: "12".into(),
            stock_was: 0,
            tax_category: String::new(),
            weight: String::new(),
        }
    }

    #[test]
    fn a_parcel_names_every_problem_and_ships_only_the_units_asked_for() {
        let line = |variant_id: i64, quantity: &str| ShipLine { variant_id, quantity: quantity.into() };
        let parcel = Parcel::parse(" DHL ", "JD0146 0001/2345", &[line(1, "2"), line(2, "0")]).unwrap();
        assert_eq!(
            parcel,
            Parcel { carrier: Some("DHL".into()), tracking: Some("JD0146 0001/2345".into()), units: vec![(1, 2)] }
        );
        assert_eq!(Parcel::parse("", "", &[]).unwrap(), Parcel { carrier: None, tracking: None, units: vec![] });
        let refused = Parcel::parse(&"C".repeat(61), "-starts-badly", &[line(1, "-1")]).unwrap_err().to_string();
        for problem in ["a carrier of at most 60", "a tracking number", "“-1” is not one"] {
            assert!(refused.contains(problem), "{problem}: {refused}");
        }
        assert!(Parcel::parse("", "", &[line(1, "0")]).unwrap_err().to_string().contains("at least one unit"));
    }

    #[test]
    fn the_weight_is_whole_grams_and_left_out_keeps_what_the_product_has() {
        assert_eq!(ProductDraft::parse(&form()).unwrap().weight_grams, None);
        let boots = ProductForm { weight: " 1450 ".into(), ..form() };
        assert_eq!(ProductDraft::parse(&boots).unwrap().weight_grams, Some(1450));
        for bad in ["-1", "1.5", "heavy", "1000001"] {
            let error = ProductDraft::parse(&ProductForm { weight: bad.into(), ..form() }).unwrap_err().to_string();
            assert!(error.contains("a weight"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_tax_category_is_one_of_three_and_left_out_keeps_what_the_product_has() {
        assert_eq!(ProductDraft::parse(&form()).unwrap().tax_category, None);
        let reduced = ProductForm { tax_category: "reduced".into(), ..form() };
        assert_eq!(ProductDraft::parse(&reduced).unwrap().tax_category, Some(crate::tax::TaxCategory::Reduced));
        let luxury = ProductForm { tax_category: "luxury".into(), ..form() };
        assert!(ProductDraft::parse(&luxury).unwrap_err().to_string().contains("a tax category"));
    }

    #[test]
    fn a_valid_form_becomes_a_draft_with_a_slug_from_the_name() {
        let draft = ProductDraft::parse(&form()).unwrap();
        assert_eq!(draft.slug, "alpine-stove");
        assert_eq!(draft.price_cents, 4990);
        assert_eq!(draft.stock, 12);
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let bad = ProductForm {
            name: " ".into(),
            price: "free".into(),
            stock: "-1".into(),
            slug: "Bad Slug".into(),
            ..form()
        };
        let AppError::Invalid(message) = ProductDraft::parse(&bad).unwrap_err() else {
            panic!("not a validation error")
        };
        for expected in ["a name", "URL slug", "a price", "a stock"] {
            assert!(message.contains(expected), "{message}");
        }
    }
}
