//! Promotions and coupon codes against the real app: an admin's code taking its discount off the cart, the checkout
//! and the order (counted when paid, given back when cancelled), every refusal with its reason, automatic promotions
//! stacking with a code, the race for a code's last use, a per-customer limit across two sessions, and totals a
//! browser cannot tamper with.

use crate::helpers::{shopper::SUCCEEDS, TestApp};
use app::{
    cart::{
        store::{self as cart_store, Item},
        Owner,
    },
    orders::{store as order_store, ShippingAddress},
    promotions::{self, PromotionForm},
};
use futures::future::join_all;
use serde_json::Value;
use std::time::Duration;
use uuid::Uuid;

/// Creates a promotion through the back office's rules (the form's parser, then the store).
async fn promotion(app: &TestApp, form: PromotionForm) -> i64 {
    let promotion = form.parse("EUR").unwrap();
    promotions::store::save(&app.pool, &promotion).await.unwrap()
}

fn form(name: &str, code: &str, action: &str, amount: &str) -> PromotionForm {
    PromotionForm {
        name: name.into(),
        code: code.into(),
        action: action.into(),
        amount: amount.into(),
        ..PromotionForm::default()
    }
}

/// (used, held) of a promotion.
async fn uses(app: &TestApp, id: i64) -> (i64, i64) {
    let managed = promotions::store::get(&app.pool, id).await.unwrap().unwrap();
    (managed.used, managed.held)
}

fn address() -> ShippingAddress {
    ShippingAddress::parse("Saver", "1 Coupon Rd", "", "Berlin", "10115", "DE").unwrap()
}

fn rules() -> order_store::CommerceSettings {
    order_store::CommerceSettings { reservation: Duration::from_secs(600), ..Default::default() }
}

async fn apply(app: &TestApp, code: &str) -> Result<String, String> {
    app.post_form("cart_coupon", "/cart", &[("code".into(), code.into())]).await
}

/// The cart's foot as the browser gets it (the server's markup).
async fn foot(app: &TestApp) -> String {
    let cart: Value = app.call("cart", &[]).await.json().await.unwrap();
    cart["foot"].as_str().unwrap().to_string()
}

