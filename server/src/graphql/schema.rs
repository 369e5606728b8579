//! The schema: queries, mutations and the objects they return. Every resolver checks who asks ([`Caller`]) and
//! then calls the domain function the matching server function calls.

use super::{Caller, GraphqlState, Person, MAX_COMPLEXITY, MAX_DEPTH, MAX_PAGE};
use app::{
    api_tokens::Scope,
    cart::Owner,
    catalog::{CatalogQuery, SortOrder},
    error::AppError,
    orders::{OrderStatus, PaymentOutcome, ShippingAddress},
};
use async_graphql::{Context, EmptySubscription, Enum, ErrorExtensions, InputObject, Object, Schema, SimpleObject, ID};
use base64::Engine as _;
use uuid::Uuid;

pub type ShopSchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema with its limits; `introspection` off hides it from clients (production may choose so).
pub fn build_schema(introspection: bool) -> ShopSchema {
    let builder =
        Schema::build(Query, Mutation, EmptySubscription).limit_depth(MAX_DEPTH).limit_complexity(MAX_COMPLEXITY);
    if introspection { builder } else { builder.disable_introspection() }.finish()
}

type Result<T> = async_graphql::Result<T>;

/// An `AppError` as a GraphQL error: its message (never more than the server functions say) and its HTTP
/// status as `extensions.code`.
fn refused(error: AppError) -> async_graphql::Error {
    let code = error.status().as_u16();
    async_graphql::Error::new(error.to_string()).extend_with(|_, extensions| extensions.set("code", code))
}

trait OrRefused<T> {
    fn or_refused(self) -> Result<T>;
}

impl<T, E: Into<AppError>> OrRefused<T> for std::result::Result<T, E> {
    fn or_refused(self) -> Result<T> {
        self.map_err(|error| refused(error.into()))
    }
}

fn state<'a>(ctx: &Context<'a>) -> &'a GraphqlState {
    ctx.data_unchecked::<GraphqlState>()
}

fn caller<'a>(ctx: &Context<'a>) -> &'a Caller {
    ctx.data_unchecked::<Caller>()
}

impl Caller {
    /// The caller may act within `scope`.
    fn may(&self, scope: Scope) -> Result<()> {
        if self.scope >= scope {
            Ok(())
        } else {
            Err(refused(AppError::Forbidden))
        }
    }

    /// The signed-in caller (by session or token).
    fn person(&self) -> Result<&Person> {
        self.user.as_ref().ok_or_else(|| refused(AppError::Unauthorized))
    }

    /// The signed-in caller, allowed `scope`.
    fn person_within(&self, scope: Scope) -> Result<&Person> {
        let person = self.person()?;
        self.may(scope)?;
        Ok(person)
    }

    /// An admin, by the role the database holds now and an admin scope.
    fn admin(&self) -> Result<&Person> {
        let person = self.person_within(Scope::Admin)?;
        if person.is_admin {
            Ok(person)
        } else {
            Err(refused(AppError::Forbidden))
        }
    }

    /// The person signed in by the shop's session: tokens are managed there, never with a token.
    fn session_person(&self) -> Result<&Person> {
        if self.token.is_some() {
            return Err(refused(AppError::Forbidden));
        }
        self.person()
    }

    /// Whose cart this caller works on: the signed-in person's, else the visit's.
    fn cart_owner(&self) -> Owner {
        match &self.user {
            Some(person) => Owner::User(person.id),
            None => Owner::Visit(self.visit),
        }
    }
}

/// An opaque cursor: the position after which the next page starts.
fn cursor(offset: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn offset_of(cursor: &str) -> Result<i64> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|raw| raw.strip_prefix("offset:").and_then(|n| n.parse::<i64>().ok()))
        .filter(|offset| (0..=1_000_000).contains(offset))
        .ok_or_else(|| refused(AppError::Invalid("The cursor is not one this API gave out.".into())))
}

fn page_size(first: Option<i32>, default: i32) -> Result<i64> {
    match first.unwrap_or(default) {
        n if (1..=MAX_PAGE).contains(&n) => Ok(i64::from(n)),
        _ => Err(refused(AppError::Invalid(format!("`first` must be 1 to {MAX_PAGE}.")))),
    }
}

/// How products are ordered.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProductSort {
    #[default]
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
}

impl From<ProductSort> for SortOrder {
    fn from(sort: ProductSort) -> Self {
        match sort {
            ProductSort::Relevance => SortOrder::Relevance,
            ProductSort::PriceAsc => SortOrder::PriceAsc,
            ProductSort::PriceDesc => SortOrder::PriceDesc,
            ProductSort::Newest => SortOrder::Newest,
        }
    }
}

