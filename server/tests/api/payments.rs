//! Payments under abuse: forced gateway errors, card testing, hoarding, a reload during a charge, a crash between
//! the gateway's answer and our record of it, a refund whose answer is lost. Each case ends with an ordinary
//! payment (or refund) going through.

use crate::helpers::{
    shopper::{DECLINED, PROCESSING_ERROR, SLOW, SUCCEEDS},
    spawn_app, TestApp,
};
use cartograph::config::Settings;
use serde_json::Value;
use std::time::Duration;

fn payments_query(order: &str, outcome: &str) -> String {
    format!("SELECT count(*) FROM payments WHERE order_id = '{order}'::uuid AND outcome = '{outcome}'")
}

async fn payments_of(app: &TestApp, order: &str, outcome: &str) -> i64 {
    app.count(&payments_query(order, outcome)).await
}

/// Waits (up to 30 s) until the order has a payment with this outcome; returns how many it has.
async fn settled_as(app: &TestApp, order: &str, outcome: &str) -> i64 {
    app.wait_for_count(&payments_query(order, outcome), 1).await
}

/// An app whose worker settles payments left in flight quickly: the gateway answers at once (the slow card
/// aside), a call times out after `timeout_secs`, and a payment still in flight `settle_after_secs` after it
/// began is settled at the next one-second sweep.
async fn app_settling_quickly(
    timeout_secs: u64,
    settle_after_secs: u64,
    change: impl FnOnce(&mut Settings),
) -> TestApp {
    TestApp::builder()
        .with_settings(|settings| {
            settings.payments.test_gateway_latency = Duration::from_millis(0);
            settings.payments.timeout = Duration::from_secs(timeout_secs);
            settings.payments.settle_after = Duration::from_secs(settle_after_secs);
            settings.payments.settle_sweep = Duration::from_secs(1);
        })
        .with_settings(change)
        .spawn()
        .await
}

#[tokio::test]
async fn a_shopper_cannot_open_the_payment_breaker_and_failed_attempts_are_throttled_per_user_and_per_card() {
    let app = TestApp::builder()
        .with_settings(|settings| {
            settings.payments.breaker_failures = std::num::NonZeroU32::new(3).unwrap();
            settings.payments.failures_per_user = 5;
            settings.payments.failures_per_card = 5;
            settings.payments.test_gateway_latency = Duration::from_millis(0);
        })
        .spawn()
        .await;
    let order = app.pending_order("wool-beanie", 1).await;

    // The review's M6 probe: cards the gateway refuses, again and again. None of it is the gateway failing.
    for attempt in 0..5 {
        let answer = app.pay(&order, PROCESSING_ERROR, &format!("card-testing-{attempt}")).await;
        assert_eq!(answer.status(), 200, "attempt {attempt}");
        assert_eq!(answer.json::<Value>().await.unwrap()["outcome"], "declined");
    }
    assert_eq!(app.readiness().await["breakers"]["payments"], "closed", "no shopper can pause payments");

    // The sixth failed attempt in the window is refused before it reaches the gateway, even with a good card.
    let charges_before = app.count("SELECT count(*) FROM test_gateway_charges").await;
    let throttled = app.pay(&order, SUCCEEDS, "card-testing-6").await;
    assert_eq!(throttled.status(), 429);
    let message = throttled.text().await.unwrap();
    assert!(message.contains("Too many failed payment attempts") && message.contains("15 minutes"), "{message}");
    assert_eq!(
        app.count("SELECT count(*) FROM test_gateway_charges").await,
        charges_before,
        "the gateway was not asked"
    );

    // Another shopper is not throttled by it, but the tested card is: its failures follow it across accounts.
    let other = app.another_browser();
    other.sign_in("second-shopper", "/").await;
    let (beanie, _, _) = other.product("wool-beanie").await;
    assert_eq!(other.add_to_cart(beanie, 1).await.status(), 200);
    let placed = other.checkout().await;
    assert_eq!(placed.status(), 200);
    let other_order = placed.json::<String>().await.unwrap();
    let same_card = other.pay(&other_order, PROCESSING_ERROR, "same-card-elsewhere").await;
    assert_eq!(same_card.status(), 429, "the card has five failures in the window");
    let declined: Value = other.pay(&other_order, DECLINED, "another-card").await.json().await.unwrap();
    assert_eq!(declined["outcome"], "declined", "another card of theirs is asked for, and answered");
    let paid: Value = other.pay(&other_order, SUCCEEDS, "a-good-card").await.json().await.unwrap();
    assert_eq!(paid["outcome"], "succeeded");
    assert_eq!(other.order_status(&other_order).await, "paid");
}

