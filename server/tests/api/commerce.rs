//! Buying: cart, checkout with stock reservation, idempotent payment, expiry, cancellation — against the real
//! database, through HTTP where a shopper would go, and through the domain code for the races.

use crate::helpers::{
    shopper::{DECLINED, PROCESSING_ERROR, SUCCEEDS},
    spawn_app, TestApp, Variant,
};
use app::{
    cart::{
        store::{self as cart_store, Item},
        Owner,
    },
    orders::{payment, store as order_store, CardDetails, ShippingAddress},
};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use uuid::Uuid;

fn address() -> ShippingAddress {
    ShippingAddress::parse("Racer", "1 Track Rd", "", "Paris", "75001", "FR").unwrap()
}

#[tokio::test]
async fn an_order_exists_from_the_first_item_added() {
    let app = spawn_app().await;
    let (id, price, _) = app.product("wool-beanie").await;
    assert_eq!(app.add_to_cart(id, 2).await.status(), 200);
    let (status, total): (String, Option<i64>) =
        sqlx::query_as("SELECT status, total_cents FROM orders").fetch_one(&app.pool).await.unwrap();
    assert_eq!((status.as_str(), total), ("cart", None));
    let cart: Value = app.call("cart", &[]).await.json().await.unwrap();
    assert_eq!(cart["lines"][0]["quantity"], 2);
    assert_eq!(cart["lines"][0]["unit_price_cents"], price);
}

#[tokio::test]
async fn twenty_concurrent_checkouts_for_five_units_reserve_and_sell_exactly_five() {
    let app = spawn_app().await;
    let (id, _, _) = app.product("down-vest").await;
    sqlx::query("UPDATE variants SET stock = 5 WHERE product_id = $1").bind(id).execute(&app.pool).await.unwrap();
    let mut buyers = Vec::new();
    for n in 0..20 {
        let buyer = app.user(&format!("racer-{n}")).await;
        let item = Item { product_id: id, variant_id: None };
        cart_store::add(&app.pool, Owner::User(buyer), Uuid::new_v4(), item, 1).await.unwrap();
        buyers.push(buyer);
    }
    let results = join_all(buyers.iter().map(|buyer| {
        let pool = app.pool.clone();
        let buyer = *buyer;
        let rules = order_store::CommerceSettings { reservation: Duration::from_secs(600), ..Default::default() };
        async move { order_store::checkout(&pool, buyer, &address(), 0, &rules).await.map(|placed| placed.id) }
    }))
    .await;
    let won: Vec<(Uuid, Uuid)> =
        results.iter().zip(&buyers).filter_map(|(r, buyer)| r.as_ref().ok().map(|order| (*order, *buyer))).collect();
    assert_eq!(won.len(), 5, "exactly five checkouts reserve a unit");
    for lost in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(lost.to_string().contains("Down Vest is out of stock"), "{lost}");
    }
    assert_eq!(app.stock(id).await, 0);

    let payments = startup_payments(&app);
    for (order, buyer) in &won {
        let card = CardDetails::parse(SUCCEEDS, "12/40", "123", (2026, 11)).unwrap();
        payment::pay(&app.pool, &payments, *buyer, *order, card, &format!("key-{order}")).await.unwrap();
    }
    let paid: i64 =
        sqlx::query_scalar("SELECT count(*) FROM orders WHERE status = 'paid'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(paid, 5);
    assert_eq!(app.stock(id).await, 0, "stock never goes negative");
}

/// The variants of a product on sale, in the shop's order.
async fn on_sale(app: &TestApp, product: i64) -> Vec<Variant> {
    app.variants(product).await.into_iter().filter(|variant| !variant.archived).collect()
}