/// A product in a list.
#[derive(SimpleObject, Clone)]
pub struct ProductCard {
    pub id: ID,
    pub slug: String,
    pub name: String,
    /// The price in minor units (cents).
    pub price_cents: i64,
    pub currency: String,
    /// Units on sale now.
    pub stock: i32,
}

impl From<app::catalog::ProductCard> for ProductCard {
    fn from(card: app::catalog::ProductCard) -> Self {
        Self {
            id: ID(card.id.to_string()),
            slug: card.slug,
            name: card.name,
            price_cents: card.price_cents,
            currency: card.currency,
            stock: card.stock,
        }
    }
}

/// A recommended product: on sale and in stock when recommended (its live stock is on the product).
#[derive(SimpleObject)]
pub struct RecommendedProduct {
    pub id: ID,
    pub slug: String,
    pub name: String,
    pub price_cents: i64,
    pub currency: String,
}

impl From<app::recommend::Recommended> for RecommendedProduct {
    fn from(product: app::recommend::Recommended) -> Self {
        Self {
            id: ID(product.id.to_string()),
            slug: product.slug,
            name: product.name,
            price_cents: product.price_cents,
            currency: product.currency,
        }
    }
}

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    /// Pass as `after` for the next page.
    pub end_cursor: Option<String>,
}

#[derive(SimpleObject)]
pub struct ProductConnection {
    pub nodes: Vec<ProductCard>,
    pub total_count: i64,
    pub page_info: PageInfo,
    /// The query with its misspelt words corrected, when nothing matched it as typed but the corrections did
    /// (the nodes are theirs).
    pub did_you_mean: Option<String>,
}

/// A product page's product, with live stock.
pub struct Product(app::catalog::ProductDetail);

#[Object]
impl Product {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn category(&self) -> Category {
        Category { slug: self.0.category_slug.clone(), name: self.0.category_name.clone() }
    }
    /// The price in minor units (cents).
    async fn price_cents(&self) -> i64 {
        self.0.price_cents
    }
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// Units on sale now, read when asked.
    async fn stock(&self, ctx: &Context<'_>) -> Result<i32> {
        let level = app::catalog::store::stock_level(&state(ctx).pool, self.0.id).await.or_refused()?;
        Ok(level.map_or(0, |level| level.stock))
    }
    /// The option groups a shopper chooses from (empty for a product without options).
    async fn options(&self) -> Vec<ProductOption> {
        self.0
            .options
            .iter()
            .map(|group| ProductOption { name: group.name.clone(), choices: group.choices.clone() })
            .collect()
    }
    /// The variants on sale, in the shop's order, with their stock read when asked (a product without options has
    /// one, with no choices).
    async fn variants(&self, ctx: &Context<'_>) -> Result<Vec<Variant>> {
        let live = app::catalog::store::variant_stocks(&state(ctx).pool, self.0.id).await.or_refused()?;
        Ok(self
            .0
            .variants
            .iter()
            .filter_map(|variant| {
                let stock = live.iter().find(|level| level.id == variant.id)?.stock;
                Some(Variant {
                    id: ID(variant.id.to_string()),
                    sku: variant.sku.clone(),
                    options: variant.options.clone(),
                    price_cents: variant.price_cents,
                    stock,
                })
            })
            .collect())
    }
    /// "Often viewed together": what visits that viewed this product also viewed (in stock, on sale).
    async fn recommendations(&self, ctx: &Context<'_>) -> Result<Vec<RecommendedProduct>> {
        let pool = &state(ctx).pool;
        let signal = app::recommend::store::Signal::Viewed;
        let shown = app::recommend::SHOWN;
        let related = app::recommend::store::related(pool, signal, &[self.0.id], &[self.0.id], shown).await;
        Ok(related.or_refused()?.into_iter().map(Into::into).collect())
    }
}

#[derive(SimpleObject, Clone)]
pub struct Category {
    pub slug: String,
    pub name: String,
}

/// An option group, e.g. Size with S, M and L.
#[derive(SimpleObject)]
pub struct ProductOption {
    pub name: String,
    pub choices: Vec<String>,
}

/// One variant of a product: its choices (one per option group, in order), price and stock.
#[derive(SimpleObject)]
pub struct Variant {
    pub id: ID,
    pub sku: String,
    pub options: Vec<String>,
    /// The price in minor units (the product's unless the variant has its own).
    pub price_cents: i64,
    pub stock: i32,
}

