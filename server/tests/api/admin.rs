//! The back office: the admin role checked on the server, product changes with their outbox events, orders,
//! image uploads, and the notifications catalog events become (relay → `catalog.v1` → worker).

use crate::helpers::{shopper::SUCCEEDS, spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

/// The product form's fields, for `admin/save_product`.
pub(crate) fn product_form<'a>(
    id: &'a str,
    name: &'a str,
    price: &'a str,
    stock: &'a str,
    stock_was: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("form[id]", id),
        ("form[name]", name),
        ("form[slug]", ""),
        ("form[description]", "Made for the test."),
        ("form[category_slug]", "trail-camp"),
        ("form[price]", price),
        ("form[stock]", stock),
        ("form[stock_was]", stock_was),
    ]
}

pub(crate) async fn save(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    app.call("admin/save_product", form).await
}

async fn outbox(app: &TestApp) -> Vec<Value> {
    sqlx::query_scalar("SELECT payload FROM catalog_outbox ORDER BY id").fetch_all(&app.pool).await.unwrap()
}

async fn price(app: &TestApp, id: i64) -> i64 {
    sqlx::query_scalar("SELECT price_cents FROM products WHERE id = $1").bind(id).fetch_one(&app.pool).await.unwrap()
}

#[tokio::test]
async fn a_shopper_calling_admin_functions_gets_403_and_nothing_changes() {
    let app = spawn_app().await;
    app.sign_in("shopper", "/").await;
    let (id, price_before, _) = app.product("ridgeline-2-tent").await;
    let id_text = id.to_string();
    let form = product_form(&id_text, "Hijacked", "0.01", "0", "0");
    assert_eq!(save(&app, &form).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.call("admin/archive_product", &[("id", &id_text), ("archived", "true")]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.call("admin/delete_product", &[("id", &id_text)]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.call("admin/orders", &[("status", ""), ("page", "1")]).await.status(), StatusCode::FORBIDDEN);
    let upload =
        reqwest::multipart::Form::new().part("image", reqwest::multipart::Part::bytes(png()).file_name("x.png"));
    let uploaded =
        app.client.post(app.url(&format!("/admin/products/{id}/image"))).multipart(upload).send().await.unwrap();
    assert_eq!(uploaded.status(), StatusCode::FORBIDDEN);

    assert_eq!(price(&app, id).await, price_before);
    let archived: bool = sqlx::query_scalar("SELECT archived_at IS NOT NULL FROM products WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!archived);
    assert!(outbox(&app).await.is_empty(), "no catalog event for a refused change");

    let page = app.client.get(app.url("/admin/products")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN, "the page itself answers 403");
    let html = page.text().await.unwrap();
    assert!(html.contains("Admins only") && !html.contains("ridgeline-2-tent"));
}

#[tokio::test]
async fn signed_out_visitors_are_asked_to_sign_in_for_admin_functions() {
    let app = spawn_app().await;
    assert_eq!(app.call("admin/orders", &[("status", ""), ("page", "1")]).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_product_change_commits_with_its_catalog_event() {
    let app = spawn_app().await;
    app.sign_in("admin", "/").await;
    let created = save(&app, &product_form("0", "Alpine Stove", "49.90", "0", "0")).await;
    assert_eq!(created.status(), StatusCode::OK);
    let id: i64 = created.json().await.unwrap();
    let page = app.client.get(app.url("/product/alpine-stove")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "a new product is on sale at once");

    let id_text = id.to_string();
    assert_eq!(save(&app, &product_form(&id_text, "Alpine Stove", "39.90", "5", "0")).await.status(), StatusCode::OK);
    assert_eq!(price(&app, id).await, 3990);
    assert_eq!(
        app.call("admin/archive_product", &[("id", &id_text), ("archived", "true")]).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.client.get(app.url("/product/alpine-stove")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(app.call("admin/delete_product", &[("id", &id_text)]).await.status(), StatusCode::OK);

    let events = outbox(&app).await;
    let changes: Vec<&str> = events.iter().map(|e| e["change"].as_str().unwrap()).collect();
    assert_eq!(changes, ["created", "updated", "archived", "deleted"]);
    assert!(events.iter().all(|e| e["product_id"] == id && e["schema_version"] == 1));
    assert_eq!(events[1]["before"]["price_cents"], 4990);
    assert_eq!(events[1]["after"]["price_cents"], 3990);
    assert_eq!(events[1]["after"]["stock"], 5);
    assert!(events[3]["after"].is_null());
}

#[tokio::test]
async fn bad_product_input_names_every_problem_and_changes_nothing() {
    let app = spawn_app().await;
    app.sign_in("admin", "/").await;
    let response = save(&app, &product_form("0", "", "free", "-3", "0")).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let message = response.text().await.unwrap();
    assert!(message.contains("a name") && message.contains("a price") && message.contains("a stock"), "{message}");
    let taken = save(&app, &product_form("0", "Ridgeline 2 Tent", "10", "1", "0")).await;
    assert_eq!(taken.status(), StatusCode::UNPROCESSABLE_ENTITY, "the slug is taken");
    assert!(taken.text().await.unwrap().contains("slug"));
    assert!(outbox(&app).await.is_empty());
}

#[tokio::test]
async fn a_stock_edit_keeps_the_units_sold_while_the_admin_was_editing() {
    let app = spawn_app().await;
    app.sign_in("admin", "/").await;
    let (id, _, before) = app.product("ridgeline-2-tent").await;
    // The form showed `before`; meanwhile two units sold.
    sqlx::query("UPDATE variants SET stock = stock - 2 WHERE product_id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let (id_text, new_stock, was) = (id.to_string(), (before + 10).to_string(), before.to_string());
    assert_eq!(
        save(&app, &product_form(&id_text, "Ridgeline 2 Tent", "10", &new_stock, &was)).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.stock(id).await, before + 8, "+10 on top of what is left, not a reset to the old figure");
}

#[tokio::test]
async fn an_ordered_product_cannot_be_deleted_only_archived() {
    let app = spawn_app().await;
    app.pending_order("ridgeline-2-tent", 1).await;
    let admin = app.another_browser();
    admin.sign_in("admin", "/").await;
    let (id, _, _) = app.product("ridgeline-2-tent").await;
    let refused = admin.call("admin/delete_product", &[("id", &id.to_string())]).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("archive it instead"));
    assert_eq!(
        admin.call("admin/archive_product", &[("id", &id.to_string()), ("archived", "true")]).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_admin_filters_orders_ships_a_paid_one_and_cancels_another_with_a_refund() {
    let app = spawn_app().await;
    let first = app.pending_order("ridgeline-2-tent", 1).await;
    assert_eq!(app.pay(&first, SUCCEEDS, "first-payment-key").await.status(), StatusCode::OK);
    let (tent, _, _) = app.product("ridgeline-2-tent").await;
    assert_eq!(app.add_to_cart(tent, 2).await.status(), StatusCode::OK);
    let second = app.checkout().await.json::<String>().await.unwrap();
    assert_eq!(app.pay(&second, SUCCEEDS, "second-payment-key").await.status(), StatusCode::OK);
    let stock_after_sales = app.stock(tent).await;

    let admin = app.another_browser();
    admin.sign_in("admin", "/").await;
    let paid: Vec<Value> = admin.call("admin/orders", &[("status", "paid"), ("page", "1")]).await.json().await.unwrap();
    assert_eq!(paid.len(), 2);
    assert!(paid.iter().all(|o| o["shopper"] == "Sam Shopper"));
    let fulfilled: Vec<Value> =
        admin.call("admin/orders", &[("status", "fulfilled"), ("page", "1")]).await.json().await.unwrap();
    assert!(fulfilled.is_empty());
    assert_eq!(
        admin.call("admin/orders", &[("status", "cart"), ("page", "1")]).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );

    assert_eq!(admin.call("admin/fulfil_order", &[("order_id", &first)]).await.status(), StatusCode::OK);
    assert_eq!(app.order_status(&first).await, "fulfilled");
    let again = admin.call("admin/fulfil_order", &[("order_id", &first)]).await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY, "only paid orders ship");

    assert_eq!(admin.call("admin/cancel_order", &[("order_id", &second)]).await.status(), StatusCode::OK);
    assert_eq!(app.order_status(&second).await, "cancelled");
    assert_eq!(app.refunds(&second).await, 1);
    assert_eq!(app.stock(tent).await, stock_after_sales + 2, "the cancelled units are back on sale");

    let detail: Value = admin.call("admin/order", &[("order_id", &second)]).await.json().await.unwrap();
    assert_eq!(detail["shopper"], "Sam Shopper");
    let notes: Vec<&str> =
        detail["detail"]["history"].as_array().unwrap().iter().filter_map(|h| h["note"].as_str()).collect();
    assert!(notes.iter().any(|n| n.contains("cancelled by Ada Admin") && n.contains("refunded")), "{notes:?}");
}

/// The smallest valid PNG: one transparent pixel.
fn png() -> Vec<u8> {
    const PNG: &str = "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4a40000000049454e44ae426082";
    (0..PNG.len()).step_by(2).map(|i| u8::from_str_radix(&PNG[i..i + 2], 16).unwrap()).collect()
}

async fn upload(app: &TestApp, id: i64, bytes: Vec<u8>, name: &str) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .part("image", reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()));
    app.client.post(app.url(&format!("/admin/products/{id}/image"))).multipart(form).send().await.unwrap()
}

#[tokio::test]
async fn uploaded_images_are_checked_for_type_and_size() {
    let app = spawn_app().await;
    app.sign_in("admin", "/").await;
    let (id, _, _) = app.product("ridgeline-2-tent").await;

    let svg =
        upload(&app, id, b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec(), "evil.png").await;
    assert_eq!(svg.status(), StatusCode::SEE_OTHER);
    assert!(svg.headers()["location"].to_str().unwrap().contains("image_error"), "an SVG is refused whatever its name");
    let huge = [png(), vec![0; 1024 * 1024]].concat();
    let too_big = upload(&app, id, huge, "big.png").await;
    assert!(
        too_big.status() == StatusCode::PAYLOAD_TOO_LARGE
            || too_big.headers().get("location").is_some_and(|l| l.to_str().unwrap().contains("image_error")),
        "over 1 MiB is refused: {}",
        too_big.status()
    );
    let still_svg = app.client.get(app.url("/images/products/ridgeline-2-tent")).send().await.unwrap();
    assert_eq!(still_svg.headers()["content-type"], "image/svg+xml");

    let ok = upload(&app, id, png(), "pixel.png").await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(ok.headers()["location"], format!("/admin/products/{id}?saved=1"));
    let served = app.client.get(app.url("/images/products/ridgeline-2-tent")).send().await.unwrap();
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().to_vec(), png());

    assert_eq!(app.call("admin/reset_product_image", &[("id", &id.to_string())]).await.status(), StatusCode::OK);
    let reset = app.client.get(app.url("/images/products/ridgeline-2-tent")).send().await.unwrap();
    assert_eq!(reset.headers()["content-type"], "image/svg+xml");
}

async fn inbox(app: &TestApp) -> Value {
    app.call("notifications", &[]).await.json().await.unwrap()
}

#[tokio::test]
async fn a_price_drop_notifies_the_shopper_with_it_in_their_cart_and_the_admins() {
    let app = TestApp::builder().with_worker().spawn().await;
    app.sign_in("shopper", "/").await;
    let (tent, price_before, tent_stock) = app.product("ridgeline-2-tent").await;
    assert_eq!(app.add_to_cart(tent, 1).await.status(), StatusCode::OK);
    let bystander = app.another_browser();
    bystander.sign_in("bystander", "/").await;

    let admin = app.another_browser();
    admin.sign_in("admin", "/").await;
    let lower = format!("{}.00", price_before / 100 - 1);
    let (id, stock_text) = (tent.to_string(), tent_stock.to_string());
    assert_eq!(
        save(&admin, &product_form(&id, "Ridgeline 2 Tent", &lower, &stock_text, &stock_text)).await.status(),
        StatusCode::OK
    );

    let delivered = app.wait_for_count("SELECT count(*) FROM notifications WHERE kind = 'price_dropped'", 1).await;
    assert_eq!(delivered, 1, "the notification arrives through the outbox, the broker and the worker");
    let shopper = inbox(&app).await;
    assert_eq!(shopper["unread"], 1);
    let message = shopper["items"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("Price dropped: Ridgeline 2 Tent is now"), "{message}");
    assert_eq!(inbox(&bystander).await["unread"], 0, "only cart holders hear about it");
    assert_eq!(app.wait_for_count("SELECT count(*) FROM notifications WHERE kind = 'catalog_change'", 1).await, 1);
    let feed = inbox(&admin).await;
    assert!(feed["items"][0]["message"].as_str().unwrap().contains("price"), "{feed}");

    let id = shopper["items"][0]["id"].as_i64().unwrap().to_string();
    let left: i64 = app.call("mark_notifications_read", &[("id", &id)]).await.json().await.unwrap();
    assert_eq!(left, 0);
    assert_eq!(inbox(&app).await["items"][0]["read"], true);
    let others: i64 = bystander.call("mark_notifications_read", &[("id", &id)]).await.json().await.unwrap();
    assert_eq!(others, 0);
    let published: i64 = sqlx::query_scalar("SELECT count(*) FROM catalog_outbox WHERE published_at IS NOT NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(published, 1);
}

#[tokio::test]
async fn restocking_and_deleting_tell_cart_holders_back_in_stock_and_no_longer_available() {
    let app = TestApp::builder().with_worker().spawn().await;
    let admin = app.another_browser();
    admin.sign_in("admin", "/").await;
    let created: i64 = save(&admin, &product_form("0", "Summit Lantern", "20", "1", "0")).await.json().await.unwrap();
    app.sign_in("shopper", "/").await;
    assert_eq!(app.add_to_cart(created, 1).await.status(), StatusCode::OK);
    let id = created.to_string();
    // Sold out elsewhere, then restocked by the admin.
    sqlx::query("UPDATE variants SET stock = 0 WHERE product_id = $1").bind(created).execute(&app.pool).await.unwrap();
    assert_eq!(save(&admin, &product_form(&id, "Summit Lantern", "20", "4", "0")).await.status(), StatusCode::OK);
    assert_eq!(app.wait_for_count("SELECT count(*) FROM notifications WHERE kind = 'back_in_stock'", 1).await, 1);
    assert_eq!(admin.call("admin/delete_product", &[("id", &id)]).await.status(), StatusCode::OK);
    assert_eq!(app.wait_for_count("SELECT count(*) FROM notifications WHERE kind = 'unavailable'", 1).await, 1);
    let items = inbox(&app).await;
    let message = items["items"][0]["message"].as_str().unwrap();
    assert_eq!(message, "Summit Lantern is no longer available and was removed from your cart.");
}

/// An app on a private broker (so a test may stop it), with its worker, and an admin signed in; and the tent's id
/// and stock. The worker's relay is seen working first: the tent saved at 95.00 is published (its start needs the
/// broker, and a test that stopped the broker before the worker had started found no worker to relay anything).
async fn admin_on_private_broker() -> (TestApp, i64, String) {
    let app = TestApp::builder().with_private_broker().with_worker().spawn().await;
    app.sign_in("admin", "/").await;
    let (id, _, stock) = app.product("ridgeline-2-tent").await;
    let stock = stock.to_string();
    let saved = save(&app, &product_form(&id.to_string(), "Ridgeline 2 Tent", "95", &stock, &stock)).await;
    assert_eq!(saved.status(), StatusCode::OK);
    assert_eq!(app.wait_for_count(PUBLISHED, 1).await, 1, "the relay is running");
    (app, id, stock)
}

const PUBLISHED: &str = "SELECT count(*) FROM catalog_outbox WHERE published_at IS NOT NULL";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_edits_commit_while_the_broker_is_down_and_are_published_once_after() {
    let (app, id, stock_text) = admin_on_private_broker().await;
    let id_text = id.to_string();

    app.broker().kill();
    for price in ["90", "80", "70"] {
        let saved = save(&app, &product_form(&id_text, "Ridgeline 2 Tent", price, &stock_text, &stock_text)).await;
        assert_eq!(saved.status(), StatusCode::OK, "edits commit with the broker down");
    }
    assert_eq!(price(&app, id).await, 7000);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM catalog_outbox WHERE published_at IS NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(waiting, 3, "the events wait in the outbox");

    app.broker().restart();
    assert_eq!(app.wait_for_count(PUBLISHED, 4).await, 4, "published once the broker is back");
    let topic = format!("{}catalog.v1", app.settings.kafka.topic_prefix);
    let records =
        cartograph::kafka::read_topic(&app.settings.kafka.connection(), &topic, Duration::from_secs(20)).await.unwrap();
    let prices: Vec<i64> = records
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.payload).unwrap()["after"]["price_cents"].as_i64().unwrap())
        .collect();
    assert_eq!(prices, [9500, 9000, 8000, 7000], "each event once, in order");
    assert!(records.iter().all(|r| r.key.as_deref() == Some(id_text.as_str())), "keyed by product id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_events_go_out_after_an_outage_longer_than_the_delivery_timeout() {
    let (app, id, stock_text) = admin_on_private_broker().await;
    let id_text = id.to_string();

    app.broker().kill();
    let saved = save(&app, &product_form(&id_text, "Ridgeline 2 Tent", "85", &stock_text, &stock_text)).await;
    assert_eq!(saved.status(), StatusCode::OK);
    // Long enough for the relay's deliveries to time out (10 s) while the broker is away.
    tokio::time::sleep(Duration::from_secs(14)).await;
    app.broker().restart();
    let published = app.wait_for_count(PUBLISHED, 2).await;
    assert_eq!(published, 2, "the event goes out once the broker is back, without a worker restart");
}

/// The security review's L2: the admin role is read from the database at each request, so a demotion takes
/// effect at once, in a session that began as an admin's.
#[tokio::test]
async fn a_demoted_admin_loses_admin_rights_at_once() {
    let app = spawn_app().await;
    app.sign_in("admin", "/").await;
    let orders = [("status", ""), ("page", "1")];
    assert_eq!(app.call("admin/orders", &orders).await.status(), StatusCode::OK);
    sqlx::query("UPDATE users SET is_admin = false WHERE name = 'Ada Admin'").execute(&app.pool).await.unwrap();
    assert_eq!(app.call("admin/orders", &orders).await.status(), StatusCode::FORBIDDEN, "the session still says admin");
    assert_eq!(app.call("admin_visits", &[("outcome", "")]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(upload(&app, 1, png(), "p.png").await.status(), StatusCode::FORBIDDEN);
    sqlx::query("UPDATE users SET is_admin = true WHERE name = 'Ada Admin'").execute(&app.pool).await.unwrap();
    assert_eq!(app.call("admin/orders", &orders).await.status(), StatusCode::OK, "promoted again, at once");
}

/// The home page of `app`, as a first-time visitor sees it.
async fn home_page(app: &TestApp) -> String {
    app.another_browser().client.get(app.url("/")).send().await.unwrap().text().await.unwrap()
}

/// Each web server keeps the catalog it read (shelves, categories, products) until a `catalog.v1` event says it
/// changed. Two copies on one database and topic: a change made behind the app's back stays off the cached pages
/// (stock is read live all along); an admin's change shows at once on the copy that made it, and on the other
/// copy once its event came through the outbox relay and the broker.
#[tokio::test]
async fn a_catalog_change_made_on_one_web_server_reaches_the_cached_pages_of_another() {
    let first = TestApp::builder().with_worker().spawn().await;
    let second = TestApp::builder().with_test_settings(first.settings.clone()).spawn().await;
    let (id, _, _) = first.product("ridgeline-2-tent").await;
    for copy in [&first, &second] {
        assert!(home_page(copy).await.contains("Ridgeline 2 Tent"));
        let product = copy.client.get(copy.url("/product/ridgeline-2-tent")).send().await.unwrap();
        assert!(product.text().await.unwrap().contains("Ridgeline 2 Tent"));
    }

    // Behind the app's back: no event, so the cached name stays; the stock is read on every page.
    sqlx::query("UPDATE products SET name = 'Renamed In SQL' WHERE id = $1")
        .bind(id)
        .execute(&first.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE variants SET stock = 3 WHERE product_id = $1").bind(id).execute(&first.pool).await.unwrap();
    assert!(home_page(&second).await.contains("Ridgeline 2 Tent"), "the shelves come from the cache");
    let product = second.client.get(second.url("/product/ridgeline-2-tent")).send().await.unwrap();
    let product = product.text().await.unwrap();
    assert!(product.contains("Ridgeline 2 Tent"), "the product comes from the cache");
    assert!(product.contains("Only 3 left"), "its stock is read live: {product}");

    // An admin renames it on the first copy.
    let admin = first.another_browser();
    admin.sign_in("admin", "/").await;
    let (id_text, stock_text) = (id.to_string(), 3.to_string());
    let form = product_form(&id_text, "Ridgeline Renamed", "289.00", &stock_text, &stock_text);
    assert_eq!(save(&admin, &form).await.status(), StatusCode::OK);
    assert!(home_page(&first).await.contains("Ridgeline Renamed"), "the copy that made the change shows it at once");
    let started = std::time::Instant::now();
    while !home_page(&second).await.contains("Ridgeline Renamed") {
        assert!(started.elapsed() < Duration::from_secs(20), "the other copy never heard of the change");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("the second copy showed the change {} ms after it was saved", started.elapsed().as_millis());
    let slug: String =
        sqlx::query_scalar("SELECT slug FROM products WHERE id = $1").bind(id).fetch_one(&first.pool).await.unwrap();
    let page = second.client.get(second.url(&format!("/product/{slug}"))).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("Ridgeline Renamed"));
}
