//! Cart queries. A cart is an order row in status `cart` with its lines.

use super::Owner;
use super::{Cart, CartLine, MAX_LINE_QUANTITY};
use crate::error::AppError;
use crate::promotions::{self, rules, Pricing, Refusal};
use crate::variants::{titled, variant_label};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The open cart of an owner, if any.
async fn find(conn: &mut PgConnection, owner: Owner) -> Result<Option<Uuid>, sqlx::Error> {
    match owner {
        Owner::User(user) => {
            sqlx::query_scalar!("SELECT id FROM orders WHERE user_id = $1 AND status = 'cart' FOR UPDATE", user)
                .fetch_optional(conn)
                .await
        }
        Owner::Visit(visit) => {
            sqlx::query_scalar!(
                "SELECT id FROM orders WHERE visit_id = $1 AND user_id IS NULL AND status = 'cart' FOR UPDATE",
                visit
            )
            .fetch_optional(conn)
            .await
        }
    }
}

/// The open cart of an owner, created (as an order in status `cart`) when missing.
async fn find_or_create(conn: &mut PgConnection, owner: Owner) -> Result<Uuid, sqlx::Error> {
    if let Some(id) = find(conn, owner).await? {
        return Ok(id);
    }
    let (user, visit) = match owner {
        Owner::User(user) => (Some(user), None),
        Owner::Visit(visit) => (None, Some(visit)),
    };
    // Two first clicks at once: the partial unique indexes let exactly one insert win.
    sqlx::query!(
        "INSERT INTO orders (id, user_id, visit_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        Uuid::new_v4(),
        user,
        visit
    )
    .execute(&mut *conn)
    .await?;
    find(conn, owner).await?.ok_or(sqlx::Error::RowNotFound)
}

/// The owner's cart as read, before pricing: its lines, the same lines as the promotion rules see them, and its
/// code.
struct Read {
    cart: Cart,
    lines: Vec<rules::Line>,
    coupon: Option<i64>,
}

async fn read(conn: &mut PgConnection, owner: Owner) -> Result<Read, sqlx::Error> {
    let (user, visit) = match owner {
        Owner::User(user) => (Some(user), None),
        Owner::Visit(visit) => (None, Some(visit)),
    };
    let rows = sqlx::query!(
        r#"
        SELECT o.id AS order_id, o.coupon_promotion_id, l.product_id, l.variant_id, v.sku, v.options, p.slug, p.name,
               p.category_slug, COALESCE(v.price_cents, p.price_cents) AS "price_cents!", p.currency, l.quantity,
               CASE WHEN v.archived_at IS NULL THEN v.stock ELSE 0 END AS "stock!"
        FROM orders o
        JOIN order_lines l ON l.order_id = o.id
        JOIN products p ON p.id = l.product_id
        JOIN variants v ON v.id = l.variant_id
        WHERE o.status = 'cart'
          AND (($1::uuid IS NOT NULL AND o.user_id = $1) OR ($2::uuid IS NOT NULL AND o.visit_id = $2 AND o.user_id IS NULL))
        ORDER BY l.added_at, l.product_id, v.position, l.variant_id
        "#,
        user,
        visit
    )
    .fetch_all(conn)
    .await?;
    let lines = rows
        .iter()
        .map(|row| rules::Line {
            product_id: row.product_id,
            category: row.category_slug.clone(),
            unit_price_cents: row.price_cents,
            quantity: row.quantity,
        })
        .collect();
    Ok(Read {
        coupon: rows.first().and_then(|row| row.coupon_promotion_id),
        lines,
        cart: Cart {
            order_id: rows.first().map(|row| row.order_id),
            lines: rows
                .into_iter()
                .map(|row| {
                    let variant = variant_label(&row.options);
                    CartLine {
                        product_id: row.product_id,
                        variant_id: row.variant_id,
                        sku: row.sku,
                        title: titled(&row.name, &variant),
                        variant,
                        slug: row.slug,
                        name: row.name,
                        unit_price_cents: row.price_cents,
                        currency: row.currency,
                        quantity: row.quantity,
                        stock: row.stock,
                    }
                })
                .collect(),
            ..Cart::default()
        },
    })
}