#[derive(SimpleObject)]
pub struct CartLine {
    pub product_id: ID,
    pub variant_id: ID,
    pub sku: String,
    /// The variant's choices, e.g. "M · Sand" (empty for a product without options).
    pub variant: String,
    pub slug: String,
    pub name: String,
    pub unit_price_cents: i64,
    pub currency: String,
    pub quantity: i32,
    pub stock: i32,
    pub line_total_cents: i64,
}

/// A discount as its own line: the promotion's name, its code if it has one, and what it took off.
#[derive(SimpleObject)]
pub struct Discount {
    pub label: String,
    pub code: Option<String>,
    pub amount_cents: i64,
}

fn discounts(discounts: Vec<app::promotions::Discount>) -> Vec<Discount> {
    discounts
        .into_iter()
        .map(|discount| Discount { label: discount.label, code: discount.code, amount_cents: discount.amount_cents })
        .collect()
}

#[derive(SimpleObject)]
pub struct Cart {
    /// The order the cart is (an order exists from its first line).
    pub order_id: Option<ID>,
    pub lines: Vec<CartLine>,
    pub item_count: i32,
    /// What the lines come to before any discount.
    pub subtotal_cents: i64,
    /// The promotions that apply (automatic ones and the code), in the order they were taken.
    pub discounts: Vec<Discount>,
    /// What checkout would charge: the subtotal less the discounts.
    pub total_cents: i64,
    /// The code entered, if any…
    pub coupon_code: Option<String>,
    /// …and why it does not apply, when it does not (checkout is refused until it does or is removed).
    pub coupon_refusal: Option<String>,
    pub currency: String,
}

impl From<app::cart::Cart> for Cart {
    fn from(cart: app::cart::Cart) -> Self {
        let (item_count, currency) = (cart.item_count(), cart.currency().to_string());
        let pricing = cart.pricing;
        let coupon_refusal = pricing.coupon_refusal(&currency);
        Self {
            order_id: cart.order_id.map(|id| ID(id.to_string())),
            lines: cart
                .lines
                .into_iter()
                .map(|line| CartLine {
                    product_id: ID(line.product_id.to_string()),
                    variant_id: ID(line.variant_id.to_string()),
                    sku: line.sku.clone(),
                    variant: line.variant.clone(),
                    line_total_cents: line.line_total_cents(),
                    slug: line.slug,
                    name: line.name,
                    unit_price_cents: line.unit_price_cents,
                    currency: line.currency,
                    quantity: line.quantity,
                    stock: line.stock,
                })
                .collect(),
            item_count,
            subtotal_cents: pricing.subtotal_cents,
            discounts: discounts(pricing.discounts),
            total_cents: pricing.total_cents,
            coupon_code: pricing.coupon.map(|coupon| coupon.code),
            coupon_refusal,
            currency,
        }
    }
}

/// Where an order stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum OrderState {
    Cart,
    PendingPayment,
    Paid,
    Fulfilled,
    Cancelled,
    Expired,
}

impl From<OrderStatus> for OrderState {
    fn from(status: OrderStatus) -> Self {
        match status {
            OrderStatus::Cart => OrderState::Cart,
            OrderStatus::PendingPayment => OrderState::PendingPayment,
            OrderStatus::Paid => OrderState::Paid,
            OrderStatus::Fulfilled => OrderState::Fulfilled,
            OrderStatus::Cancelled => OrderState::Cancelled,
            OrderStatus::Expired => OrderState::Expired,
        }
    }
}

#[derive(SimpleObject)]
pub struct OrderSummary {
    pub id: ID,
    pub status: OrderState,
    pub total_cents: i64,
    pub currency: String,
    pub item_count: i64,
    /// RFC 3339.
    pub created_at: String,
}

impl From<app::orders::OrderSummary> for OrderSummary {
    fn from(order: app::orders::OrderSummary) -> Self {
        Self {
            id: ID(order.id.to_string()),
            status: order.status.into(),
            total_cents: order.total_cents,
            currency: order.currency,
            item_count: order.item_count,
            created_at: order.created_at.to_rfc3339(),
        }
    }
}

#[derive(SimpleObject)]
pub struct OrderLine {
    pub product_id: ID,
    pub variant_id: ID,
    pub sku: String,
    /// The variant's choices, e.g. "M · Sand" (empty for a product without options).
    pub variant: String,
    pub slug: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price_cents: i64,
    /// How many of its units have shipped.
    pub shipped: i32,
}

