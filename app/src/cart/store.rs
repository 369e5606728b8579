//! Cart queries. A cart is an order row in status `cart` with its lines.

use super::Owner;
use super::{Cart, CartLine, MAX_LINE_QUANTITY};
use crate::error::AppError;
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

/// Loads the owner's cart with current prices and stock.
pub async fn load(pool: &PgPool, owner: Owner) -> Result<Cart, sqlx::Error> {
    let (user, visit) = match owner {
        Owner::User(user) => (Some(user), None),
        Owner::Visit(visit) => (None, Some(visit)),
    };
    let rows = sqlx::query!(
        r#"
        SELECT o.id AS order_id, l.product_id, p.slug, p.name, p.price_cents, p.currency, l.quantity, p.stock
        FROM orders o
        JOIN order_lines l ON l.order_id = o.id
        JOIN products p ON p.id = l.product_id
        WHERE o.status = 'cart'
          AND (($1::uuid IS NOT NULL AND o.user_id = $1) OR ($2::uuid IS NOT NULL AND o.visit_id = $2 AND o.user_id IS NULL))
        ORDER BY l.added_at, l.product_id
        "#,
        user,
        visit
    )
    .fetch_all(pool)
    .await?;
    Ok(Cart {
        order_id: rows.first().map(|row| row.order_id),
        lines: rows
            .into_iter()
            .map(|row| CartLine {
                product_id: row.product_id,
                slug: row.slug,
                name: row.name,
                unit_price_cents: row.price_cents,
                currency: row.currency,
                quantity: row.quantity,
                stock: row.stock,
            })
            .collect(),
    })
}

struct ProductForCart {
    name: String,
    stock: i32,
}

async fn product_for_cart(conn: &mut PgConnection, product_id: i64) -> Result<ProductForCart, AppError> {
    sqlx::query_as!(
        ProductForCart,
        "SELECT name, stock FROM products WHERE id = $1 AND archived_at IS NULL",
        product_id
    )
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| AppError::Invalid("That product is not on sale.".into()))
}

fn check_stock(product: &ProductForCart, wanted: i32) -> Result<(), AppError> {
    if product.stock <= 0 {
        return Err(AppError::Invalid(format!("{} is out of stock.", product.name)));
    }
    if wanted > product.stock {
        return Err(AppError::Invalid(format!("Only {} of {} left.", product.stock, product.name)));
    }
    if wanted > MAX_LINE_QUANTITY {
        return Err(AppError::Invalid(format!("At most {MAX_LINE_QUANTITY} of one product per order.")));
    }
    Ok(())
}

/// Adds to a line (creating the cart and the line as needed), limited by stock; `visit` is the visit it happens in.
pub async fn add(pool: &PgPool, owner: Owner, visit: Uuid, product_id: i64, quantity: i32) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let product = product_for_cart(&mut tx, product_id).await?;
    let cart = find_or_create(&mut tx, owner).await?;
    let existing = sqlx::query_scalar!(
        "SELECT quantity FROM order_lines WHERE order_id = $1 AND product_id = $2",
        cart,
        product_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .unwrap_or(0);
    check_stock(&product, existing + quantity)?;
    sqlx::query!(
        r#"
        INSERT INTO order_lines (order_id, product_id, quantity) VALUES ($1, $2, $3)
        ON CONFLICT (order_id, product_id) DO UPDATE SET quantity = order_lines.quantity + EXCLUDED.quantity
        "#,
        cart,
        product_id,
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

/// Sets a line's quantity (zero removes it), limited by stock; `visit` is the visit it happens in.
pub async fn set_quantity(
    pool: &PgPool,
    owner: Owner,
    visit: Uuid,
    product_id: i64,
    quantity: i32,
) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let Some(cart) = find(&mut tx, owner).await? else {
        return Err(AppError::Invalid("Your cart is empty.".into()));
    };
    if quantity == 0 {
        sqlx::query!("DELETE FROM order_lines WHERE order_id = $1 AND product_id = $2", cart, product_id)
            .execute(&mut *tx)
            .await?;
    } else {
        let product = product_for_cart(&mut tx, product_id).await?;
        check_stock(&product, quantity)?;
        let updated = sqlx::query!(
            "UPDATE order_lines SET quantity = $3 WHERE order_id = $1 AND product_id = $2",
            cart,
            product_id,
            quantity
        )
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(AppError::Invalid(format!("{} is not in your cart.", product.name)));
        }
    }
    touch(&mut tx, cart, visit).await?;
    tx.commit().await?;
    Ok(())
}

/// Moves a visit's anonymous cart into the user's cart at sign-in: lines for the same product are added
/// together (up to the stock and the line limit), nothing is lost and no line appears twice.
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
                INSERT INTO order_lines (order_id, product_id, quantity, added_at)
                SELECT $2, l.product_id, LEAST(l.quantity, $3), l.added_at
                FROM order_lines l WHERE l.order_id = $1
                ON CONFLICT (order_id, product_id) DO UPDATE
                    SET quantity = LEAST(
                        order_lines.quantity + EXCLUDED.quantity,
                        $3,
                        GREATEST((SELECT stock FROM products WHERE id = EXCLUDED.product_id), order_lines.quantity)
                    )
                "#,
                visit_cart,
                user_cart,
                MAX_LINE_QUANTITY
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query!("DELETE FROM orders WHERE id = $1", visit_cart).execute(&mut *tx).await?;
            touch(&mut tx, user_cart, visit).await?;
        }
    }
    tx.commit().await
}