/// The coupon events recorded for a visit: (type, code, reason).
async fn coupon_events(app: &TestApp, visit: &str) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT payload->>'type', payload->>'code', payload->>'reason' FROM clickstream_outbox
         WHERE visit_id = $1::uuid AND payload->>'type' LIKE 'coupon_%' ORDER BY id",
    )
    .bind(visit)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_code_an_admin_creates_comes_off_the_cart_the_checkout_and_the_order_and_counts_once_paid() {
    let app = TestApp::builder().spawn().await;
    let admin = app.another_browser();
    admin.sign_in("admin", "/").await;
    let fields = [
        ("id", "0"),
        ("name", "Spring"),
        ("code", "spring15"),
        ("action", "percent_order"),
        ("amount", "15"),
        ("min_subtotal", "50"),
    ];
    let form: Vec<(String, String)> = fields.iter().map(|(k, v)| (format!("form[{k}]"), v.to_string())).collect();
    // A shopper may not; the admin may.
    let shopper = app.another_browser();
    let visit = shopper.visit().await;
    assert!(shopper
        .post_form("admin_save_promotion", "/admin/promotions/new", &form)
        .await
        .unwrap_err()
        .contains("Unauthorized"));
    let saved = admin.post_form("admin_save_promotion", "/admin/promotions/new", &form).await;
    assert_eq!(saved.as_deref(), Ok("/admin/promotions?saved=1"));
    let id: i64 =
        sqlx::query_scalar("SELECT id FROM promotions WHERE code = 'SPRING15'").fetch_one(&app.pool).await.unwrap();
    let list = admin.client.get(app.url("/admin/promotions")).send().await.unwrap().text().await.unwrap();
    assert!(list.contains("SPRING15") && list.contains("15 % off the order"), "{list}");
    // Products and categories that do not exist are named.
    let mut unknown = form.clone();
    unknown.push(("form[products]".into(), "999999".into()));
    unknown.push(("form[categories]".into(), "kitchen, moon-rocks".into()));
    let refused = admin.post_form("admin_save_promotion", "/admin/promotions/new", &unknown).await.unwrap_err();
    assert!(refused.contains("There is no product 999999, no category “moon-rocks”"), "{refused}");
    // The same code again is refused by name.
    let again = admin.post_form("admin_save_promotion", "/admin/promotions/new", &form).await.unwrap_err();
    assert!(again.contains("Another promotion has the code SPRING15"), "{again}");

    let (bottle, price, _) = app.product("glacier-insulated-bottle").await;
    assert_eq!(price, 2900);
    assert_eq!(shopper.add_to_cart(bottle, 1).await.status(), 200);
    let short = apply(&shopper, " spring15 ").await.unwrap_err();
    assert!(short.contains("The code SPRING15 needs a subtotal of €50.00 or more"), "{short}");
    assert!(!foot(&shopper).await.contains("SPRING15"), "a refused code is not kept");
    assert_eq!(shopper.add_to_cart(bottle, 1).await.status(), 200);
    assert_eq!(apply(&shopper, "Spring15").await.as_deref(), Ok("/cart"));
    // 15 % of €58.00 = €8.70.
    let foot = foot(&shopper).await;
    assert!(foot.contains("Spring (SPRING15)") && foot.contains("−€8.70") && foot.contains("€49.30"), "{foot}");
    let page = shopper.client.get(app.url("/cart")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("−€8.70") && page.contains("Remove the code"), "the cart page shows it");

    // Signing in keeps the code; checkout charges the discounted total and records the discount.
    shopper.sign_in("spring-shopper", "/cart").await;
    let checkout = shopper.client.get(app.url("/checkout")).send().await.unwrap().text().await.unwrap();
    assert!(checkout.contains("−€8.70") && checkout.contains("€49.30"), "the checkout shows it");
    let order = shopper.checked_out().await;
    assert_eq!(app.order_totals(&order).await, (Some(5800), 4930));
    assert_eq!(uses(&app, id).await, (0, 1), "an order awaiting payment holds a use");
    assert_eq!(shopper.pay(&order, SUCCEEDS, &Uuid::new_v4().to_string()).await.status(), 200);
    let charged = app.payment_amount(&order, "succeeded").await;
    assert_eq!(charged, 4930);
    assert_eq!(uses(&app, id).await, (1, 0), "a paid order has used it");
    let receipt = shopper.client.get(app.url(&format!("/orders/{order}"))).send().await.unwrap().text().await.unwrap();
    assert!(receipt.contains("Spring (SPRING15)") && receipt.contains("−€8.70") && receipt.contains("€58.00"));

    // Cancelled: refunded what was charged, and the use is given back.
    assert_eq!(shopper.call("cancel_order", &[("order_id", &order)]).await.status(), 200);
    assert_eq!(uses(&app, id).await, (0, 0));
    let refunded = app.payment_amount(&order, "refunded").await;
    assert_eq!(refunded, 4930);

    let events = coupon_events(&app, &visit).await;
    assert_eq!(
        events,
        [
            ("coupon_rejected".into(), "SPRING15".into(), Some("min_subtotal".into())),
            ("coupon_applied".into(), "SPRING15".into(), None),
        ]
    );
}