/// An order's delivery as it was chosen and charged (its tax is part of the order's `taxCents`).
#[derive(SimpleObject)]
pub struct ShippingCharge {
    pub method: String,
    pub cents: i64,
    pub tax_cents: i64,
    /// The fewest and most business days the delivery was estimated to take.
    pub min_days: i32,
    pub max_days: i32,
}

impl From<app::orders::ShippingCharge> for ShippingCharge {
    fn from(charge: app::orders::ShippingCharge) -> Self {
        Self {
            method: charge.method,
            cents: charge.cents,
            tax_cents: charge.tax_cents,
            min_days: charge.min_days,
            max_days: charge.max_days,
        }
    }
}

/// A way to deliver to a country, as checkout would charge it for the caller's cart.
#[derive(SimpleObject)]
pub struct DeliveryMethod {
    /// What `checkout`'s `shippingMethod` takes.
    pub id: ID,
    pub name: String,
    /// The price for the cart as it is now (free over a threshold, or by weight, as the method says).
    pub cents: i64,
    pub min_days: i32,
    pub max_days: i32,
}

/// One step of an order's history.
#[derive(SimpleObject)]
pub struct StatusChange {
    pub from: Option<OrderState>,
    pub to: OrderState,
    pub note: Option<String>,
    pub at: String,
}

#[derive(SimpleObject)]
pub struct Order {
    pub summary: OrderSummary,
    pub lines: Vec<OrderLine>,
    /// What the lines came to; the summary's total is what was charged.
    pub subtotal_cents: i64,
    pub discounts: Vec<Discount>,
    /// The VAT on the order (none for one placed before tax)…
    pub tax_cents: Option<i64>,
    /// …included in its prices, or added to them (`false`).
    pub prices_include_tax: Option<bool>,
    /// How it is delivered and what that cost (none for an order placed before shipping was charged).
    pub shipping: Option<ShippingCharge>,
    pub history: Vec<StatusChange>,
    /// A fresh idempotency key for the next payment attempt.
    pub payment_key: String,
}

impl From<app::orders::OrderDetail> for Order {
    fn from(order: app::orders::OrderDetail) -> Self {
        Self {
            subtotal_cents: order.subtotal_cents,
            discounts: discounts(order.discounts),
            tax_cents: order.prices_include_tax.map(|_| order.taxes.iter().map(|tax| tax.tax_cents).sum()),
            prices_include_tax: order.prices_include_tax,
            shipping: order.shipping.map(ShippingCharge::from),
            summary: order.summary.into(),
            lines: order
                .lines
                .into_iter()
                .map(|line| OrderLine {
                    product_id: ID(line.product_id.to_string()),
                    variant_id: ID(line.variant_id.to_string()),
                    sku: line.sku,
                    variant: line.variant,
                    slug: line.slug,
                    name: line.name,
                    quantity: line.quantity,
                    unit_price_cents: line.unit_price_cents,
                    shipped: line.shipped,
                })
                .collect(),
            history: order
                .history
                .into_iter()
                .map(|change| StatusChange {
                    from: change.from.map(Into::into),
                    to: change.to.into(),
                    note: change.note,
                    at: change.at.to_rfc3339(),
                })
                .collect(),
            payment_key: order.payment_key,
        }
    }
}

