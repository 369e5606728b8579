//! Order queries: checkout with atomic stock reservation, expiry, history.

use super::{
    DeliveryOption, DeliveryStep, OrderDetail, OrderLine, OrderStatus, OrderSummary, PaymentRecord, PaymentState,
    Shipment, ShippingAddress, ShippingCharge, StatusChange,
};
use crate::email::EmailKind;
use crate::error::AppError;
use crate::promotions::{self, rules, Pricing};
use crate::shipping::{self, Method};
use crate::tax::{self, TaxCategory, TaxLine};
use crate::variants::{titled, variant_label};
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use uuid::Uuid;

/// Commerce rules the server configures.
#[derive(Clone, Copy, Debug)]
pub struct CommerceSettings {
    /// How long stock stays reserved for an unpaid order.
    pub reservation: Duration,
    /// The most orders one shopper may have awaiting payment at once…
    pub max_unpaid_orders: u32,
    /// …and the most units of one variant those orders may reserve: no account can take a product (or a size of
    /// it) off sale.
    pub max_reserved_per_product: u32,
    /// Whether catalog prices include their tax (it is then the part of the price that is tax) or the tax is added
    /// to them at checkout.
    pub prices_include_tax: bool,
}

impl Default for CommerceSettings {
    fn default() -> Self {
        Self {
            reservation: Duration::from_secs(15 * 60),
            max_unpaid_orders: 3,
            max_reserved_per_product: 10,
            prices_include_tax: true,
        }
    }
}

/// An order just placed: its id and how it is delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    pub id: Uuid,
    pub shipping: ShippingCharge,
}

/// A cart line as checkout prices, taxes, weighs and reserves it.
struct CheckoutLine {
    product_id: i64,
    variant_id: i64,
    quantity: i32,
    name: String,
    category_slug: String,
    tax_category: String,
    options: Vec<String>,
    price_cents: i64,
    currency: String,
    archived: bool,
    /// The units of the variant the user's orders awaiting payment hold.
    held: i64,
    weight_grams: i32,
}

impl CheckoutLine {
    fn priced(&self) -> rules::Line {
        rules::Line {
            product_id: self.product_id,
            category: self.category_slug.clone(),
            unit_price_cents: self.price_cents,
            quantity: self.quantity,
        }
    }
}

/// The lines of the cart `cart` of `user`, at today's catalog prices.
async fn checkout_lines(conn: &mut PgConnection, cart: Uuid, user: Uuid) -> Result<Vec<CheckoutLine>, sqlx::Error> {
    sqlx::query_as!(
        CheckoutLine,
        r#"
        SELECT l.product_id, l.variant_id, l.quantity, p.name, p.category_slug, p.tax_category, v.options,
               COALESCE(v.price_cents, p.price_cents) AS "price_cents!",
               p.currency, (p.archived_at IS NOT NULL OR v.archived_at IS NOT NULL) AS "archived!",
               (SELECT COALESCE(sum(held.quantity), 0) FROM order_lines held JOIN orders o ON o.id = held.order_id
                WHERE o.user_id = $2 AND o.status = 'pending_payment' AND held.variant_id = l.variant_id) AS "held!",
               p.weight_grams
        FROM order_lines l JOIN products p ON p.id = l.product_id JOIN variants v ON v.id = l.variant_id
        WHERE l.order_id = $1
        ORDER BY l.product_id, l.variant_id
        "#,
        cart,
        user
    )
    .fetch_all(conn)
    .await
}

/// What an order comes to, delivered one way: each line's (rate, tax), the shipping, the tax and the total.
struct Totals {
    line_taxes: Vec<(i32, i64)>,
    shipping: ShippingCharge,
    tax_cents: i64,
    total_cents: i64,
}