#[tokio::test]
async fn every_refusal_says_why_and_hostile_codes_change_nothing() {
    let app = TestApp::builder().spawn().await;
    let day = chrono::Duration::days(1);
    let today = chrono::Utc::now().date_naive();
    let date = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let (tent, _, _) = app.product("ridgeline-2-tent").await;
    let (skillet, _, _) = app.product("cast-iron-skillet-26-cm").await;
    promotion(&app, PromotionForm { starts: date(today + day), ..form("Later", "LATER", "percent_order", "5") }).await;
    promotion(&app, PromotionForm { ends: date(today - day), ..form("Gone", "GONE", "percent_order", "5") }).await;
    promotion(&app, PromotionForm { archived: Some("on".into()), ..form("Ended", "ENDED", "percent_order", "5") })
        .await;
    promotion(&app, PromotionForm { categories: "audio".into(), ..form("Audio", "AUDIO10", "percent_lines", "10") })
        .await;
    promotion(&app, PromotionForm { products: tent.to_string(), ..form("Tent", "TENT20", "fixed_order", "20") }).await;
    let first = promotion(
        &app,
        PromotionForm { first_order: Some("on".into()), ..form("First", "FIRST", "percent_order", "10") },
    )
    .await;
    let limited =
        promotion(&app, PromotionForm { usage_limit: "1".into(), ..form("Once", "ONCE", "fixed_order", "1") }).await;

    let shopper = app.another_browser();
    let visit = shopper.visit().await;
    let empty = apply(&shopper, "TENT20").await.unwrap_err();
    assert!(empty.contains("Your cart is empty"), "{empty}");
    assert_eq!(shopper.add_to_cart(skillet, 1).await.status(), 200);
    for (code, words) in [
        ("NOPE", "There is no code NOPE"),
        ("later", "The code LATER cannot be used yet"),
        ("GONE", "The code GONE has ended"),
        ("ended", "The code ENDED has ended"),
        ("AUDIO10", "The code AUDIO10 is for products that are not in your cart"),
        ("TENT20", "The code TENT20 is for products that are not in your cart"),
    ] {
        let refused = apply(&shopper, code).await.unwrap_err();
        assert!(refused.contains(words), "{code}: {refused}");
    }
    // Hostile input: refused as no code, and nothing kept.
    let long = "A".repeat(10_000);
    for hostile in ["' OR 1=1 --", "<script>alert(1)</script>", "ÄPFEL", "\u{0}NUL", long.as_str(), ""] {
        let refused = apply(&shopper, hostile).await.unwrap_err();
        assert!(refused.contains("There is no code"), "{refused}");
    }
    let reasons: Vec<Option<String>> =
        coupon_events(&app, &visit).await.into_iter().map(|(_, _, reason)| reason).collect();
    let expected = ["unknown", "not_started", "ended", "ended", "no_matching_items", "no_matching_items"];
    assert_eq!(reasons[..6], expected.map(|reason| Some(reason.to_string())));
    let cart_foot = foot(&shopper).await;
    assert!(!cart_foot.contains("discount") && !cart_foot.contains("<script>"), "{cart_foot}");

    // A code used up: refused with its reason once a paid order used it.
    let buyer = app.user("once-buyer").await;
    cart_store::add(&app.pool, Owner::User(buyer), Uuid::new_v4(), Item { product_id: skillet, variant_id: None }, 1)
        .await
        .unwrap();
    assert_eq!(cart_store::apply_code(&app.pool, Owner::User(buyer), "once").await.unwrap(), Ok("ONCE".into()));
    order_store::checkout(&app.pool, buyer, &address(), 0, &rules()).await.unwrap();
    assert_eq!(uses(&app, limited).await, (0, 1));
    let used_up = apply(&shopper, "ONCE").await.unwrap_err();
    assert!(used_up.contains("The code ONCE has been used as often as it may"), "{used_up}");

    // A first-order code, for a shopper with an order: refused; for a new one it applies.
    let (returning, words) = (Owner::User(buyer), "The code FIRST is for a first order");
    cart_store::add(&app.pool, returning, Uuid::new_v4(), Item { product_id: skillet, variant_id: None }, 1)
        .await
        .unwrap();
    let (refusal, message) = cart_store::apply_code(&app.pool, returning, "first").await.unwrap().unwrap_err();
    assert_eq!((refusal.reason(), message.as_str()), ("not_first_order", &*format!("{words}.")));
    assert_eq!(uses(&app, first).await, (0, 0));

    // After all that, an ordinary shopper's code applies and its order is paid at the discounted total.
    assert_eq!(apply(&shopper, "first").await.as_deref(), Ok("/cart"));
    shopper.sign_in("first-timer", "/cart").await;
    let order = shopper.checked_out().await;
    assert_eq!(shopper.pay(&order, SUCCEEDS, &Uuid::new_v4().to_string()).await.status(), 200);
    assert_eq!(app.order_total(&order).await, 4900 - 490);
    assert_eq!(uses(&app, first).await, (1, 0));
}

