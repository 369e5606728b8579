//! Cart: an order in status `cart`, owned by the visit until sign-in and by the user after.

#[cfg(feature = "ssr")]
pub mod store;
mod views;

pub use views::{CartLink, CartPage};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_context as ctx;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Who owns a cart: a signed-in user, or else the anonymous visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    User(Uuid),
    Visit(Uuid),
}

impl Owner {
    /// The signed-in user, if the cart is theirs.
    pub fn user(self) -> Option<Uuid> {
        match self {
            Owner::User(user) => Some(user),
            Owner::Visit(_) => None,
        }
    }
}

/// The owner of this request's cart.
#[cfg(feature = "ssr")]
pub async fn owner() -> Result<Owner, AppError> {
    match ctx::session_user().await? {
        Some(user) => Ok(Owner::User(user.id)),
        None => Ok(Owner::Visit(ctx::visit_id().await?)),
    }
}

/// The most of one product a cart line may hold.
pub const MAX_LINE_QUANTITY: i32 = 99;

/// One variant of a product in the cart, at its current price. The browser gets only what it shows: the title
/// stands for the name, the variant's choices and the SKU (which the API serves separately).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub product_id: i64,
    pub variant_id: i64,
    #[serde(skip)]
    pub sku: String,
    #[serde(skip)]
    pub name: String,
    /// The variant's choices, e.g. "M · Sand" (empty for a product without options).
    #[serde(skip)]
    pub variant: String,
    /// "Merino Base Layer (M · Sand)": the name with the variant's choices.
    pub title: String,
    pub slug: String,
    pub unit_price_cents: i64,
    pub currency: String,
    pub quantity: i32,
    pub stock: i32,
}

impl CartLine {
    pub fn line_total_cents(&self) -> i64 {
        self.unit_price_cents * i64::from(self.quantity)
    }
}

/// The whole cart, priced on the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Cart {
    /// The order the cart is (on the server only: the browser never needs it, and its bundle is at its budget).
    #[serde(skip)]
    pub order_id: Option<Uuid>,
    pub lines: Vec<CartLine>,
    /// The cart table's foot as the server wrote it (every value escaped): the subtotal, each discount, what the
    /// code needs if it does not apply, and the total. The browser shows it as it is, so its bundle carries no
    /// pricing.
    pub foot: String,
    /// The subtotal, the discounts and the total (on the server only).
    #[serde(skip)]
    pub pricing: crate::promotions::Pricing,
}

impl Cart {
    pub fn item_count(&self) -> i32 {
        self.lines.iter().map(|line| line.quantity).sum()
    }

    /// What the lines come to before any discount.
    pub fn subtotal_cents(&self) -> i64 {
        self.lines.iter().map(CartLine::line_total_cents).sum()
    }

    /// The products in the cart, in line order, each once (two sizes of one product are one product).
    pub fn product_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = Vec::with_capacity(self.lines.len());
        for line in &self.lines {
            if !ids.contains(&line.product_id) {
                ids.push(line.product_id);
            }
        }
        ids
    }

    pub fn currency(&self) -> &str {
        self.lines.first().map(|line| line.currency.as_str()).unwrap_or("EUR")
    }
}

/// Checks a quantity a shopper asked for; `allow_zero` when zero means "remove".
pub fn validate_quantity(quantity: i32, allow_zero: bool) -> Result<(), AppError> {
    let min = if allow_zero { 0 } else { 1 };
    if quantity < min || quantity > MAX_LINE_QUANTITY {
        return Err(AppError::Invalid(format!("Choose a quantity from {min} to {MAX_LINE_QUANTITY}.")));
    }
    Ok(())
}

/// The cart of this visit or signed-in shopper.
#[server(endpoint = "cart")]
pub async fn get_cart() -> Result<Cart, AppError> {
    let owner = owner().await?;
    // A visit made for this request has no cart yet: a first page view costs no cart query.
    if matches!(owner, Owner::Visit(_)) && ctx::is_new_visit() {
        return Ok(Cart::default());
    }
    Ok(store::load(&ctx::pool()?, owner).await?)
}

/// Adds `quantity` of a product's variant (absent or 0: a product without options, which has just one); the order
/// (status `cart`) is created with the first line.
#[server(endpoint = "cart_add")]
pub async fn add_to_cart(product_id: i64, #[server(default)] variant_id: i64, quantity: i32) -> Result<Cart, AppError> {
    validate_quantity(quantity, false)?;
    let pool = ctx::pool()?;
    let owner = owner().await?;
    store::add(&pool, owner, ctx::visit_id().await?, store::Item::new(product_id, variant_id), quantity).await?;
    Ok(store::load(&pool, owner).await?)
}