/// Taxes each line on what it sold for after discounts at its category's rate, prices the delivery by `method`
/// and taxes it at the destination's standard rate; tax-inclusive prices hold their tax, exclusive ones have it
/// added to the total.
fn totals(
    lines: &[CheckoutLine],
    pricing: &Pricing,
    rates: &[(String, i32)],
    method: &Method,
    include: bool,
) -> Totals {
    let rate = |category: &str| rates.iter().find(|(of, _)| of == category).map_or(0, |(_, rate)| *rate);
    let line_taxes: Vec<(i32, i64)> = lines
        .iter()
        .zip(&pricing.line_totals)
        .map(|(line, amount)| {
            let rate = rate(&line.tax_category);
            (rate, tax::line_tax(*amount, rate, include))
        })
        .collect();
    let weight = lines.iter().map(|line| i64::from(line.weight_grams) * i64::from(line.quantity)).sum();
    let cents = method.price(pricing.total_cents, weight);
    let standard = rate(TaxCategory::Standard.as_str());
    let shipping = ShippingCharge {
        method: method.name.clone(),
        cents,
        tax_rate_bp: standard,
        tax_cents: tax::line_tax(cents, standard, include),
        min_days: method.min_days,
        max_days: method.max_days,
    };
    let tax_cents = line_taxes.iter().map(|(_, tax)| tax).sum::<i64>() + shipping.tax_cents;
    let before_tax = pricing.total_cents + shipping.cents;
    let total_cents = if include { before_tax } else { before_tax + tax_cents };
    Totals { line_taxes, shipping, tax_cents, total_cents }
}

/// The active methods that deliver to `country`, or why none does.
async fn methods_to(
    conn: &mut PgConnection,
    country: &str,
    currency: &str,
) -> Result<Result<Vec<Method>, String>, sqlx::Error> {
    let methods = shipping::store::methods_for(conn, country, currency).await?;
    if !methods.is_empty() {
        return Ok(Ok(methods));
    }
    let destinations = shipping::store::destinations(conn, currency).await?;
    Ok(Err(shipping::outside_every_zone(country, &destinations)))
}

