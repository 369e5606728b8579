//! Variants: the migration that brought them to a catalog without any, and the back office's options and variants
//! page as an admin and a shopper meet it.

use crate::helpers::{postgres::create_database, shopper::SUCCEEDS, TestApp, Variant};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use std::path::PathBuf;
use uuid::Uuid;

const VARIANTS_MIGRATION: &str = "20261209000017";

/// Runs the repository's migrations whose version `run` accepts, in order, as the server would.
async fn migrate(conn: &mut PgConnection, run: impl Fn(&str) -> bool) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    files.sort();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if run(&name[..14]) {
            let sql = std::fs::read_to_string(&file).unwrap();
            sqlx::raw_sql(&sql).execute(&mut *conn).await.unwrap_or_else(|error| panic!("{name}: {error}"));
        }
    }
}

#[tokio::test]
async fn the_variants_migration_moves_a_catalog_without_variants_without_loss() {
    let mut conn = PgConnection::connect(&create_database().await).await.unwrap();
    migrate(&mut conn, |version| version < VARIANTS_MIGRATION).await;
    // A shop as it was: two products (one archived, one sold out), a cart and a paid order.
    sqlx::raw_sql(
        r#"
        INSERT INTO categories (slug, name) VALUES ('camp', 'Camp');
        INSERT INTO products (slug, name, description, category_slug, price_cents, stock, image_svg) VALUES
            ('ridge-tent', 'Ridge Tent', 'A tent.', 'camp', 28900, 7, '<svg/>'),
            ('old-stove', 'Old Stove', 'A stove.', 'camp', 4900, 0, '<svg/>');
        UPDATE products SET archived_at = now() WHERE slug = 'old-stove';
        INSERT INTO users (id, issuer, subject, name) VALUES ('00000000-0000-0000-0000-000000000001', 't', 's', 'S');
        INSERT INTO orders (id, visit_id) VALUES
            ('00000000-0000-0000-0000-00000000000a', gen_random_uuid()),
            ('00000000-0000-0000-0000-00000000000b', gen_random_uuid());
        INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents)
            SELECT '00000000-0000-0000-0000-00000000000a', id, 2, NULL FROM products WHERE slug = 'ridge-tent';
        INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents)
            SELECT '00000000-0000-0000-0000-00000000000b', id, 1, price_cents FROM products;
        UPDATE orders SET user_id = '00000000-0000-0000-0000-000000000001', status = 'pending_payment',
            total_cents = 33800, shipping_name = 'S' WHERE id = '00000000-0000-0000-0000-00000000000b';
        UPDATE orders SET status = 'paid' WHERE id = '00000000-0000-0000-0000-00000000000b';
        "#,
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let lines_before: Vec<(Uuid, i64, i32, Option<i64>)> = sqlx::query_as(
        "SELECT order_id, product_id, quantity, unit_price_cents FROM order_lines ORDER BY order_id, product_id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();

    migrate(&mut conn, |version| version == VARIANTS_MIGRATION).await;

    // (product slug, SKU, choices, price, the variant's stock, the product's stock, archived)
    type Row = (String, String, Vec<String>, Option<i64>, i32, i32, bool);
    let variants: Vec<Row> = sqlx::query_as(
        "SELECT p.slug, v.sku, v.options, v.price_cents, v.stock, p.stock, v.archived_at IS NOT NULL
         FROM variants v JOIN products p ON p.id = v.product_id ORDER BY p.slug",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        variants,
        [
            ("old-stove".into(), "OLD-STOVE".into(), vec![], None, 0, 0, false),
            ("ridge-tent".into(), "RIDGE-TENT".into(), vec![], None, 7, 7, false),
        ],
        "one default variant per product, with the product's stock and price; no product's stock changed"
    );
    let lines_after: Vec<(Uuid, i64, i32, Option<i64>, String)> = sqlx::query_as(
        "SELECT l.order_id, l.product_id, l.quantity, l.unit_price_cents, v.sku
         FROM order_lines l JOIN variants v ON v.id = l.variant_id AND v.product_id = l.product_id
         ORDER BY l.order_id, l.product_id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let kept: Vec<(Uuid, i64, i32, Option<i64>)> = lines_after.iter().map(|l| (l.0, l.1, l.2, l.3)).collect();
    assert_eq!(kept, lines_before, "every cart and order line kept, on its product's default variant");

    // From here the variants hold the stock: a sale moves the product's figure, and nothing else may.
    sqlx::query("UPDATE variants SET stock = stock - 2 WHERE sku = 'RIDGE-TENT'").execute(&mut conn).await.unwrap();
    let tent: i32 =
        sqlx::query_scalar("SELECT stock FROM products WHERE slug = 'ridge-tent'").fetch_one(&mut conn).await.unwrap();
    assert_eq!(tent, 5);
    let direct = sqlx::query("UPDATE products SET stock = 40 WHERE slug = 'ridge-tent'").execute(&mut conn).await;
    let constraint = direct.unwrap_err().as_database_error().and_then(|e| e.constraint().map(str::to_string));
    assert_eq!(constraint.as_deref(), Some("product_stock_from_variants"));
    let conjured = sqlx::query(
        "INSERT INTO variants (product_id, sku, options, stock) SELECT id, 'RIDGE-TENT-XL', '{XL}', 3 FROM products WHERE slug = 'ridge-tent'",
    )
    .execute(&mut conn)
    .await;
    assert!(conjured.is_err(), "a new variant starts with no stock");
    sqlx::query(
        "INSERT INTO products (slug, name, description, category_slug, price_cents, stock, image_svg)
         VALUES ('new-lamp', 'New Lamp', 'A lamp.', 'camp', 1900, 4, '<svg/>')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let lamp: (String, i32, i32) = sqlx::query_as(
        "SELECT v.sku, v.stock, p.stock FROM variants v JOIN products p ON p.id = v.product_id WHERE p.slug = 'new-lamp'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(lamp, ("NEW-LAMP".to_string(), 4, 4), "a new product comes with its default variant");
    // The rest of the migrations run on top.
    migrate(&mut conn, |version| version > VARIANTS_MIGRATION).await;
}

/// One row of the variants form as an admin submits it: the variant, its new price (blank: the product's), stock
/// (the form showed `stock_was`), position and archived box.
struct Row<'a> {
    variant: &'a Variant,
    price: &'a str,
    stock: i32,
    stock_was: i32,
    position: usize,
    archived: bool,
}

async fn save_variants(app: &TestApp, product: i64, rows: &[Row<'_>]) -> Result<String, String> {
    let mut form = vec![("product_id".to_string(), product.to_string())];
    for (i, row) in rows.iter().enumerate() {
        let field = |name: &str| format!("rows[{i}][{name}]");
        form.push((field("id"), row.variant.id.to_string()));
        form.push((field("sku"), row.variant.sku.to_lowercase()));
        form.push((field("price"), row.price.to_string()));
        form.push((field("stock"), row.stock.to_string()));
        form.push((field("stock_was"), row.stock_was.to_string()));
        form.push((field("position"), row.position.to_string()));
        if row.archived {
            form.push((field("archived"), "on".into()));
        }
    }
    app.post_form("admin_save_variants", "/admin/products", &form).await
}

async fn set_options(app: &TestApp, product: i64, options: &str) -> Result<String, String> {
    let form = [("product_id".into(), product.to_string()), ("options".into(), options.to_string())];
    app.post_form("admin_set_options", "/admin/products", &form).await
}

#[tokio::test]
async fn an_admin_gives_a_product_sizes_and_colours_and_edits_every_variant_in_one_form() {
    // With the worker: the catalog events become notifications.
    let app = TestApp::builder().with_worker().spawn().await;
    let admin = app.another_browser();
    admin.sign_in("admin", "/").await;
    let (tent, _, tent_stock) = app.product("ridgeline-2-tent").await;

    // A shopper is refused the page and its forms.
    let shopper = app.another_browser();
    shopper.sign_in("shopper", "/").await;
    assert!(set_options(&shopper, tent, "Size: S").await.unwrap_err().contains("Forbidden"));
    assert!(app.variants(tent).await.iter().all(|variant| variant.options.is_empty()));

    // Bad options come back with the reason, and change nothing.
    assert!(set_options(&admin, tent, "Size S, M").await.unwrap_err().contains("has no colon"));
    assert_eq!(app.variants(tent).await.len(), 1);

    let saved = set_options(&admin, tent, "Size: S, M\nColour: Sand, Slate").await;
    assert_eq!(saved.unwrap(), format!("/admin/products/{tent}/variants?saved=options"));
    let made = app.variants(tent).await;
    let on_sale: Vec<(String, Vec<String>, i32)> =
        made.iter().filter(|v| !v.archived).map(|v| (v.sku.clone(), v.options.clone(), v.stock)).collect();
    let expect = |sku: &str, options: [&str; 2]| (sku.to_string(), options.map(String::from).to_vec(), 0);
    assert_eq!(
        on_sale,
        [
            expect("RIDGELINE-2-TENT-S-SAND", ["S", "Sand"]),
            expect("RIDGELINE-2-TENT-S-SLATE", ["S", "Slate"]),
            expect("RIDGELINE-2-TENT-M-SAND", ["M", "Sand"]),
            expect("RIDGELINE-2-TENT-M-SLATE", ["M", "Slate"]),
        ]
    );
    let default = made.iter().find(|v| v.options.is_empty()).unwrap();
    assert!(default.archived && default.stock == tent_stock, "the default variant is archived with its stock kept");
    assert_eq!(app.stock(tent).await, 0, "nothing on sale until the sizes get stock");

    // The page lists them; one form sets every stock, a price, a new order, and archives one.
    let page = admin.client.get(admin.url(&format!("/admin/products/{tent}/variants"))).send().await.unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains("RIDGELINE-2-TENT-M-SLATE") && page.contains("Size: S, M\nColour: Sand, Slate"));
    let rows: Vec<&Variant> = made.iter().filter(|v| !v.archived).collect();
    let edits: Vec<Row> = rows
        .iter()
        .enumerate()
        .map(|(i, variant)| Row {
            variant,
            price: if i == 3 { "309.00" } else { "" },
            stock: i as i32 + 1,
            stock_was: 0,
            position: 10 - i,
            archived: i == 0,
        })
        .collect();
    let saved = save_variants(&admin, tent, &edits).await;
    assert_eq!(saved.unwrap(), format!("/admin/products/{tent}/variants?saved=variants"));
    assert_eq!(app.stock(tent).await, 2 + 3 + 4, "S · Sand is archived; the others are on sale");
    let detail: Value = app
        .client
        .post(app.url("/api/product_detail"))
        .form(&[("slug", "ridgeline-2-tent")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let shown: Vec<(String, i64, i64)> = detail["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (v["sku"].as_str().unwrap().to_string(), v["price_cents"].as_i64().unwrap(), v["stock"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("RIDGELINE-2-TENT-M-SLATE".to_string(), 30900, 4),
            ("RIDGELINE-2-TENT-M-SAND".to_string(), 28900, 3),
            ("RIDGELINE-2-TENT-S-SLATE".to_string(), 28900, 2),
        ],
        "the shop's order is the admin's, with the variant's own price"
    );
    let event: Value = sqlx::query_scalar("SELECT payload FROM catalog_outbox ORDER BY id DESC LIMIT 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(event["after"]["variants"].as_array().unwrap().len(), 5, "the event shows every variant");

    // A shopper must choose; the choice is bought through to payment, at its own price.
    assert_eq!(shopper.add_to_cart(tent, 1).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let m_slate = rows[3].id;
    assert_eq!(shopper.add_variant_to_cart(tent, m_slate, 1).await.status(), StatusCode::OK);
    let order = shopper.checked_out().await;
    assert_eq!(shopper.pay(&order, SUCCEEDS, &Uuid::new_v4().to_string()).await.status(), StatusCode::OK);
    assert_eq!(app.order_total(&order).await, 30900);

    // M · Sand sells out and comes back: only the shopper holding M · Sand hears of it, not one holding M · Slate.
    // (Who holds what is read when an event is handled: first let the two events above be handled, each a line
    // in the admins' feed.)
    assert_eq!(app.wait_for_count("SELECT count(*) FROM notifications WHERE kind = 'catalog_change'", 2).await, 2);
    let (holder, other) = (app.another_browser(), app.another_browser());
    holder.sign_in("sand-holder", "/").await;
    other.sign_in("slate-holder", "/").await;
    let m_sand = rows[2];
    assert_eq!(holder.add_variant_to_cart(tent, m_sand.id, 1).await.status(), StatusCode::OK);
    assert_eq!(other.add_variant_to_cart(tent, m_slate, 1).await.status(), StatusCode::OK);
    let row = |stock, stock_was| Row { variant: m_sand, price: "", stock, stock_was, position: 8, archived: false };
    save_variants(&admin, tent, &[row(0, 3)]).await.unwrap();
    save_variants(&admin, tent, &[row(5, 0)]).await.unwrap();
    let told = "SELECT count(*) FROM notifications WHERE kind = 'back_in_stock'";
    assert_eq!(app.wait_for_count(told, 1).await, 1);
    let (message, holds_sand): (String, bool) = sqlx::query_as(
        "SELECT n.message, EXISTS (SELECT 1 FROM orders o JOIN order_lines l ON l.order_id = o.id
                                   WHERE o.user_id = n.user_id AND o.status = 'cart' AND l.variant_id = $1)
         FROM notifications n WHERE n.kind = 'back_in_stock'",
    )
    .bind(m_sand.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((message.as_str(), holds_sand), ("Ridgeline 2 Tent is back in stock in M · Sand.", true));

    // Without options again, the product is sold as its default variant, with the stock it kept.
    let cleared = set_options(&admin, tent, "").await;
    assert!(cleared.unwrap().ends_with("saved=options"));
    assert_eq!(app.stock(tent).await, tent_stock);
    assert_eq!(shopper.add_to_cart(tent, 1).await.status(), StatusCode::OK);
}