/// Sets the quantity of a product's variant in the cart (absent or 0: the product's only line); zero removes the
/// line.
#[server(endpoint = "cart_set")]
pub async fn set_cart_quantity(
    product_id: i64,
    #[server(default)] variant_id: i64,
    quantity: i32,
) -> Result<Cart, AppError> {
    validate_quantity(quantity, true)?;
    let pool = ctx::pool()?;
    let owner = owner().await?;
    let item = store::Item::new(product_id, variant_id);
    store::set_quantity(&pool, owner, ctx::visit_id().await?, item, quantity).await?;
    Ok(store::load(&pool, owner).await?)
}

/// Applies a coupon code to this visit's or shopper's cart, or says why it does not apply. A plain form: back to
/// the cart.
#[server(endpoint = "cart_coupon")]
pub async fn apply_coupon(code: String) -> Result<(), AppError> {
    apply_coupon_for(&ctx::pool()?, owner().await?, ctx::visit_id().await?, &code).await?;
    leptos_axum::redirect("/cart");
    Ok(())
}

/// Applies `code` to `owner`'s cart (the code, in capitals), or refuses it with the reason in words; either way
/// the clickstream records it under `visit` (`coupon_applied`, or `coupon_rejected` with the reason). The server
/// function and the GraphQL API both apply codes here.
#[cfg(feature = "ssr")]
pub async fn apply_coupon_for(pool: &sqlx::PgPool, owner: Owner, visit: Uuid, code: &str) -> Result<String, AppError> {
    use crate::tracking::{server_events, EventKind};
    // What the shopper typed, as the clickstream may keep it: short, and without control characters.
    let typed: String = code.trim().chars().filter(|c| !c.is_control()).take(40).collect();
    let outcome = store::apply_code(pool, owner, &typed).await?;
    let kind = match &outcome {
        Ok(code) => EventKind::CouponApplied { code: code.clone() },
        Err((refusal, _)) => EventKind::CouponRejected { code: typed.to_uppercase(), reason: refusal.reason().into() },
    };
    // Each attempt is its own event.
    let event = server_events::record(visit, owner.user(), kind, "/cart".into(), &Uuid::new_v4().to_string());
    server_events::emit(pool, &event).await;
    outcome.map_err(|(_, message)| AppError::Invalid(message))
}

/// Takes the code off the cart.
#[server(endpoint = "cart_coupon_remove")]
pub async fn remove_coupon() -> Result<(), AppError> {
    store::remove_code(&ctx::pool()?, owner().await?).await?;
    leptos_axum::redirect("/cart");
    Ok(())
}

/// This request's cart, loaded once on the server for the header's count and the page that shows it.
#[derive(Clone, Copy)]
pub struct CartState {
    pub cart: Resource<Result<Cart, AppError>>,
}

impl CartState {
    /// Creates the cart resource and provides it to the whole page.
    pub fn provide() -> Self {
        let state = Self { cart: Resource::new(|| (), |_| get_cart()) };
        provide_context(state);
        state
    }

    pub fn get() -> Self {
        expect_context::<Self>()
    }

    /// The products in this request's cart; none when it cannot be read (what uses them only leaves them out).
    pub async fn product_ids(self) -> Vec<i64> {
        self.cart.await.map(|cart| cart.product_ids()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(price: i64, quantity: i32) -> CartLine {
        CartLine {
            product_id: 1,
            variant_id: 1,
            sku: "X".into(),
            variant: String::new(),
            title: "X".into(),
            slug: "x".into(),
            name: "X".into(),
            unit_price_cents: price,
            currency: "EUR".into(),
            quantity,
            stock: 10,
        }
    }

    #[test]
    fn totals_are_exact_in_minor_units() {
        let cart = Cart { lines: vec![line(1999, 3), line(1, 1)], ..Cart::default() };
        assert_eq!(cart.subtotal_cents(), 5998);
        assert_eq!(cart.item_count(), 4);
    }

    #[test]
    fn quantities_outside_the_limits_are_refused() {
        assert!(validate_quantity(-1, true).is_err());
        assert!(validate_quantity(0, false).is_err());
        assert!(validate_quantity(0, true).is_ok());
        assert!(validate_quantity(100, false).unwrap_err().to_string().contains("1 to 99"));
    }
}