/// Turns the user's cart into an order awaiting payment, delivered to `address` by `shipping_method` (0: the
/// cheapest there), reserving every line's stock in one transaction.
///
/// Each line takes its variant's units with a conditional `UPDATE … WHERE stock >= quantity`, with the lines'
/// products locked first in id order (so concurrent checkouts cannot deadlock): when any line cannot be served,
/// nothing is reserved. A shopper's unpaid orders and the units they hold of each variant are capped (checkouts
/// of one user queue on the user's row, so the caps hold under concurrency). An address no method delivers to is
/// refused before anything is taken.
pub async fn checkout(
    pool: &PgPool,
    user: Uuid,
    address: &ShippingAddress,
    shipping_method: i64,
    settings: &CommerceSettings,
) -> Result<Placed, AppError> {
    let mut tx = pool.begin().await?;
    sqlx::query!("SELECT id FROM users WHERE id = $1 FOR UPDATE", user).fetch_one(&mut *tx).await?;
    let Some(cart) = sqlx::query!(
        "SELECT id, coupon_promotion_id FROM orders WHERE user_id = $1 AND status = 'cart' FOR UPDATE",
        user
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Err(AppError::Invalid("Your cart is empty.".into()));
    };
    let (coupon, cart) = (cart.coupon_promotion_id, cart.id);
    let unpaid = sqlx::query_scalar!(
        r#"SELECT count(*) AS "unpaid!" FROM orders WHERE user_id = $1 AND status = 'pending_payment'"#,
        user
    )
    .fetch_one(&mut *tx)
    .await?;
    if unpaid >= i64::from(settings.max_unpaid_orders) {
        return Err(AppError::Invalid(format!(
            "You have {unpaid} orders awaiting payment; pay or cancel one of them before placing another."
        )));
    }
    // Every stock change of a product's variants also moves the product's figure: lock the products first, in id
    // order, so checkouts, releases and back-office edits always queue in the same order and cannot deadlock.
    lock_products(&mut tx, cart).await?;
    let lines = checkout_lines(&mut tx, cart, user).await?;
    if lines.is_empty() {
        return Err(AppError::Invalid("Your cart is empty.".into()));
    }
    let currency = lines[0].currency.clone();
    // Priced, taxed and its delivery chosen first: a code that no longer applies, or an address nothing delivers
    // to, stops checkout before any stock is taken.
    let priced: Vec<rules::Line> = lines.iter().map(CheckoutLine::priced).collect();
    let pricing = price_checkout(&mut tx, &priced, &currency, coupon, user).await?;
    let rates = tax_rates(&mut tx, &address.country).await?;
    let methods = methods_to(&mut tx, &address.country, &currency).await?.map_err(AppError::Invalid)?;
    // The method asked for, or (0) the cheapest there.
    let chosen = methods
        .iter()
        .filter(|method| shipping_method == 0 || method.id == shipping_method)
        .map(|method| (method.id, totals(&lines, &pricing, &rates, method, settings.prices_include_tax)))
        .min_by_key(|(_, totals)| (totals.shipping.cents, totals.shipping.max_days));
    let Some((method_id, totals)) = chosen else {
        return Err(AppError::Invalid(format!(
            "That delivery method does not deliver to {}: choose one of those offered.",
            address.country
        )));
    };
    for ((line, (rate, tax)), amount) in lines.iter().zip(&totals.line_taxes).zip(&pricing.line_totals) {
        let title = titled(&line.name, &variant_label(&line.options));
        if line.archived {
            return Err(AppError::Invalid(format!("{title} is no longer on sale; remove it from your cart.")));
        }
        if line.currency != currency {
            return Err(AppError::Invalid("Your cart mixes currencies.".into()));
        }
        if line.held + i64::from(line.quantity) > i64::from(settings.max_reserved_per_product) {
            let room = (i64::from(settings.max_reserved_per_product) - line.held).max(0);
            return Err(AppError::Invalid(format!(
                "You can reserve at most {} of {title} at a time, and your unpaid orders hold {}: lower the quantity to \
                 {room} or less, or pay for those orders first.",
                settings.max_reserved_per_product, line.held
            )));
        }
        let reserved = sqlx::query_scalar!(
            "UPDATE variants SET stock = stock - $2 WHERE id = $1 AND stock >= $2 AND archived_at IS NULL RETURNING stock",
            line.variant_id,
            line.quantity
        )
        .fetch_optional(&mut *tx)
        .await?;
        if reserved.is_none() {
            return Err(AppError::Invalid(format!("Sorry, {title} is out of stock in the quantity you chose.")));
        }
        let amount = if settings.prices_include_tax { *amount } else { amount + tax };
        sqlx::query!(
            r#"UPDATE order_lines SET unit_price_cents = $3, tax_rate_bp = $4, tax_cents = $5, amount_cents = $6
               WHERE order_id = $1 AND variant_id = $2"#,
            cart,
            line.variant_id,
            line.price_cents,
            rate,
            tax,
            amount
        )
        .execute(&mut *tx)
        .await?;
    }
    promotions::store::record(&mut tx, cart, &pricing.discounts).await?;
    let shipping = &totals.shipping;
    sqlx::query!(
        r#"
        UPDATE orders
        SET status = 'pending_payment', total_cents = $2, currency = $3, subtotal_cents = $11, tax_cents = $12,
            prices_include_tax = $13,
            shipping_name = $4, shipping_line1 = $5, shipping_line2 = $6, shipping_city = $7,
            shipping_postcode = $8, shipping_country = $9,
            reserved_until = now() + make_interval(secs => $10),
            shipping_method_id = $14, shipping_method = $15, shipping_cents = $16, shipping_tax_rate_bp = $17,
            shipping_tax_cents = $18, delivery_min_days = $19, delivery_max_days = $20
        WHERE id = $1
        "#,
        cart,
        totals.total_cents,
        currency,
        address.name,
        address.line1,
        address.line2,
        address.city,
        address.postcode,
        address.country,
        settings.reservation.as_secs_f64(),
        pricing.subtotal_cents,
        totals.tax_cents,
        settings.prices_include_tax,
        method_id,
        shipping.method,
        shipping.cents,
        shipping.tax_rate_bp,
        shipping.tax_cents,
        shipping.min_days,
        shipping.max_days,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Placed { id: cart, shipping: totals.shipping })
}