#[tokio::test]
async fn one_account_cannot_hoard_stock_with_unpaid_orders() {
    let app = TestApp::builder()
        .with_settings(|settings| {
            settings.orders.max_unpaid_orders = 2;
            settings.orders.max_reserved_per_product = 3;
        })
        .spawn()
        .await;
    let (beanie, _, beanies) = app.product("wool-beanie").await;
    let (towels, _, _) = app.product("linen-tea-towels").await;

    // The review's M5 loop: add what is left, check out, again.
    let first = app.pending_order("wool-beanie", 3).await;
    assert_eq!(app.add_to_cart(beanie, 1).await.status(), 200);
    let refused = app.checkout().await;
    assert_eq!(refused.status(), 422);
    let message = refused.text().await.unwrap();
    assert!(message.contains("at most 3 of Wool Beanie") && message.contains("hold 3"), "{message}");
    assert_eq!(app.stock(beanie).await, beanies - 3, "nothing more was reserved");

    // The cart is kept: change it and go on, up to the cap on unpaid orders.
    assert_eq!(app.call("cart_set", &[("product_id", &beanie.to_string()), ("quantity", "0")]).await.status(), 200);
    assert_eq!(app.add_to_cart(towels, 1).await.status(), 200);
    assert_eq!(app.checkout().await.status(), 200);
    assert_eq!(app.add_to_cart(towels, 1).await.status(), 200);
    let third = app.checkout().await;
    assert_eq!(third.status(), 422);
    assert!(third.text().await.unwrap().contains("You have 2 orders awaiting payment"));

    // Paying one makes room again.
    let paid: Value = app.pay(&first, SUCCEEDS, "pay-the-first").await.json().await.unwrap();
    assert_eq!(paid["outcome"], "succeeded");
    assert_eq!(app.checkout().await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_gateway_charged_is_settled_by_the_worker_and_a_reload_never_charges_twice() {
    // The request is cut off (as by a crash or the request timeout) after the gateway took the charge but
    // before its slow answer arrived.
    let app = app_settling_quickly(5, 6, |settings| {
        settings.request_timeout = Duration::from_secs(1);
        settings.payments.test_gateway_slow = Duration::from_millis(3_000);
    })
    .await;
    let order = app.pending_order("wool-beanie", 1).await;

    let cut_off = app.pay(&order, SLOW, "the-first-attempt").await;
    assert_ne!(cut_off.status(), 200, "the request timed out");
    assert_eq!(
        app.count("SELECT count(*) FROM test_gateway_charges WHERE outcome = 'approved'").await,
        1,
        "the card was charged"
    );
    assert_eq!(payments_of(&app, &order, "charging").await, 1, "our record says: charging");

    // The shopper reloads (a fresh key) and pays again: refused while the first charge is unsettled.
    let reload = app.pay(&order, SUCCEEDS, "after-a-reload").await;
    assert_eq!(reload.status(), 422);
    assert!(reload.text().await.unwrap().contains("being processed"));

    // The worker asks the gateway what became of the charge, and records it.
    app.spawn_worker();
    assert_eq!(settled_as(&app, &order, "succeeded").await, 1, "the worker settled the charge");
    assert_eq!(app.order_status(&order).await, "paid");
    assert_eq!(payments_of(&app, &order, "charging").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM test_gateway_charges").await, 1, "charged exactly once");
    let replay: Value = app.pay(&order, SLOW, "the-first-attempt").await.json().await.unwrap();
    assert_eq!(replay["outcome"], "succeeded", "the first key now answers with the settled receipt");
    let again = app.pay(&order, SUCCEEDS, "after-the-settlement").await;
    assert!(again.text().await.unwrap().contains("cannot be paid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_the_gateway_never_answered_is_pending_then_settled_as_not_charged_and_the_order_stays_payable() {
    let app = app_settling_quickly(1, 2, |settings| settings.orders.reservation = Duration::from_secs(60)).await;
    let (beanie, _, _) = app.product("wool-beanie").await;
    let order = app.pending_order("wool-beanie", 1).await;
    let reserved = app.stock(beanie).await;

    app.gateway_outage("hangs").await;
    let pending: Value = app.pay(&order, SUCCEEDS, "into-the-void").await.json().await.unwrap();
    assert_eq!(pending["outcome"], "pending");
    assert!(pending["message"].as_str().unwrap().contains("will not be charged twice"), "{pending}");
    let reserved_until: bool =
        sqlx::query_scalar("SELECT reserved_until > now() + interval '1 second' FROM orders WHERE id = $1::uuid")
            .bind(&order)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(reserved_until, "the reservation outlasts the charge in flight");
    // The reservation lapses under the charge: the expiry sweep leaves the order alone while it is in flight.
    sqlx::query("UPDATE orders SET reserved_until = now() - interval '1 second' WHERE id = $1::uuid")
        .bind(&order)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app::orders::store::expire_reservations(&app.pool, 10).await.unwrap(), 0);
    assert_eq!(app.stock(beanie).await, reserved);
    sqlx::query("UPDATE orders SET reserved_until = now() + interval '10 minutes' WHERE id = $1::uuid")
        .bind(&order)
        .execute(&app.pool)
        .await
        .unwrap();

    // The gateway is back; the worker finds it never took the charge.
    app.gateway_outage("none").await;
    app.spawn_worker();
    assert_eq!(settled_as(&app, &order, "failed").await, 1, "settled as not charged");
    assert_eq!(app.count("SELECT count(*) FROM test_gateway_charges").await, 0, "nothing was charged");
    let paid: Value = app.pay(&order, SUCCEEDS, "into-the-void").await.json().await.unwrap();
    assert_eq!(paid["outcome"], "succeeded", "the same attempt can be made again");
    assert_eq!(app.order_status(&order).await, "paid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_without_an_answer_is_settled_by_the_worker_and_refunded_once() {
    let app = app_settling_quickly(1, 2, |_| {}).await;
    let (towels, _, before) = app.product("linen-tea-towels").await;
    let order = app.pending_order("linen-tea-towels", 2).await;
    assert_eq!(app.pay(&order, SUCCEEDS, "pay-then-refund").await.status(), 200);

    app.gateway_outage("hangs").await;
    let unanswered = app.call("cancel_order", &[("order_id", &order)]).await;
    assert_eq!(unanswered.status(), 422);
    assert!(unanswered.text().await.unwrap().contains("refunded once"));
    assert_eq!(app.order_status(&order).await, "paid");
    let twice = app.call("cancel_order", &[("order_id", &order)]).await;
    assert!(twice.text().await.unwrap().contains("being processed"), "a second cancel waits for the first refund");

    app.gateway_outage("none").await;
    app.spawn_worker();
    assert_eq!(settled_as(&app, &order, "refunded").await, 1, "the refund was settled");
    assert_eq!(app.order_status(&order).await, "cancelled");
    assert_eq!(app.stock(towels).await, before, "the stock is back on sale");
    assert_eq!(app.count("SELECT count(*) FROM test_gateway_refunds").await, 1, "refunded once");
    let note: String = sqlx::query_scalar(
        "SELECT note FROM order_status_history WHERE order_id = $1::uuid AND to_status = 'cancelled'",
    )
    .bind(&order)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(note, "cancelled by the shopper; refunded");
}

#[tokio::test]
async fn the_gateway_refunds_once_per_key_and_finds_a_charge_by_its_key() {
    use app::orders::{
        payment::{ChargeOutcome, ChargeRequest, PaymentGateway, RefundRequest, TestGateway},
        CardDetails,
    };
    let app = spawn_app().await;
    let gateway = TestGateway::new(app.pool.clone(), Duration::ZERO, Duration::ZERO);
    assert_eq!(gateway.find_charge("never-sent".into()).await.unwrap(), None);
    let card = CardDetails::parse(SUCCEEDS, "12/40", "123", (2026, 11)).unwrap();
    let request = ChargeRequest { idempotency_key: "charge-1".into(), amount_cents: 500, currency: "EUR".into(), card };
    let charged = gateway.charge(request.clone()).await.unwrap();
    assert_eq!(gateway.charge(request).await.unwrap(), charged, "a retry gets the first answer");
    assert_eq!(gateway.find_charge("charge-1".into()).await.unwrap(), Some(charged.clone()));
    let ChargeOutcome::Approved { reference } = charged else { panic!("approved") };
    let refund = RefundRequest { idempotency_key: "refund-1".into(), charge_reference: reference, amount_cents: 500 };
    let first = gateway.refund(refund.clone()).await.unwrap();
    assert_eq!(gateway.refund(refund).await.unwrap(), first);
    assert_eq!(app.count("SELECT count(*) FROM test_gateway_refunds").await, 1);
}