/// A visit of the signed-in shopper, and where its journey PDF is.
#[derive(SimpleObject)]
pub struct Journey {
    pub visit_id: ID,
    pub started_at: String,
    pub page_views: i32,
    pub outcome: String,
    /// The journey PDF (with the shop's cookie), when there is one.
    pub pdf_url: Option<String>,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum PaymentResult {
    Succeeded,
    Declined,
    /// The gateway did not answer in time; the order page shows the result within a minute.
    Pending,
}

#[derive(SimpleObject)]
pub struct PaymentReceipt {
    pub order_id: ID,
    pub outcome: PaymentResult,
    pub message: String,
    pub card_last4: String,
}

#[derive(InputObject)]
pub struct AddressInput {
    pub name: String,
    pub line1: String,
    #[graphql(default)]
    pub line2: String,
    pub city: String,
    pub postcode: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// A product's fields for `createProduct` and `updateProduct`, checked as the back office's form is.
#[derive(InputObject)]
pub struct ProductInput {
    pub name: String,
    /// Made from the name when left out.
    #[graphql(default)]
    pub slug: String,
    #[graphql(default)]
    pub description: String,
    pub category_slug: String,
    /// In minor units (cents), 1 to 100,000,000.
    pub price_cents: i64,
    pub stock: i32,
    /// `standard`, `reduced` or `zero`; left out: standard for a new product, unchanged for an edit.
    pub tax_category: Option<String>,
    /// What one unit weighs packed, in grams (weight-based shipping); left out: 0 for a new product, unchanged for
    /// an edit.
    pub weight_grams: Option<i32>,
}

impl ProductInput {
    /// The back office's form with these values, so the one set of rules ([`app::admin::ProductDraft::parse`])
    /// checks both.
    fn form(&self, id: i64, stock_was: i32) -> app::admin::ProductForm {
        let price = if self.price_cents >= 0 { app::money::plain_amount(self.price_cents) } else { String::new() };
        app::admin::ProductForm {
            id,
            name: self.name.clone(),
            slug: self.slug.clone(),
            description: self.description.clone(),
            category_slug: self.category_slug.clone(),
            price,
            stock: self.stock.to_string(),
            stock_was,
            tax_category: self.tax_category.clone().unwrap_or_default(),
            weight: self.weight_grams.map(|grams| grams.to_string()).unwrap_or_default(),
        }
    }
}

#[derive(InputObject)]
pub struct CardInput {
    pub number: String,
    /// `MM/YY`.
    pub expiry: String,
    pub cvc: String,
}

/// A product as the shop shows it (none when archived).
async fn shown(pool: &sqlx::PgPool, slug: &str) -> Result<Option<Product>> {
    Ok(app::catalog::store::product_by_slug(pool, slug).await.or_refused()?.map(Product))
}

fn id_of(id: &ID) -> Result<i64> {
    id.parse::<i64>().map_err(|_| refused(AppError::Invalid("Unknown product id.".into())))
}

/// What a cart mutation names: a product and, for a product with options, its variant.
fn item(product_id: &ID, variant_id: Option<&ID>) -> Result<app::cart::store::Item> {
    let variant_id = variant_id
        .map(|id| id.parse::<i64>().map_err(|_| refused(AppError::Invalid("Unknown variant id.".into()))))
        .transpose()?;
    Ok(app::cart::store::Item { product_id: id_of(product_id)?, variant_id })
}

fn uuid_of(id: &ID) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| refused(AppError::NotFound))
}

/// A personal API token (never its secret).
#[derive(SimpleObject)]
pub struct ApiToken {
    pub id: ID,
    pub name: String,
    /// `read`, `write` or `admin`.
    pub scope: String,
    /// The secret's first characters.
    pub hint: String,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
    /// Revoked or expired.
    pub revoked: bool,
}

impl From<app::api_tokens::ApiToken> for ApiToken {
    fn from(token: app::api_tokens::ApiToken) -> Self {
        Self {
            id: ID(token.id.to_string()),
            name: token.name,
            scope: token.scope.as_str().to_string(),
            hint: token.hint,
            created_at: token.created_at,
            expires_at: token.expires_at,
            last_used_at: token.last_used_at,
            revoked: token.revoked,
        }
    }
}

/// A new token and its secret: the only time the secret is shown.
#[derive(SimpleObject)]
pub struct CreatedToken {
    pub token: ApiToken,
    /// Send as `Authorization: Bearer <secret>`.
    pub secret: String,
}

pub struct Query;