/// Keeps `address` on the user's cart for the delivery step.
pub async fn keep_address(pool: &PgPool, user: Uuid, address: &ShippingAddress) -> Result<(), AppError> {
    let kept = sqlx::query!(
        r#"
        UPDATE orders SET shipping_name = $2, shipping_line1 = $3, shipping_line2 = $4, shipping_city = $5,
                          shipping_postcode = $6, shipping_country = $7
        WHERE user_id = $1 AND status = 'cart'
        "#,
        user,
        address.name,
        address.line1,
        address.line2,
        address.city,
        address.postcode,
        address.country
    )
    .execute(pool)
    .await?;
    if kept.rows_affected() == 0 {
        return Err(AppError::Invalid("Your cart is empty.".into()));
    }
    Ok(())
}

/// The address kept on the user's cart, if any.
pub async fn kept_address(pool: &PgPool, user: Uuid) -> Result<Option<ShippingAddress>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT shipping_name, shipping_line1, shipping_line2, shipping_city, shipping_postcode, shipping_country
           FROM orders WHERE user_id = $1 AND status = 'cart'"#,
        user
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|row| {
        address_of(
            row.shipping_name,
            row.shipping_line1,
            row.shipping_line2,
            row.shipping_city,
            row.shipping_postcode,
            row.shipping_country,
        )
    }))
}

/// An address from an order's columns, when it has one.
fn address_of(
    name: Option<String>,
    line1: Option<String>,
    line2: Option<String>,
    city: Option<String>,
    postcode: Option<String>,
    country: Option<String>,
) -> Option<ShippingAddress> {
    Some(ShippingAddress { name: name?, line1: line1?, line2, city: city?, postcode: postcode?, country: country? })
}

/// The delivery step for the user's cart: each active method to the kept address with what the order then comes
/// to, cheapest first (what checkout will charge, unless the catalog or a promotion changes meanwhile).
pub async fn delivery_step(pool: &PgPool, user: Uuid, settings: &CommerceSettings) -> Result<DeliveryStep, AppError> {
    let address = kept_address(pool, user).await?;
    let country = address.as_ref().map_or("", |address| address.country.as_str());
    let quote = delivery_quote(pool, user, country, settings).await?;
    Ok(DeliveryStep {
        cart: quote.cart,
        currency: quote.currency,
        goods_cents: quote.goods_cents,
        options: if address.is_some() { quote.options } else { Vec::new() },
        outside: address.as_ref().and(quote.outside),
        prices_include_tax: settings.prices_include_tax,
        address,
    })
}

/// The ways the user's cart can be delivered to `country`, cheapest first.
pub struct DeliveryQuote {
    pub cart: Uuid,
    pub currency: String,
    /// What the goods come to after their discounts.
    pub goods_cents: i64,
    pub options: Vec<DeliveryOption>,
    /// Why nothing delivers there, when nothing does.
    pub outside: Option<String>,
}

/// Prices the user's cart as checkout would, delivered to `country` by each method that delivers there.
pub async fn delivery_quote(
    pool: &PgPool,
    user: Uuid,
    country: &str,
    settings: &CommerceSettings,
) -> Result<DeliveryQuote, AppError> {
    let empty = || AppError::Invalid("Your cart is empty.".into());
    let mut conn = pool.acquire().await?;
    let cart = sqlx::query!("SELECT id, coupon_promotion_id FROM orders WHERE user_id = $1 AND status = 'cart'", user)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(empty)?;
    let lines = checkout_lines(&mut conn, cart.id, user).await?;
    let currency = lines.first().ok_or_else(empty)?.currency.clone();
    let offers = promotions::store::offers(&mut conn, cart.coupon_promotion_id, Some(user)).await?;
    let shopper = rules::Shopper { first_order: offers.first_order, now: chrono::Utc::now() };
    let priced: Vec<rules::Line> = lines.iter().map(CheckoutLine::priced).collect();
    let pricing = rules::price(&priced, &currency, &offers.automatic, offers.coupon.as_ref(), shopper);
    let rates = tax_rates(&mut conn, country).await?;
    let (mut options, outside) = match methods_to(&mut conn, country, &currency).await? {
        Ok(methods) => {
            let options = methods.iter().map(|method| {
                let Totals { shipping, tax_cents, total_cents, .. } =
                    totals(&lines, &pricing, &rates, method, settings.prices_include_tax);
                DeliveryOption { method_id: method.id, shipping, tax_cents, total_cents }
            });
            (options.collect::<Vec<_>>(), None)
        }
        Err(outside) => (Vec::new(), Some(outside)),
    };
    options.sort_by_key(|option| (option.shipping.cents, option.shipping.max_days));
    Ok(DeliveryQuote { cart: cart.id, currency, goods_cents: pricing.total_cents, options, outside })
}

