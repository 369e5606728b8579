//! Circuit breakers: a failing payment gateway or broker is refused at once for a cool-down, and recovers.

use crate::helpers::{shopper::SUCCEEDS, TestApp};
use serde_json::Value;
use std::time::{Duration, Instant};

/// `/readyz` reports the breaker as tripped: open, or half-open if the check itself outlasted the cool-down
/// (it pings the broker, which takes its full 2 s timeout while the broker is down).
async fn assert_tripped(app: &TestApp, breaker: &str) {
    let state = app.readiness().await["breakers"][breaker].clone();
    assert!(state == "open" || state == "half_open", "{breaker} breaker: {state}");
}

#[tokio::test]
async fn a_failing_gateway_opens_the_breaker_and_the_order_stays_payable_until_it_closes() {
    let app = TestApp::builder()
        .with_settings(|settings| {
            settings.payments.breaker_failures = std::num::NonZeroU32::new(3).unwrap();
            settings.payments.breaker_cooldown = Duration::from_secs(2);
            settings.payments.timeout = Duration::from_secs(2);
            settings.payments.test_gateway_latency = Duration::from_millis(20);
        })
        .spawn()
        .await;
    let order = app.pending_order("wool-beanie", 1).await;
    let (product_id, _, _) = app.product("wool-beanie").await;
    let reserved_stock = app.stock(product_id).await;

    // The gateway fails (an outage no shopper can cause): three consecutive failures.
    app.gateway_outage("errors").await;
    for key in ["error-one", "error-two", "error-three"] {
        let failed = app.pay(&order, SUCCEEDS, key).await;
        assert_eq!(failed.status(), 422, "{key}");
    }

    // Open: refused at once, even though the gateway now hangs until the payment timeout.
    app.gateway_outage("hangs").await;
    let started = Instant::now();
    let refused = app.pay(&order, SUCCEEDS, "while-open").await;
    let elapsed = started.elapsed();
    assert_eq!(refused.status(), 503);
    let message = refused.text().await.unwrap();
    assert!(message.contains("temporarily unavailable") && message.contains("your order is kept"), "{message}");
    assert!(elapsed < Duration::from_millis(500), "refused in {elapsed:?}, the payment timeout is 2 s");
    println!("payment refused by the open breaker in {} ms (payment timeout 2000 ms)", elapsed.as_millis());
    let good_card_refused = app.pay(&order, SUCCEEDS, "good-card-early").await;
    assert_eq!(good_card_refused.status(), 503, "a good card waits for the cool-down too");
    assert_tripped(&app, "payments").await;

    assert_eq!(app.order_status(&order).await, "pending_payment");
    assert_eq!(app.stock(product_id).await, reserved_stock, "the stock stays reserved");
    let attempts: i64 = sqlx::query_scalar("SELECT count(*) FROM payments WHERE order_id = $1::uuid")
        .bind(&order)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(attempts, 3, "only the three calls that reached the gateway are recorded");

    // After the cool-down (and the outage) the trial payment goes through, with the key the breaker refused earlier.
    app.gateway_outage("none").await;
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let paid = app.pay(&order, SUCCEEDS, "good-card-early").await;
    assert_eq!(paid.status(), 200);
    let paid: Value = paid.json().await.unwrap();
    assert_eq!(paid["outcome"], "succeeded");
    assert_eq!(app.order_status(&order).await, "paid");
    assert_eq!(app.readiness().await["breakers"]["payments"], "closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_broker_down_the_endpoint_answers_503_at_once_once_the_breaker_opens() {
    let app = TestApp::builder()
        .with_private_broker()
        .with_settings(|settings| {
            settings.collect.broker_breaker_failures = std::num::NonZeroU32::new(2).unwrap();
            settings.collect.broker_breaker_cooldown = Duration::from_secs(4);
        })
        .spawn()
        .await;
    // A page load issues the visit the events belong to.
    app.client.get(app.url("/")).send().await.unwrap();
    let batch =
        |n: usize| format!(r#"{{"v":1,"events":[{{"type":"page_view","path":"/breaker/{n}","id":"breaker-{n}"}}]}}"#);
    let send = |n: usize| app.client.post(app.url("/api/events")).body(batch(n)).send();
    assert_eq!(send(0).await.unwrap().status(), 202);

    app.broker().kill();
    // Two batches wait for the delivery timeout and fail: the breaker opens.
    let started = Instant::now();
    let (first, second) = tokio::join!(send(1), send(2));
    let (first, second) = (first.unwrap(), second.unwrap());
    let slow = started.elapsed();
    assert_eq!((first.status().as_u16(), second.status().as_u16()), (503, 503));

    for n in 3..8 {
        let started = Instant::now();
        let refused = send(n).await.unwrap();
        let fast = started.elapsed();
        assert_eq!(refused.status(), 503);
        let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=4).contains(&retry_after), "Retry-After {retry_after}");
        assert!(fast < Duration::from_millis(500), "answered in {fast:?}");
        if n == 3 {
            println!(
                "broker down: unacknowledged batches took {} ms, then 503 in {} ms",
                slow.as_millis(),
                fast.as_millis()
            );
        }
    }

    assert_tripped(&app, "broker").await;
    // Recovery after an outage longer than the delivery timeout is
    // broker_outage::the_endpoint_takes_events_again_at_once_after_an_outage_longer_than_the_delivery_timeout.
}