/// Prices lines with the promotions on offer and the code `coupon` (see [`rules`]).
async fn price(
    conn: &mut PgConnection,
    lines: &[rules::Line],
    currency: &str,
    coupon: Option<i64>,
    user: Option<Uuid>,
) -> Result<Pricing, sqlx::Error> {
    if lines.is_empty() {
        return Ok(Pricing::default());
    }
    let offers = promotions::store::offers(conn, coupon, user).await?;
    let shopper = rules::Shopper { first_order: offers.first_order, now: chrono::Utc::now() };
    Ok(rules::price(lines, currency, &offers.automatic, offers.coupon.as_ref(), shopper))
}

/// Loads the owner's cart with current prices, stock and discounts.
pub async fn load(pool: &PgPool, owner: Owner) -> Result<Cart, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let Read { mut cart, lines, coupon } = read(&mut conn, owner).await?;
    cart.pricing = price(&mut conn, &lines, cart.currency(), coupon, owner.user()).await?;
    cart.foot = foot(&cart.pricing, cart.currency());
    Ok(cart)
}

/// The cart table's foot (five columns): the subtotal and each discount when there are any, the code's refusal
/// when it does not apply, and the total. Every value is escaped.
fn foot(pricing: &Pricing, currency: &str) -> String {
    use crate::{escape_html, money::format_price};
    let row = |label: &str, amount: String, class: &str, testid: &str| {
        format!(
            r#"<tr class="{class}"><th colspan="3">{}</th><td data-testid="{testid}">{}</td><td></td></tr>"#,
            escape_html(label),
            escape_html(&amount)
        )
    };
    let mut html = String::new();
    if !pricing.discounts.is_empty() {
        html += &row("Subtotal", format_price(pricing.subtotal_cents, currency), "subtotal", "cart-subtotal");
    }
    for discount in &pricing.discounts {
        let amount = format!("−{}", format_price(discount.amount_cents, currency));
        html += &row(&discount.title(), amount, "discount", "cart-discount");
    }
    if let Some(refusal) = pricing.coupon_refusal(currency) {
        html +=
            &format!(r#"<tr class="coupon-refused"><td colspan="5" role="status">{}</td></tr>"#, escape_html(&refusal));
    }
    html + &row("Total", format_price(pricing.total_cents, currency), "total", "cart-total")
}

/// A code applied (in capitals), or why not: the refusal and its words.
pub type Applied = Result<String, (Refusal, String)>;

/// Applies a code to the owner's cart when it applies to it now (the cart keeps no code it cannot use). An empty
/// cart takes no code.
pub async fn apply_code(pool: &PgPool, owner: Owner, typed: &str) -> Result<Applied, AppError> {
    let mut conn = pool.acquire().await?;
    let Read { cart, lines, .. } = read(&mut conn, owner).await?;
    let Some(order) = cart.order_id else {
        return Err(AppError::Invalid("Your cart is empty: add something to it before entering a code.".into()));
    };
    let currency = cart.currency();
    let refuse = |refusal: Refusal, code: &str| -> Result<Applied, AppError> {
        Ok(Err((refusal, refusal.message(code, currency))))
    };
    let Some(code) = promotions::normalize_code(typed) else {
        return refuse(Refusal::Unknown, &typed.to_uppercase());
    };
    let Some(id) = promotions::store::by_code(&mut conn, &code).await? else {
        return refuse(Refusal::Unknown, &code);
    };
    let pricing = price(&mut conn, &lines, currency, Some(id), owner.user()).await?;
    if let Some(refusal) = pricing.coupon.and_then(|coupon| coupon.refused) {
        return refuse(refusal, &code);
    }
    sqlx::query!("UPDATE orders SET coupon_promotion_id = $2 WHERE id = $1 AND status = 'cart'", order, id)
        .execute(&mut *conn)
        .await?;
    Ok(Ok(code))
}

/// Takes the code off the owner's cart.
pub async fn remove_code(pool: &PgPool, owner: Owner) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    if let Some(cart) = find(&mut tx, owner).await? {
        sqlx::query!("UPDATE orders SET coupon_promotion_id = NULL WHERE id = $1", cart).execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// What a shopper asks to buy: a product, and which of its variants (`None`: its only one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item {
    pub product_id: i64,
    pub variant_id: Option<i64>,
}

impl Item {
    /// An item as a form names it: variant 0 is no variant (the product's only one).
    pub fn new(product_id: i64, variant_id: i64) -> Self {
        Self { product_id, variant_id: (variant_id != 0).then_some(variant_id) }
    }
}

/// A variant on sale, as the cart checks it.
struct VariantForCart {
    id: i64,
    title: String,
    stock: i32,
}

/// The variant a shopper asked for, on sale; without a variant, the product's only one (a product with options
/// needs the choice).
async fn variant_for_cart(conn: &mut PgConnection, item: Item) -> Result<VariantForCart, AppError> {
    let rows = sqlx::query!(
        r#"
        SELECT v.id, v.options, v.stock, p.name,
               (SELECT string_agg(lower(o.name), ' and ' ORDER BY o.position) FROM product_options o
                WHERE o.product_id = p.id) AS groups
        FROM products p JOIN variants v ON v.product_id = p.id
        WHERE p.id = $1 AND p.archived_at IS NULL AND v.archived_at IS NULL
          AND ($2::bigint IS NULL OR v.id = $2)
        ORDER BY v.position, v.id
        LIMIT 2
        "#,
        item.product_id,
        item.variant_id
    )
    .fetch_all(conn)
    .await?;
    match rows.as_slice() {
        [] => Err(AppError::Invalid("That product is not on sale.".into())),
        [only] if item.variant_id.is_some() || only.groups.is_none() => {
            let title = titled(&only.name, &variant_label(&only.options));
            Ok(VariantForCart { id: only.id, title, stock: only.stock })
        }
        [first, ..] => Err(AppError::Invalid(format!(
            "Choose the {} of {} first.",
            first.groups.as_deref().unwrap_or("variant"),
            first.name
        ))),
    }
}

fn check_stock(variant: &VariantForCart, wanted: i32) -> Result<(), AppError> {
    if variant.stock <= 0 {
        return Err(AppError::Invalid(format!("{} is out of stock.", variant.title)));
    }
    if wanted > variant.stock {
        return Err(AppError::Invalid(format!("Only {} of {} left.", variant.stock, variant.title)));
    }
    if wanted > MAX_LINE_QUANTITY {
        return Err(AppError::Invalid(format!("At most {MAX_LINE_QUANTITY} of one product per order.")));
    }
    Ok(())
}

/// Adds to a line (creating the cart and the line as needed), limited by stock; `visit` is the visit it happens in.
pub async fn add(pool: &PgPool, owner: Owner, visit: Uuid, item: Item, quantity: i32) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let variant = variant_for_cart(&mut tx, item).await?;
    let cart = find_or_create(&mut tx, owner).await?;
    let existing = sqlx::query_scalar!(
        "SELECT quantity FROM order_lines WHERE order_id = $1 AND variant_id = $2",
        cart,
        variant.id
    )
    .fetch_optional(&mut *tx)
    .await?
    .unwrap_or(0);
    check_stock(&variant, existing + quantity)?;
    sqlx::query!(
        r#"
        INSERT INTO order_lines (order_id, product_id, variant_id, quantity) VALUES ($1, $2, $3, $4)
        ON CONFLICT (order_id, variant_id) DO UPDATE SET quantity = order_lines.quantity + EXCLUDED.quantity
        "#,
        cart,
        item.product_id,
        variant.id,
        quantity
    )
    .execute(&mut *tx)
    .await?;
    touch(&mut tx, cart, visit).await?;
    tx.commit().await?;
    Ok(())
}