/// The tax rates of a destination country, by tax category (none: no tax there).
async fn tax_rates(conn: &mut PgConnection, country: &str) -> Result<Vec<(String, i32)>, sqlx::Error> {
    let rows =
        sqlx::query!("SELECT category, rate_bp FROM tax_rates WHERE country = $1", country).fetch_all(conn).await?;
    Ok(rows.into_iter().map(|row| (row.category, row.rate_bp)).collect())
}

/// Prices the lines being checked out (inside checkout's transaction): the promotions with a total limit that would
/// apply are locked, in id order, and their uses counted again after the lock, so two checkouts racing for the last
/// use queue and exactly one gets it. A shopper's own uses and first order need no lock: their checkouts already
/// queue on the user's row. A code that no longer applies stops the checkout with its reason (the shopper never
/// pays another total than the one they saw); an automatic promotion used up meanwhile is simply left out.
async fn price_checkout(
    conn: &mut PgConnection,
    lines: &[rules::Line],
    currency: &str,
    coupon: Option<i64>,
    user: Uuid,
) -> Result<Pricing, AppError> {
    let now = chrono::Utc::now();
    let mut offers = promotions::store::offers(conn, coupon, Some(user)).await?;
    let shopper = rules::Shopper { first_order: offers.first_order, now };
    let limited: Vec<i64> = offers
        .automatic
        .iter()
        .chain(&offers.coupon)
        .filter(|offer| offer.promotion.usage_limit.is_some())
        .filter(|offer| rules::check(offer, lines, currency, shopper).is_ok())
        .map(|offer| offer.promotion.id)
        .collect();
    if !limited.is_empty() {
        promotions::store::lock(conn, &limited).await?;
        offers = promotions::store::offers(conn, coupon, Some(user)).await?;
    }
    let pricing = rules::price(lines, currency, &offers.automatic, offers.coupon.as_ref(), shopper);
    if let Some(refusal) = pricing.coupon_refusal(currency) {
        return Err(AppError::Invalid(format!("{refusal} Remove the code from your cart to check out without it.")));
    }
    Ok(pricing)
}

/// Locks the products an order's lines are of, in id order (see [`checkout`]).
async fn lock_products(conn: &mut PgConnection, order: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "SELECT id FROM products WHERE id IN (SELECT product_id FROM order_lines WHERE order_id = $1) ORDER BY id FOR UPDATE",
        order
    )
    .fetch_all(conn)
    .await
    .map(|_| ())
}

/// Puts an order's reserved units back on sale (inside the caller's transaction): each line's units go back to
/// its variant (an archived variant keeps them off sale until it is restored).
pub async fn release_stock(conn: &mut PgConnection, order: Uuid) -> Result<(), sqlx::Error> {
    lock_products(conn, order).await?;
    sqlx::query!(
        r#"
        UPDATE variants v SET stock = v.stock + l.quantity
        FROM order_lines l
        WHERE l.order_id = $1 AND v.id = l.variant_id
        "#,
        order
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// Moves an order to `to` and writes the move's webhook deliveries; the database refuses an illegal transition.
pub async fn transition(conn: &mut PgConnection, order: Uuid, to: OrderStatus, note: &str) -> Result<(), sqlx::Error> {
    // The trigger records the note in the order's history.
    sqlx::query!("SELECT set_config('cartograph.transition_note', $1, true)", note).fetch_one(&mut *conn).await?;
    sqlx::query!("UPDATE orders SET status = $2 WHERE id = $1", order, to as _).execute(&mut *conn).await?;
    if let Some(event) = to.webhook_event() {
        crate::webhooks::store::enqueue_order(&mut *conn, order, event).await?;
    }
    // The shopper hears of a payment and a cancellation (a shipment and a refund write their own messages).
    let email = match to {
        OrderStatus::Paid => Some(EmailKind::OrderConfirmation),
        OrderStatus::Cancelled => Some(EmailKind::Cancellation),
        _ => None,
    };
    if let Some(kind) = email {
        crate::email::enqueue(conn, order, kind, None).await?;
    }
    Ok(())
}

/// Expires unpaid orders whose reservation ran out and releases their stock; returns how many.
///
/// `FOR UPDATE SKIP LOCKED` lets several server copies sweep at once, and skips an order being paid right now;
/// an order with a charge in flight keeps its stock until the charge is settled.
pub async fn expire_reservations(pool: &PgPool, batch: i64) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let expired = sqlx::query_scalar!(
        r#"
        SELECT id FROM orders o
        WHERE status = 'pending_payment' AND reserved_until < now()
          AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id AND p.outcome = 'charging')
        ORDER BY reserved_until
        LIMIT $1
        FOR UPDATE SKIP LOCKED
        "#,
        batch
    )
    .fetch_all(&mut *tx)
    .await?;
    for order in &expired {
        release_stock(&mut tx, *order).await?;
        transition(&mut tx, *order, OrderStatus::Expired, "reservation expired before payment").await?;
    }
    tx.commit().await?;
    Ok(expired.len() as u64)
}