#[tokio::test]
async fn automatic_promotions_stack_with_the_code_in_the_documented_order() {
    let app = TestApp::builder().spawn().await;
    // Created in this order: €10 off orders over €100 (automatic), 20 % off kitchen lines (automatic), and a code
    // for 10 % off the order.
    let ten =
        promotion(&app, PromotionForm { min_subtotal: "100".into(), ..form("Ten off", "", "fixed_order", "10") }).await;
    let kitchen = promotion(
        &app,
        PromotionForm { categories: "kitchen".into(), ..form("Kitchen week", "", "percent_lines", "20") },
    )
    .await;
    let code = promotion(&app, form("Newsletter", "NEWS10", "percent_order", "10")).await;
    let buyer = app.user("stacker").await;
    let owner = Owner::User(buyer);
    let (skillet, _, _) = app.product("cast-iron-skillet-26-cm").await; // €49.00, kitchen
    let (lamp, _, _) = app.product("ceramic-table-lamp").await; // €129.00, home
    for product_id in [skillet, lamp] {
        cart_store::add(&app.pool, owner, Uuid::new_v4(), Item { product_id, variant_id: None }, 1).await.unwrap();
    }
    assert_eq!(cart_store::apply_code(&app.pool, owner, "news10").await.unwrap(), Ok("NEWS10".into()));
    let cart = cart_store::load(&app.pool, owner).await.unwrap();
    // Lines first: 20 % of €49.00 = €9.80 (€168.20 left); then the order ones by age: €10 (€158.20), then 10 % of
    // that = €15.82: €142.38. The €100 minimum is checked against the subtotal, €178.00.
    let taken: Vec<(i64, i64)> = cart.pricing.discounts.iter().map(|d| (d.promotion_id, d.amount_cents)).collect();
    assert_eq!(taken, [(kitchen, 980), (ten, 1000), (code, 1582)]);
    assert_eq!((cart.pricing.subtotal_cents, cart.pricing.total_cents), (17800, 14238));
    let order = order_store::checkout(&app.pool, buyer, &address(), 0, &rules()).await.unwrap().id;
    let recorded: Vec<(i64, i16, i64)> = sqlx::query_as(
        "SELECT promotion_id, position, amount_cents FROM order_discounts WHERE order_id = $1 ORDER BY position",
    )
    .bind(order)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(recorded, [(kitchen, 0, 980), (ten, 1, 1000), (code, 2, 1582)]);
    assert_eq!(app.order_total(order).await, 14238);
    // A later change to a promotion never alters the placed order.
    sqlx::query("UPDATE promotions SET amount = 90 WHERE id = $1").bind(kitchen).execute(&app.pool).await.unwrap();
    let detail = order_store::detail(&app.pool, Some(buyer), order).await.unwrap().unwrap();
    assert_eq!(detail.summary.total_cents, 14238);
    assert_eq!(detail.discounts.iter().map(|d| d.amount_cents).sum::<i64>(), 980 + 1000 + 1582);
}

#[tokio::test]
async fn two_shoppers_racing_for_the_last_use_of_a_code_exactly_one_gets_it_and_a_cancellation_gives_it_back() {
    let app = TestApp::builder().spawn().await;
    let last = promotion(
        &app,
        PromotionForm { usage_limit: "1".into(), ..form("Last one", "LASTONE", "percent_order", "50") },
    )
    .await;
    let (bottle, _, _) = app.product("glacier-insulated-bottle").await;
    let mut buyers = Vec::new();
    for n in 0..10 {
        let buyer = app.user(&format!("racer-{n}")).await;
        let owner = Owner::User(buyer);
        cart_store::add(&app.pool, owner, Uuid::new_v4(), Item { product_id: bottle, variant_id: None }, 1)
            .await
            .unwrap();
        assert_eq!(cart_store::apply_code(&app.pool, owner, "LASTONE").await.unwrap(), Ok("LASTONE".into()));
        buyers.push(buyer);
    }
    let results = join_all(buyers.iter().map(|buyer| {
        let pool = app.pool.clone();
        let buyer = *buyer;
        async move { order_store::checkout(&pool, buyer, &address(), 0, &rules()).await.map(|placed| placed.id) }
    }))
    .await;
    let won: Vec<Uuid> = results.iter().filter_map(|result| result.as_ref().ok().copied()).collect();
    assert_eq!(won.len(), 1, "exactly one checkout gets the last use");
    for lost in results.iter().filter_map(|result| result.as_ref().err()) {
        let message = lost.to_string();
        assert!(message.contains("The code LASTONE has been used as often as it may"), "{message}");
        assert!(message.contains("Remove the code"), "{message}");
    }
    assert_eq!(uses(&app, last).await, (0, 1));
    assert_eq!(app.order_total(won[0]).await, 1450);

    // The winner's reservation lapses: the use comes back, and one of the others checks out with it.
    sqlx::query("UPDATE orders SET reserved_until = now() - interval '1 second' WHERE id = $1")
        .bind(won[0])
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(order_store::expire_reservations(&app.pool, 100).await.unwrap(), 1);
    assert_eq!(uses(&app, last).await, (0, 0));
    let losers: Vec<Uuid> =
        buyers.iter().zip(&results).filter(|(_, result)| result.is_err()).map(|(buyer, _)| *buyer).collect();
    let order = order_store::checkout(&app.pool, losers[0], &address(), 0, &rules()).await.unwrap().id;
    assert_eq!(app.order_total(order).await, 1450);
    // The next is refused again; with the code removed, it buys at full price.
    let refused = order_store::checkout(&app.pool, losers[1], &address(), 0, &rules()).await.unwrap_err();
    assert!(refused.to_string().contains("has been used as often as it may"), "{refused}");
    cart_store::remove_code(&app.pool, Owner::User(losers[1])).await.unwrap();
    let order = order_store::checkout(&app.pool, losers[1], &address(), 0, &rules()).await.unwrap().id;
    assert_eq!(app.order_total(order).await, 2900);
}