/// Notes that the cart changed now, in `visit`: the abandoned-cart reminder waits for a later visit.
async fn touch(conn: &mut PgConnection, cart: Uuid, visit: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE orders SET updated_at = now(), changed_in_visit = $2 WHERE id = $1", cart, visit)
        .execute(conn)
        .await?;
    Ok(())
}

/// The cart line an item names: its variant's, or (without a variant) the product's only line in the cart.
async fn line_of(conn: &mut PgConnection, cart: Uuid, item: Item) -> Result<Option<i64>, sqlx::Error> {
    let lines = sqlx::query_scalar!(
        r#"SELECT variant_id FROM order_lines WHERE order_id = $1 AND product_id = $2
           AND ($3::bigint IS NULL OR variant_id = $3) LIMIT 2"#,
        cart,
        item.product_id,
        item.variant_id
    )
    .fetch_all(conn)
    .await?;
    Ok(match lines.as_slice() {
        [only] => Some(*only),
        _ => None,
    })
}

/// Sets a line's quantity (zero removes it), limited by stock; `visit` is the visit it happens in.
pub async fn set_quantity(pool: &PgPool, owner: Owner, visit: Uuid, item: Item, quantity: i32) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let Some(cart) = find(&mut tx, owner).await? else {
        return Err(AppError::Invalid("Your cart is empty.".into()));
    };
    let Some(line) = line_of(&mut tx, cart, item).await? else {
        return Err(AppError::Invalid("That product is not in your cart (or choose which of its variants).".into()));
    };
    if quantity == 0 {
        sqlx::query!("DELETE FROM order_lines WHERE order_id = $1 AND variant_id = $2", cart, line)
            .execute(&mut *tx)
            .await?;
    } else {
        let variant = variant_for_cart(&mut tx, Item { variant_id: Some(line), ..item }).await?;
        check_stock(&variant, quantity)?;
        sqlx::query!(
            "UPDATE order_lines SET quantity = $3 WHERE order_id = $1 AND variant_id = $2",
            cart,
            line,
            quantity
        )
        .execute(&mut *tx)
        .await?;
    }
    touch(&mut tx, cart, visit).await?;
    tx.commit().await?;
    Ok(())
}