/// The user's orders that left the cart, newest first.
pub async fn list_for_user(pool: &PgPool, user: Uuid) -> Result<Vec<OrderSummary>, sqlx::Error> {
    sqlx::query_as!(
        OrderSummary,
        r#"
        SELECT o.id, o.status AS "status: OrderStatus", o.total_cents AS "total_cents!", o.currency,
               o.created_at AS "created_at: chrono::DateTime<chrono::Utc>",
               (SELECT COALESCE(sum(quantity), 0) FROM order_lines WHERE order_id = o.id) AS "item_count!"
        FROM orders o
        WHERE o.user_id = $1 AND o.status <> 'cart'
        ORDER BY o.created_at DESC
        LIMIT 200
        "#,
        user
    )
    .fetch_all(pool)
    .await
}

/// An order's shipments, oldest first.
async fn shipments_of(pool: &PgPool, order: Uuid) -> Result<Vec<Shipment>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        SELECT s.id, s.created_at AS "at: chrono::DateTime<chrono::Utc>", s.carrier, s.tracking, sl.variant_id, sl.quantity
        FROM shipments s JOIN shipment_lines sl ON sl.shipment_id = s.id
        JOIN order_lines l ON l.order_id = sl.order_id AND l.variant_id = sl.variant_id
        WHERE s.order_id = $1
        ORDER BY s.created_at, s.id, l.added_at, l.product_id, l.variant_id
        "#,
        order
    )
    .fetch_all(pool)
    .await?;
    let mut shipments: Vec<(Uuid, Shipment)> = Vec::new();
    for row in rows {
        match shipments.last_mut() {
            Some((id, shipment)) if *id == row.id => shipment.units.push((row.variant_id, row.quantity)),
            _ => shipments.push((
                row.id,
                Shipment {
                    at: row.at,
                    carrier: row.carrier,
                    tracking: row.tracking,
                    units: vec![(row.variant_id, row.quantity)],
                },
            )),
        }
    }
    Ok(shipments.into_iter().map(|(_, shipment)| shipment).collect())
}