#[tokio::test]
async fn a_per_customer_limit_holds_across_two_sessions() {
    let app = TestApp::builder().spawn().await;
    let once = promotion(
        &app,
        PromotionForm { per_customer_limit: "1".into(), ..form("Once each", "ONCEEACH", "fixed_order", "5") },
    )
    .await;
    let (candle, _, _) = app.product("scented-soy-candle").await;
    // One shopper on two browsers: the laptop fills the account's cart, the phone enters the code…
    let laptop = app.another_browser();
    laptop.sign_in("twice", "/").await;
    let phone = app.another_browser();
    phone.sign_in("twice", "/").await;
    assert_eq!(laptop.add_to_cart(candle, 2).await.status(), 200);
    assert_eq!(apply(&phone, "onceeach").await.as_deref(), Ok("/cart"));
    // …and both check out at once: the account's checkouts queue, and one order holds the code.
    let (first, second) = tokio::join!(laptop.checkout(), phone.checkout());
    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 422]);
    assert_eq!(uses(&app, once).await, (0, 1));
    let order: String = sqlx::query_scalar(
        "SELECT o.id::text FROM orders o JOIN order_discounts d ON d.order_id = o.id WHERE d.promotion_id = $1",
    )
    .bind(once)
    .fetch_one(&app.pool)
    .await
    .unwrap();

    // While that order holds it, the phone's new cart cannot have it; cancelled, it is the shopper's again.
    assert_eq!(phone.add_to_cart(candle, 1).await.status(), 200);
    let refused = apply(&phone, "ONCEEACH").await.unwrap_err();
    assert!(refused.contains("You have already used the code ONCEEACH"), "{refused}");
    assert_eq!(laptop.call("cancel_order", &[("order_id", &order)]).await.status(), 200);
    assert_eq!(apply(&phone, "ONCEEACH").await.as_deref(), Ok("/cart"));
    let order = phone.checked_out().await;
    assert_eq!(phone.pay(&order, SUCCEEDS, &Uuid::new_v4().to_string()).await.status(), 200);
    assert_eq!(uses(&app, once).await, (1, 0));
    let order: Uuid = order.parse().unwrap();
    assert_eq!(app.order_total(order).await, 2400 - 500);

    // Paid: refused on the laptop too, and the ordinary purchase goes through at full price.
    assert_eq!(laptop.add_to_cart(candle, 1).await.status(), 200);
    let refused = apply(&laptop, "onceeach").await.unwrap_err();
    assert!(refused.contains("You have already used the code ONCEEACH"), "{refused}");
    let order: Uuid = laptop.checked_out().await.parse().unwrap();
    assert_eq!(laptop.pay(&order.to_string(), SUCCEEDS, &Uuid::new_v4().to_string()).await.status(), 200);
    assert_eq!(app.order_total(order).await, 2400);
}

#[tokio::test]
async fn totals_a_browser_sends_are_ignored() {
    let app = TestApp::builder().spawn().await;
    promotion(&app, form("Five off", "FIVE", "fixed_order", "5")).await;
    let shopper = app.another_browser();
    shopper.sign_in("tamperer", "/").await;
    let (bottle, _, _) = app.product("glacier-insulated-bottle").await;
    // Prices, totals and discounts slipped into the forms are not arguments: the server prices from the catalog.
    let add = shopper
        .call(
            "cart_add",
            &[("product_id", &bottle.to_string()), ("quantity", "2"), ("unit_price_cents", "1"), ("total_cents", "1")],
        )
        .await;
    assert_eq!(add.status(), 200);
    let applied = shopper
        .post_form("cart_coupon", "/cart", &[("code".into(), "five".into()), ("amount_cents".into(), "5800".into())])
        .await;
    assert_eq!(applied.as_deref(), Ok("/cart"));
    let response = shopper.checkout_with(&[("total_cents", "1"), ("discount_cents", "5800")]).await;
    assert_eq!(response.status(), 200);
    let order: String = response.json().await.unwrap();
    assert_eq!(app.order_totals(&order).await, (Some(5800), 5300));
    // The database refuses a negative total outright.
    let negative =
        sqlx::query("UPDATE orders SET total_cents = -1 WHERE id = $1::uuid").bind(&order).execute(&app.pool).await;
    assert!(negative.is_err());
    assert_eq!(shopper.pay(&order, SUCCEEDS, &Uuid::new_v4().to_string()).await.status(), 200);
    let charged = app.payment_amount(&order, "succeeded").await;
    assert_eq!(charged, 5300);
}