/// Moves a visit's anonymous cart into the user's cart at sign-in: lines for the same product are added
/// together per variant (up to the stock and the line limit), nothing is lost and no line appears twice.
pub async fn merge_visit_cart(pool: &PgPool, visit: Uuid, user: Uuid) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(visit_cart) = find(&mut tx, Owner::Visit(visit)).await? else {
        return Ok(());
    };
    match find(&mut tx, Owner::User(user)).await? {
        None => {
            sqlx::query!("UPDATE orders SET user_id = $2 WHERE id = $1", visit_cart, user).execute(&mut *tx).await?;
            touch(&mut tx, visit_cart, visit).await?;
        }
        Some(user_cart) => {
            sqlx::query!(
                r#"
                INSERT INTO order_lines (order_id, product_id, variant_id, quantity, added_at)
                SELECT $2, l.product_id, l.variant_id, LEAST(l.quantity, $3), l.added_at
                FROM order_lines l WHERE l.order_id = $1
                ON CONFLICT (order_id, variant_id) DO UPDATE
                    SET quantity = LEAST(
                        order_lines.quantity + EXCLUDED.quantity,
                        $3,
                        GREATEST((SELECT stock FROM variants WHERE id = EXCLUDED.variant_id), order_lines.quantity)
                    )
                "#,
                visit_cart,
                user_cart,
                MAX_LINE_QUANTITY
            )
            .execute(&mut *tx)
            .await?;
            // The code entered before signing in stays (the user's cart's own, when the visit's had none).
            sqlx::query!(
                r#"UPDATE orders SET coupon_promotion_id = COALESCE(
                       (SELECT coupon_promotion_id FROM orders WHERE id = $1), coupon_promotion_id)
                   WHERE id = $2"#,
                visit_cart,
                user_cart
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query!("DELETE FROM orders WHERE id = $1", visit_cart).execute(&mut *tx).await?;
            touch(&mut tx, user_cart, visit).await?;
        }
    }
    tx.commit().await
}