#[Object]
impl Query {
    /// Products on sale: full-text search (typos forgiven), a category, a price range in whole units, in stock
    /// only; sorted; `first` (1 to 50, 12 by default) after a cursor.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "first.unwrap_or(12).max(0) as usize * child_complexity + 1")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] query: String,
        #[graphql(default)] category: String,
        min_price: Option<i64>,
        max_price: Option<i64>,
        #[graphql(default)] in_stock: bool,
        #[graphql(default)] sort: ProductSort,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<ProductConnection> {
        let limit = page_size(first, 12)?;
        let offset = after.as_deref().map(offset_of).transpose()?.unwrap_or(0);
        let search = CatalogQuery { q: query, category, min_price, max_price, in_stock, sort: sort.into(), page: None };
        search.validate().or_refused()?;
        let found = app::catalog::store::search_window(&state(ctx).pool, &search, offset, limit).await.or_refused()?;
        let (total, end) = (found.total, offset + found.products.len() as i64);
        Ok(ProductConnection {
            nodes: found.products.into_iter().map(Into::into).collect(),
            total_count: total,
            did_you_mean: found.did_you_mean,
            page_info: PageInfo { has_next_page: end < total, end_cursor: (end > offset).then(|| cursor(end)) },
        })
    }

    /// A product on sale, by slug or id.
    async fn product(&self, ctx: &Context<'_>, slug: Option<String>, id: Option<ID>) -> Result<Option<Product>> {
        let pool = &state(ctx).pool;
        let slug = match (slug, id) {
            (Some(slug), None) => slug,
            (None, Some(id)) => {
                let id = id_of(&id)?;
                let slug: Option<String> =
                    sqlx::query_scalar("SELECT slug FROM products WHERE id = $1 AND archived_at IS NULL")
                        .bind(id)
                        .fetch_optional(pool)
                        .await
                        .or_refused()?;
                let Some(slug) = slug else { return Ok(None) };
                slug
            }
            _ => return Err(refused(AppError::Invalid("Give a product's slug or its id.".into()))),
        };
        shown(pool, &slug).await
    }

    async fn categories(&self, ctx: &Context<'_>) -> Result<Vec<Category>> {
        let categories = app::catalog::store::categories(&state(ctx).pool).await.or_refused()?;
        Ok(categories.into_iter().map(|c| Category { slug: c.slug, name: c.name }).collect())
    }

    /// The ways the signed-in shopper's cart can be delivered to `country` (a two-letter code), cheapest first,
    /// each priced as checkout would; a country nothing delivers to is refused with where the shop delivers.
    async fn delivery_methods(&self, ctx: &Context<'_>, country: String) -> Result<Vec<DeliveryMethod>> {
        let caller = caller(ctx);
        let person = caller.person_within(Scope::Read)?;
        let country = country.trim().to_ascii_uppercase();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(refused(AppError::Invalid("The country is a two-letter code such as DE, FR or GB.".into())));
        }
        let state = state(ctx);
        let quote =
            app::orders::store::delivery_quote(&state.pool, person.id, &country, &state.commerce).await.or_refused()?;
        if let Some(outside) = quote.outside {
            return Err(refused(AppError::Invalid(outside)));
        }
        Ok(quote
            .options
            .into_iter()
            .map(|option| DeliveryMethod {
                id: ID(option.method_id.to_string()),
                name: option.shipping.method,
                cents: option.shipping.cents,
                min_days: option.shipping.min_days,
                max_days: option.shipping.max_days,
            })
            .collect())
    }

    /// The caller's cart: the signed-in person's, else the visit's.
    async fn cart(&self, ctx: &Context<'_>) -> Result<Cart> {
        let caller = caller(ctx);
        caller.may(Scope::Read)?;
        Ok(app::cart::store::load(&state(ctx).pool, caller.cart_owner()).await.or_refused()?.into())
    }

    /// The signed-in shopper's placed orders, newest first.
    async fn orders(&self, ctx: &Context<'_>) -> Result<Vec<OrderSummary>> {
        let person = caller(ctx).person_within(Scope::Read)?;
        let orders = app::orders::store::list_for_user(&state(ctx).pool, person.id).await.or_refused()?;
        Ok(orders.into_iter().map(Into::into).collect())
    }

    /// One of the signed-in shopper's orders, with its history; anyone else's is not found.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Order>> {
        let person = caller(ctx).person_within(Scope::Read)?;
        let order = app::orders::store::detail(&state(ctx).pool, Some(person.id), uuid_of(&id)?).await;
        Ok(order.or_refused()?.map(Into::into))
    }

    /// The signed-in person's API tokens, newest first (with the session only).
    async fn api_tokens(&self, ctx: &Context<'_>) -> Result<Vec<ApiToken>> {
        let person = caller(ctx).session_person()?;
        let tokens = app::api_tokens::store::list(&state(ctx).pool, person.id).await.or_refused()?;
        Ok(tokens.into_iter().map(Into::into).collect())
    }

    /// The signed-in shopper's visits (journeys), newest first, with their PDF.
    async fn journeys(&self, ctx: &Context<'_>) -> Result<Vec<Journey>> {
        let person = caller(ctx).person_within(Scope::Read)?;
        let visits = app::journeys::store::for_user(&state(ctx).pool, person.id).await.or_refused()?;
        Ok(visits
            .into_iter()
            .map(|visit| Journey {
                visit_id: ID(visit.visit_id.to_string()),
                started_at: visit.started_at.to_rfc3339(),
                page_views: visit.page_views,
                outcome: visit.outcome.label().to_string(),
                pdf_url: visit.has_document.then(|| format!("/journeys/{}.pdf", visit.visit_id)),
            })
            .collect())
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Adds units of a product's variant to the caller's cart (the order is created with its first line); a
    /// product without options needs no variant.
    async fn cart_add(&self, ctx: &Context<'_>, product_id: ID, variant_id: Option<ID>, quantity: i32) -> Result<Cart> {
        let caller = caller(ctx);
        caller.may(Scope::Write)?;
        app::cart::validate_quantity(quantity, false).or_refused()?;
        let pool = &state(ctx).pool;
        let owner = caller.cart_owner();
        let item = item(&product_id, variant_id.as_ref())?;
        app::cart::store::add(pool, owner, caller.visit, item, quantity).await.or_refused()?;
        Ok(app::cart::store::load(pool, owner).await.or_refused()?.into())
    }

    /// Applies a coupon code to the cart (any case), or refuses it with the reason; only one code applies at once.
    async fn cart_apply_coupon(&self, ctx: &Context<'_>, code: String) -> Result<Cart> {
        let caller = caller(ctx);
        caller.may(Scope::Write)?;
        let pool = &state(ctx).pool;
        let owner = caller.cart_owner();
        app::cart::apply_coupon_for(pool, owner, caller.visit, &code).await.or_refused()?;
        Ok(app::cart::store::load(pool, owner).await.or_refused()?.into())
    }

    /// Takes the coupon code off the cart.
    async fn cart_remove_coupon(&self, ctx: &Context<'_>) -> Result<Cart> {
        let caller = caller(ctx);
        caller.may(Scope::Write)?;
        let pool = &state(ctx).pool;
        let owner = caller.cart_owner();
        app::cart::store::remove_code(pool, owner).await.or_refused()?;
        Ok(app::cart::store::load(pool, owner).await.or_refused()?.into())
    }

    /// Sets a line's quantity (without a variant: the product's only line); zero removes the line.
    async fn cart_set_quantity(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        variant_id: Option<ID>,
        quantity: i32,
    ) -> Result<Cart> {
        let caller = caller(ctx);
        caller.may(Scope::Write)?;
        app::cart::validate_quantity(quantity, true).or_refused()?;
        let pool = &state(ctx).pool;
        let owner = caller.cart_owner();
        let item = item(&product_id, variant_id.as_ref())?;
        app::cart::store::set_quantity(pool, owner, caller.visit, item, quantity).await.or_refused()?;
        Ok(app::cart::store::load(pool, owner).await.or_refused()?.into())
    }

    /// Reserves the signed-in shopper's cart and turns it into an order awaiting payment, delivered to `address`
    /// by `shippingMethod` (one of `deliveryMethods` for its country; absent: the cheapest there); returns its id.
    async fn checkout(&self, ctx: &Context<'_>, address: AddressInput, shipping_method: Option<ID>) -> Result<ID> {
        let caller = caller(ctx);
        let person = caller.person_within(Scope::Write)?;
        let AddressInput { name, line1, line2, city, postcode, country } = address;
        let address = ShippingAddress::parse(&name, &line1, &line2, &city, &postcode, &country).or_refused()?;
        let method = shipping_method.as_ref().map(id_of).transpose()?.unwrap_or(0);
        let state = state(ctx);
        let order =
            app::orders::checkout_for(&state.pool, &state.commerce, person.id, caller.visit, &address, method).await;
        Ok(ID(order.or_refused()?.to_string()))
    }

    /// Pays an order awaiting payment. The same `idempotencyKey` never charges twice: a retry gets the same
    /// answer.
    async fn pay(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        card: CardInput,
        idempotency_key: String,
    ) -> Result<PaymentReceipt> {
        let caller = caller(ctx);
        let person = caller.person_within(Scope::Write)?;
        let card = app::orders::card_details(&card.number, &card.expiry, &card.cvc).or_refused()?;
        let state = state(ctx);
        let order = uuid_of(&order_id)?;
        let receipt =
            app::orders::pay_for(&state.pool, &state.payments, person.id, caller.visit, order, card, &idempotency_key)
                .await
                .or_refused()?;
        Ok(PaymentReceipt {
            order_id: ID(receipt.order_id.to_string()),
            outcome: match receipt.outcome {
                PaymentOutcome::Succeeded => PaymentResult::Succeeded,
                PaymentOutcome::Declined => PaymentResult::Declined,
                PaymentOutcome::Pending => PaymentResult::Pending,
            },
            message: receipt.message,
            card_last4: receipt.card_last4,
        })
    }

    /// Cancels the signed-in shopper's order: reserved stock goes back, a paid order is refunded.
    async fn cancel_order(&self, ctx: &Context<'_>, order_id: ID) -> Result<OrderState> {
        let person = caller(ctx).person_within(Scope::Write)?;
        let state = state(ctx);
        let note = "cancelled by the shopper";
        let status =
            app::orders::payment::cancel(&state.pool, &state.payments, Some(person.id), uuid_of(&order_id)?, note)
                .await
                .or_refused()?;
        Ok(status.into())
    }

    /// Creates a personal API token (with the session only): `scope` is `read`, `write` or (for an admin)
    /// `admin`; it lives `days` days (1 to 365). The answer holds its secret, shown this once.
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        name: String,
        scope: String,
        days: i32,
    ) -> Result<CreatedToken> {
        let person = caller(ctx).session_person()?;
        let (name, scope) =
            app::api_tokens::check_request(&name, &scope, i64::from(days), person.is_admin).or_refused()?;
        let created = app::api_tokens::store::create(&state(ctx).pool, person.id, &name, scope, i64::from(days))
            .await
            .or_refused()?;
        Ok(CreatedToken { token: created.token.into(), secret: created.secret })
    }

    /// Revokes one of the signed-in person's tokens at once (with the session only).
    async fn revoke_api_token(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let person = caller(ctx).session_person()?;
        let revoked = app::api_tokens::store::revoke(&state(ctx).pool, person.id, uuid_of(&id)?).await.or_refused()?;
        if revoked {
            Ok(true)
        } else {
            Err(refused(AppError::NotFound))
        }
    }

    /// Creates a product (its catalog event and webhooks commit with it); returns it as the shop shows it. Admins
    /// only.
    async fn create_product(&self, ctx: &Context<'_>, input: ProductInput) -> Result<Product> {
        let admin = caller(ctx).admin()?;
        let state = state(ctx);
        let draft = app::admin::ProductDraft::parse(&input.form(0, 0)).or_refused()?;
        app::admin::store::create_product(&state.pool, admin.id, &draft).await.or_refused()?;
        state.catalog_cache.invalidate();
        shown(&state.pool, &draft.slug).await?.ok_or_else(|| refused(AppError::Internal))
    }

    /// Replaces a product's fields. `stockWas`, the stock the client last read, makes the stock an adjustment
    /// (units sold meanwhile stay sold); without it the stock is set as given. Returns the product as the shop
    /// shows it (null when archived). Admins only.
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ProductInput,
        stock_was: Option<i32>,
    ) -> Result<Option<Product>> {
        let admin = caller(ctx).admin()?;
        let state = state(ctx);
        let id = id_of(&id)?;
        let stock_was = match stock_was {
            Some(stock_was) => stock_was,
            None => {
                app::admin::store::product(&state.pool, id)
                    .await
                    .or_refused()?
                    .ok_or_else(|| refused(AppError::NotFound))?
                    .stock
            }
        };
        let draft = app::admin::ProductDraft::parse(&input.form(id, stock_was)).or_refused()?;
        app::admin::store::update_product(&state.pool, admin.id, id, &draft, stock_was).await.or_refused()?;
        state.catalog_cache.invalidate();
        shown(&state.pool, &draft.slug).await
    }

    /// Archives (hides from the shop, keeps the history) or restores a product. Admins only.
    async fn set_product_archived(&self, ctx: &Context<'_>, product_id: ID, archived: bool) -> Result<bool> {
        let admin = caller(ctx).admin()?;
        let state = state(ctx);
        app::admin::store::set_archived(&state.pool, admin.id, id_of(&product_id)?, archived).await.or_refused()?;
        state.catalog_cache.invalidate();
        Ok(archived)
    }

    /// Ships everything left of a paid order (it becomes fulfilled). Admins only.
    async fn fulfil_order(&self, ctx: &Context<'_>, order_id: ID) -> Result<OrderState> {
        let admin = caller(ctx).admin()?;
        let (parcel, order) = (app::admin::Parcel::everything(), uuid_of(&order_id)?);
        let status =
            app::admin::store::ship(&state(ctx).pool, order, admin.id, &admin.name, &parcel).await.or_refused()?;
        Ok(status.into())
    }

    /// Cancels any order (a paid one is refunded first). Admins only.
    async fn admin_cancel_order(&self, ctx: &Context<'_>, order_id: ID) -> Result<OrderState> {
        let admin = caller(ctx).admin()?;
        let state = state(ctx);
        let note = format!("cancelled by {}", admin.name);
        let status = app::orders::payment::cancel(&state.pool, &state.payments, None, uuid_of(&order_id)?, &note)
            .await
            .or_refused()?;
        Ok(status.into())
    }
}