/// One order with lines, address, history and payments; with `user`, `None` for anyone else's (`None`: any order).
pub async fn detail(pool: &PgPool, user: Option<Uuid>, order: Uuid) -> Result<Option<OrderDetail>, sqlx::Error> {
    let Some(row) = sqlx::query!(
        r#"
        SELECT id, status AS "status: OrderStatus", total_cents, subtotal_cents, prices_include_tax, currency,
               created_at AS "created_at: chrono::DateTime<chrono::Utc>",
               reserved_until AS "reserved_until: chrono::DateTime<chrono::Utc>",
               shipping_name, shipping_line1, shipping_line2, shipping_city, shipping_postcode, shipping_country,
               shipping_method, shipping_cents, shipping_tax_rate_bp, shipping_tax_cents, delivery_min_days,
               delivery_max_days
        FROM orders WHERE id = $1 AND ($2::uuid IS NULL OR user_id = $2) AND status <> 'cart'
        "#,
        order,
        user
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let rows = sqlx::query!(
        r#"
        SELECT l.product_id, l.variant_id, v.sku, v.options, p.slug, p.name, l.quantity,
               l.unit_price_cents AS "unit_price_cents!", l.tax_rate_bp, l.tax_cents,
               (SELECT COALESCE(sum(s.quantity), 0) FROM shipment_lines s
                WHERE s.order_id = l.order_id AND s.variant_id = l.variant_id)::integer AS "shipped!"
        FROM order_lines l JOIN products p ON p.id = l.product_id JOIN variants v ON v.id = l.variant_id
        WHERE l.order_id = $1 ORDER BY l.added_at, l.product_id, l.variant_id
        "#,
        order
    )
    .fetch_all(pool)
    .await?;
    let shipping = match (row.shipping_method, row.shipping_cents, row.delivery_min_days, row.delivery_max_days) {
        (Some(method), Some(cents), Some(min_days), Some(max_days)) => Some(ShippingCharge {
            method,
            cents,
            tax_rate_bp: row.shipping_tax_rate_bp.unwrap_or(0),
            tax_cents: row.shipping_tax_cents.unwrap_or(0),
            min_days,
            max_days,
        }),
        _ => None,
    };
    // The tax by rate, the lines' and the shipping's, highest first (an order placed before tax has none).
    let mut taxes: Vec<TaxLine> = Vec::new();
    let line_taxes = rows.iter().filter_map(|row| Some((row.tax_rate_bp?, row.tax_cents?)));
    let shipping_tax = shipping.as_ref().filter(|_| row.shipping_tax_rate_bp.is_some());
    for (rate_bp, tax_cents) in line_taxes.chain(shipping_tax.map(|charge| (charge.tax_rate_bp, charge.tax_cents))) {
        match taxes.iter_mut().find(|line| line.rate_bp == rate_bp) {
            Some(line) => line.tax_cents += tax_cents,
            None => taxes.push(TaxLine { rate_bp, tax_cents }),
        }
    }
    taxes.sort_by_key(|line| std::cmp::Reverse(line.rate_bp));
    let lines = rows
        .into_iter()
        .map(|row| OrderLine {
            product_id: row.product_id,
            variant_id: row.variant_id,
            sku: row.sku,
            variant: variant_label(&row.options),
            slug: row.slug,
            name: row.name,
            quantity: row.quantity,
            unit_price_cents: row.unit_price_cents,
            shipped: row.shipped,
        })
        .collect::<Vec<_>>();
    let history = sqlx::query_as!(
        StatusChange,
        r#"SELECT from_status AS "from: OrderStatus", to_status AS "to: OrderStatus", NULLIF(note, '') AS note,
                  at AS "at: chrono::DateTime<chrono::Utc>"
           FROM order_status_history WHERE order_id = $1 ORDER BY id"#,
        order
    )
    .fetch_all(pool)
    .await?;
    let payments = sqlx::query_as!(
        PaymentRecord,
        r#"SELECT outcome AS "outcome: PaymentState", amount_cents, card_last4, reason, created_at AS "at: chrono::DateTime<chrono::Utc>"
           FROM payments WHERE order_id = $1 ORDER BY created_at"#,
        order
    )
    .fetch_all(pool)
    .await?;
    let item_count = lines.iter().map(|l| i64::from(l.quantity)).sum();
    let discounts = promotions::store::of_order(pool, order).await?;
    let shipments = shipments_of(pool, order).await?;
    let address = address_of(
        row.shipping_name,
        row.shipping_line1,
        row.shipping_line2,
        row.shipping_city,
        row.shipping_postcode,
        row.shipping_country,
    );
    Ok(Some(OrderDetail {
        summary: OrderSummary {
            id: row.id,
            status: row.status,
            total_cents: row.total_cents.unwrap_or_default(),
            currency: row.currency,
            item_count,
            created_at: row.created_at,
        },
        subtotal_cents: row.subtotal_cents.or(row.total_cents).unwrap_or_default(),
        lines,
        discounts,
        taxes,
        prices_include_tax: row.prices_include_tax,
        shipping,
        shipments,
        address,
        reserved_until: row.reserved_until,
        history,
        payments,
        payment_key: Uuid::new_v4().to_string(),
    }))
}