#[tokio::test]
async fn twenty_buyers_of_five_units_of_one_size_sell_exactly_five_and_leave_the_other_sizes_alone() {
    let app = spawn_app().await;
    let (id, _, _) = app.product("merino-base-layer").await;
    let before = on_sale(&app, id).await;
    assert_eq!(before.len(), 8, "the demo base layer comes in four sizes and two colours");
    let m_sand = before.iter().find(|variant| variant.options == ["M", "Sand"]).unwrap().id;
    sqlx::query("UPDATE variants SET stock = 5 WHERE id = $1").bind(m_sand).execute(&app.pool).await.unwrap();
    let others: Vec<_> = on_sale(&app, id).await.into_iter().filter(|variant| variant.id != m_sand).collect();
    let mut buyers = Vec::new();
    for n in 0..20 {
        let buyer = app.user(&format!("sized-{n}")).await;
        let item = Item { product_id: id, variant_id: Some(m_sand) };
        cart_store::add(&app.pool, Owner::User(buyer), Uuid::new_v4(), item, 1).await.unwrap();
        buyers.push(buyer);
    }
    let rules = order_store::CommerceSettings { reservation: Duration::from_secs(600), ..Default::default() };
    let results = join_all(buyers.iter().map(|buyer| {
        let (pool, buyer) = (app.pool.clone(), *buyer);
        async move { order_store::checkout(&pool, buyer, &address(), 0, &rules).await.map(|placed| placed.id) }
    }))
    .await;
    let won: Vec<(Uuid, Uuid)> =
        results.iter().zip(&buyers).filter_map(|(r, buyer)| r.as_ref().ok().map(|order| (*order, *buyer))).collect();
    assert_eq!(won.len(), 5, "exactly five checkouts reserve a unit of M · Sand");
    for lost in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(lost.to_string().contains("Merino Base Layer (M · Sand) is out of stock"), "{lost}");
    }
    let after = on_sale(&app, id).await;
    assert_eq!(after.iter().find(|variant| variant.id == m_sand).unwrap().stock, 0);
    let untouched: Vec<_> = after.into_iter().filter(|variant| variant.id != m_sand).collect();
    assert_eq!(untouched, others, "the other sizes and colours keep every unit");
    let sum: i32 = untouched.iter().map(|variant| variant.stock).sum();
    assert_eq!(app.stock(id).await, sum, "the product's stock is its variants' sum");

    // The winners pay; then an ordinary shopper buys another size through the whole path, and it is paid.
    let payments = startup_payments(&app);
    for (order, buyer) in &won {
        let card = CardDetails::parse(SUCCEEDS, "12/40", "123", (2026, 11)).unwrap();
        payment::pay(&app.pool, &payments, *buyer, *order, card, &format!("key-{order}")).await.unwrap();
    }
    app.sign_in("shopper", "/").await;
    let l_slate = untouched.iter().find(|variant| variant.options == ["L", "Slate"]).unwrap().clone();
    let added = app.add_variant_to_cart(id, l_slate.id, 1).await;
    assert_eq!(added.status(), StatusCode::OK);
    let cart: Value = added.json().await.unwrap();
    assert_eq!(cart["lines"][0]["title"], "Merino Base Layer (L · Slate)");
    let order = app.checked_out().await;
    assert_eq!(app.pay(&order, SUCCEEDS, &Uuid::new_v4().to_string()).await.status(), StatusCode::OK);
    let (status, sku): (String, String) = sqlx::query_as(
        "SELECT o.status, v.sku FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN variants v ON v.id = l.variant_id
         WHERE o.id = $1::uuid",
    )
    .bind(&order)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), sku.as_str()), ("paid", "MERINO-BASE-LAYER-L-SLATE"));
    let l_now = on_sale(&app, id).await.into_iter().find(|variant| variant.id == l_slate.id).unwrap().stock;
    assert_eq!(l_now, l_slate.stock - 1);
}

#[tokio::test]
async fn a_product_with_options_needs_a_choice_and_sold_out_choices_are_marked_not_hidden() {
    let app = spawn_app().await;
    let (id, _, _) = app.product("canvas-field-jacket").await;
    let sizes = on_sale(&app, id).await;
    let refused = app.add_to_cart(id, 1).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("Choose the size of Canvas Field Jacket first"));
    let stranger = on_sale(&app, app.product("wool-beanie").await.0).await[0].id;
    let wrong = app.add_variant_to_cart(id, stranger, 1).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY, "another product's variant is refused");

    // Every size sold out: the page says so, every choice is there and none can be chosen; the search's in-stock
    // filter leaves it out.
    sqlx::query("UPDATE variants SET stock = 0 WHERE product_id = $1").bind(id).execute(&app.pool).await.unwrap();
    let html = app.client.get(app.url("/product/canvas-field-jacket")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Out of stock"));
    for size in &sizes {
        let listed = format!(r#"<span class="variant-name">{}</span>"#, size.options[0]);
        assert!(html.contains(&listed), "{} is listed", size.options[0]);
    }
    assert_eq!(html.matches(r#"name="variant_id""#).count(), sizes.len());
    assert_eq!(html.matches(r#"required disabled"#).count(), sizes.len(), "every choice is disabled");
    let sold_out = app.add_variant_to_cart(id, sizes[1].id, 1).await;
    assert_eq!(sold_out.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(sold_out.text().await.unwrap().contains("Canvas Field Jacket (M) is out of stock"));
    let search = app
        .client
        .post(app.url("/api/search_products"))
        .json(&serde_json::json!({ "query": { "q": "canvas field jacket", "in_stock": true } }))
        .send()
        .await
        .unwrap();
    let found: Value = search.json().await.unwrap();
    assert!(found["products"].as_array().unwrap().iter().all(|p| p["slug"] != "canvas-field-jacket"));

    // One size comes back: it can be bought again, through to payment.
    sqlx::query("UPDATE variants SET stock = 2 WHERE id = $1").bind(sizes[1].id).execute(&app.pool).await.unwrap();
    let html = app.client.get(app.url("/product/canvas-field-jacket")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Only 2 left"));
    app.sign_in("shopper", "/").await;
    assert_eq!(app.add_variant_to_cart(id, sizes[1].id, 1).await.status(), StatusCode::OK);
    let order = app.checked_out().await;
    assert_eq!(app.pay(&order, SUCCEEDS, &Uuid::new_v4().to_string()).await.status(), StatusCode::OK);
    assert_eq!(app.stock(id).await, 1);
}

fn startup_payments(app: &TestApp) -> payment::Payments {
    cartograph::orders::payments(&app.settings.payments, app.settings.visits.signing_key(), &app.pool)
}

#[tokio::test]
async fn the_same_payment_submitted_twice_with_one_key_charges_once() {
    let app = spawn_app().await;
    let order = app.pending_order("lumen-400-headlamp", 1).await;
    let key = Uuid::new_v4().to_string();
    let (first, second) = tokio::join!(app.pay(&order, SUCCEEDS, &key), app.pay(&order, SUCCEEDS, &key));
    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 200);
    let (first, second): (Value, Value) = (first.json().await.unwrap(), second.json().await.unwrap());
    assert_eq!(first, second, "the second answer replays the first");
    assert_eq!(first["outcome"], "succeeded");
    let charges: i64 = sqlx::query_scalar("SELECT count(*) FROM payments WHERE order_id = $1::uuid")
        .bind(&order)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(charges, 1);
    assert_eq!(app.order_status(&order).await, "paid");
}

#[tokio::test]
async fn a_paid_order_cannot_be_paid_again_with_another_key() {
    let app = spawn_app().await;
    let order = app.pending_order("lumen-400-headlamp", 1).await;
    assert_eq!(app.pay(&order, SUCCEEDS, "first-attempt-key").await.status(), 200);
    let again = app.pay(&order, SUCCEEDS, "second-attempt-key").await;
    assert_eq!(again.status(), 422);
    assert!(again.text().await.unwrap().contains("cannot be paid"));
}

#[tokio::test]
async fn a_declined_card_leaves_the_order_payable_and_says_why() {
    let app = spawn_app().await;
    let order = app.pending_order("wool-beanie", 1).await;
    let declined: Value = app.pay(&order, DECLINED, "declined-attempt").await.json().await.unwrap();
    assert_eq!(declined["outcome"], "declined");
    assert!(declined["message"].as_str().unwrap().contains("declined"));
    assert_eq!(app.order_status(&order).await, "pending_payment");
    let paid: Value = app.pay(&order, SUCCEEDS, "second-attempt").await.json().await.unwrap();
    assert_eq!(paid["outcome"], "succeeded");
    assert_eq!(app.order_status(&order).await, "paid");
}

#[tokio::test]
async fn a_card_the_gateway_cannot_process_charges_nothing_and_the_order_stays_payable() {
    let app = spawn_app().await;
    let order = app.pending_order("wool-beanie", 1).await;
    let refused: Value = app.pay(&order, PROCESSING_ERROR, "unprocessable-card").await.json().await.unwrap();
    assert_eq!(refused["outcome"], "declined");
    assert!(refused["message"].as_str().unwrap().contains("not charged"), "{refused}");
    assert_eq!(app.order_status(&order).await, "pending_payment");
    let paid: Value = app.pay(&order, SUCCEEDS, "another-card").await.json().await.unwrap();
    assert_eq!(paid["outcome"], "succeeded");
}

#[tokio::test]
async fn an_outage_of_the_gateway_charges_nothing_and_the_same_attempt_can_be_retried() {
    let app = spawn_app().await;
    let order = app.pending_order("wool-beanie", 1).await;
    app.gateway_outage("errors").await;
    let failed = app.pay(&order, SUCCEEDS, "during-an-outage").await;
    assert_eq!(failed.status(), 422);
    assert!(failed.text().await.unwrap().contains("not charged"));
    assert_eq!(app.order_status(&order).await, "pending_payment");
    app.gateway_outage("none").await;
    let retried: Value = app.pay(&order, SUCCEEDS, "during-an-outage").await.json().await.unwrap();
    assert_eq!(retried["outcome"], "succeeded", "the key was not used up by the outage");
    assert_eq!(app.count("SELECT count(*) FROM test_gateway_charges").await, 1);
}

#[tokio::test]
async fn an_expired_reservation_returns_its_stock_and_cannot_be_paid() {
    let app = spawn_app().await;
    let (id, _, before) = app.product("oak-cutting-board").await;
    let order = app.pending_order("oak-cutting-board", 3).await;
    assert_eq!(app.stock(id).await, before - 3);
    sqlx::query("UPDATE orders SET reserved_until = now() - interval '1 second' WHERE id = $1::uuid")
        .bind(&order)
        .execute(&app.pool)
        .await
        .unwrap();
    let late = app.pay(&order, SUCCEEDS, "too-late-attempt").await;
    assert_eq!(late.status(), 422);
    assert_eq!(order_store::expire_reservations(&app.pool, 100).await.unwrap(), 1);
    assert_eq!(app.stock(id).await, before);
    assert_eq!(app.order_status(&order).await, "expired");
}

#[tokio::test]
async fn cancelling_a_paid_order_refunds_it_and_returns_the_stock() {
    let app = spawn_app().await;
    let (id, _, before) = app.product("linen-tea-towels").await;
    let order = app.pending_order("linen-tea-towels", 2).await;
    assert_eq!(app.pay(&order, SUCCEEDS, "pay-then-cancel").await.status(), 200);
    let cancelled = app.call("cancel_order", &[("order_id", &order)]).await;
    assert_eq!(cancelled.status(), 200);
    assert_eq!(app.order_status(&order).await, "cancelled");
    assert_eq!(app.stock(id).await, before);
    assert_eq!(app.refunds(&order).await, 1);
    let history: Vec<String> =
        sqlx::query_scalar("SELECT to_status FROM order_status_history WHERE order_id = $1::uuid ORDER BY id")
            .bind(&order)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(history, ["cart", "pending_payment", "paid", "cancelled"]);
}

#[tokio::test]
async fn the_database_refuses_an_illegal_transition() {
    let app = spawn_app().await;
    let (id, _, _) = app.product("wool-beanie").await;
    app.add_to_cart(id, 1).await;
    let error = sqlx::query("UPDATE orders SET status = 'paid'").execute(&app.pool).await.unwrap_err();
    assert!(error.to_string().contains("illegal order transition cart -> paid"), "{error}");
}

#[tokio::test]
async fn the_signed_out_cart_merges_into_the_account_without_losing_or_doubling_lines() {
    let app = spawn_app().await;
    let (beanie, _, _) = app.product("wool-beanie").await;
    let (tee, _, _) = app.product("organic-cotton-tee").await;
    // The account already holds one beanie from an earlier visit.
    app.sign_in("shopper", "/").await;
    app.add_to_cart(beanie, 1).await;
    app.client.post(app.url("/auth/logout")).send().await.unwrap();
    // Signed out, the same browser adds two beanies and a tee.
    app.add_to_cart(beanie, 2).await;
    app.add_to_cart(tee, 1).await;
    app.sign_in("shopper", "/").await;
    let cart: Value = app.call("cart", &[]).await.json().await.unwrap();
    let lines: Vec<(i64, i64)> = cart["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["product_id"].as_i64().unwrap(), l["quantity"].as_i64().unwrap()))
        .collect();
    assert_eq!(lines.len(), 2, "{cart}");
    assert!(lines.contains(&(beanie, 3)) && lines.contains(&(tee, 1)), "{cart}");
    let carts: i64 =
        sqlx::query_scalar("SELECT count(*) FROM orders WHERE status = 'cart'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(carts, 1, "the anonymous cart is gone");
}

#[tokio::test]
async fn bad_cart_input_gets_a_clear_message_and_changes_nothing() {
    let app = spawn_app().await;
    let (compass, _, _) = app.product("pathfinder-compass").await;
    let (tent, _, stock_before) = app.product("ridgeline-2-tent").await;
    for (product_id, quantity, expected) in [
        (tent.to_string(), "-1".to_string(), "quantity from 1 to 99"),
        (tent.to_string(), "1000".to_string(), "quantity from 1 to 99"),
        ("999999".to_string(), "1".to_string(), "not on sale"),
        (compass.to_string(), "1".to_string(), "out of stock"),
        (tent.to_string(), (stock_before + 1).to_string(), "Only 7 of Ridgeline 2 Tent left"),
    ] {
        let response = app.call("cart_add", &[("product_id", &product_id), ("quantity", &quantity)]).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = response.text().await.unwrap();
        assert!(body.contains(expected), "{product_id} × {quantity}: {body}");
    }
    let garbage = app.call("cart_add", &[("product_id", "'; DROP TABLE products; --"), ("quantity", "1")]).await;
    assert!(garbage.status().is_client_error(), "{}", garbage.status());
    let lines: i64 = sqlx::query_scalar("SELECT count(*) FROM order_lines").fetch_one(&app.pool).await.unwrap();
    assert_eq!(lines, 0);
}

#[tokio::test]
async fn checkout_needs_sign_in_and_a_valid_address_and_uses_the_catalog_price() {
    let app = spawn_app().await;
    let (id, price, _) = app.product("chef-s-knife-20-cm").await;
    app.add_to_cart(id, 2).await;
    assert_eq!(app.checkout().await.status(), StatusCode::UNAUTHORIZED);
    app.sign_in("shopper", "/").await;
    let bad = app
        .call(
            "checkout_address",
            &[("name", ""), ("line1", "x"), ("line2", ""), ("city", "x"), ("postcode", "1"), ("country", "DE")],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.unwrap().contains("your name"));
    // A tampered price in the request is ignored: totals come from the catalog.
    let order: String = app.checkout_with(&[("total_cents", "1")]).await.json().await.unwrap();
    assert_eq!(app.order_total(&order).await, price * 2);
}

#[tokio::test]
async fn another_shoppers_order_is_not_found() {
    let app = spawn_app().await;
    let order = app.pending_order("wool-beanie", 1).await;
    let stranger = app.another_browser();
    stranger.sign_in("someone-else", "/").await;
    assert_eq!(stranger.call("order_detail", &[("order_id", &order)]).await.status(), 404);
    assert_eq!(stranger.pay(&order, SUCCEEDS, "stranger-attempt").await.status(), 404);
    assert_eq!(stranger.call("cancel_order", &[("order_id", &order)]).await.status(), 404);
    let mine = app.call("order_detail", &[("order_id", &order)]).await;
    assert_eq!(mine.status(), 200);
    let detail: Value = mine.json().await.unwrap();
    assert_eq!(detail["summary"]["status"], "pending_payment");
    assert_eq!(detail["history"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_cross_site_post_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let (id, _, _) = app.product("wool-beanie").await;
    let form = [("product_id", id.to_string()), ("quantity", "1".to_string())];
    let forged = app
        .client
        .post(app.url("/api/cart_add"))
        .header("origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let lines: i64 = sqlx::query_scalar("SELECT count(*) FROM order_lines").fetch_one(&app.pool).await.unwrap();
    assert_eq!(lines, 0);
    let same_site = app
        .client
        .post(app.url("/api/cart_add"))
        .header("origin", app.address.clone())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(same_site.status(), StatusCode::OK);
    let logout =
        app.client.post(app.url("/auth/logout")).header("origin", "https://evil.example").send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::FORBIDDEN, "not even a forced sign-out");
}

#[tokio::test]
async fn a_visits_first_page_reads_no_cart() {
    let app = spawn_app().await;
    let (tent, _, _) = app.product("ridgeline-2-tent").await;
    // With the cart's lines out of reach, any cart query fails, and the cart page answers with an error.
    sqlx::query("ALTER TABLE order_lines RENAME TO order_lines_away").execute(&app.pool).await.unwrap();
    let first = app.client.get(app.url("/cart")).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK, "a visit made for this request has no cart to read");
    assert!(first.text().await.unwrap().contains("Your cart is empty"));
    let again = app.client.get(app.url("/cart")).send().await.unwrap();
    assert!(again.status().is_server_error(), "the visit's next page reads its cart: {}", again.status());
    sqlx::query("ALTER TABLE order_lines_away RENAME TO order_lines").execute(&app.pool).await.unwrap();

    // And the shop works as before: the same visit puts the tent in its cart and sees it there.
    assert_eq!(app.add_to_cart(tent, 1).await.status(), StatusCode::OK);
    let cart = app.client.get(app.url("/cart")).send().await.unwrap().text().await.unwrap();
    assert!(cart.contains("Ridgeline 2 Tent") && cart.contains("cart-total"), "{cart}");
}

/// The checkout, payment and cancel forms are islands; without JavaScript they are plain forms that post to their
/// server functions, which answer a form (a browser asking for HTML) with a redirect back to the page it came from.
/// The payment form carries its idempotency key in the HTML itself, so a browser without scripts can pay.
#[tokio::test]
async fn without_javascript_the_order_forms_post_to_their_server_functions_and_a_payment_goes_through() {
    let app = spawn_app().await;
    app.sign_in("shopper", "/").await;
    let (pen, _, _) = app.product("brass-fountain-pen").await;
    assert_eq!(app.add_to_cart(pen, 1).await.status(), StatusCode::OK);
    let checkout = app.client.get(app.url("/checkout")).send().await.unwrap().text().await.unwrap();
    assert!(checkout.contains(r#"<form method="post" action="/api/checkout_address""#), "{checkout}");
    assert_eq!(app.give_address("DE").await.status(), StatusCode::OK);
    let delivery = app.client.get(app.url("/checkout/delivery")).send().await.unwrap().text().await.unwrap();
    assert!(delivery.contains(r#"<form method="post" action="/api/checkout""#), "{delivery}");
    let order = app.checkout().await.json::<String>().await.unwrap();
    let order_url = app.url(&format!("/orders/{order}"));
    let page = app.client.get(&order_url).send().await.unwrap().text().await.unwrap();
    for action in ["/api/pay", "/api/cancel_order"] {
        assert!(page.contains(&format!(r#"<form method="post" action="{action}""#)), "{action} in {page}");
    }
    let key = page
        .split(r#"name="idempotency_key" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the payment form names its idempotency key in the HTML");
    assert_eq!(key.len(), 36, "a key, not an empty field: {key:?}");

    // As a browser without scripts submits it: form-encoded, asking for HTML, from the order page.
    let paid = app
        .client
        .post(app.url("/api/pay"))
        .header("accept", "text/html,application/xhtml+xml")
        .header("referer", &order_url)
        .form(&[
            ("order_id", order.as_str()),
            ("idempotency_key", key),
            ("card_number", SUCCEEDS),
            ("expiry", "12/40"),
            ("cvc", "123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), StatusCode::FOUND);
    // Leptos strips any earlier error from the page's query, which leaves an empty one.
    let location = paid.headers()["location"].to_str().unwrap();
    assert_eq!(location.trim_end_matches('?'), order_url, "back to the order page");
    assert_eq!(app.order_status(&order).await, "paid");
    let page = app.client.get(&order_url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"data-testid="confirmation""#), "the order page says it is paid");
}
