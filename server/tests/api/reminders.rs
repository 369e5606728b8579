//! The abandoned-cart reminder: a signed-in shopper's next visit brings a notification about the cart they left,
//! once per cart, through the real endpoint, broker and worker.

use crate::helpers::TestApp;
use reqwest::StatusCode;
use std::time::Duration;

/// Posts one page view from this browser, and waits until the worker has stored it.
async fn page_view(browser: &TestApp, marker: &str) {
    let batch = serde_json::json!({"v": 2, "events": [{"type": "page_view", "path": format!("/{marker}"), "referrer": null, "title": "Shop", "id": marker}]});
    assert_eq!(browser.post_events(&batch.to_string()).await.status(), StatusCode::ACCEPTED);
    let stored = format!("SELECT count(*) FROM clickstream_events WHERE path = '/{marker}'");
    assert_eq!(browser.wait_for_count(&stored, 1).await, 1, "{marker} was stored");
}

async fn reminders(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM notifications WHERE kind = 'cart_reminder'").await
}

#[tokio::test]
async fn a_shoppers_next_visit_reminds_them_once_of_the_cart_they_left() {
    let app = TestApp::builder()
        .with_settings(|settings| settings.visits.cart_reminder = Duration::from_secs(1))
        .with_worker()
        .spawn()
        .await;
    let laptop = app.another_browser();
    laptop.sign_in("forgetful", "/").await;
    let (tent, _, _) = app.product("ridgeline-2-tent").await;
    let (stove, _, _) = app.product("ember-camp-stove").await;
    assert_eq!(laptop.add_to_cart(tent, 1).await.status(), StatusCode::OK);
    assert_eq!(laptop.add_to_cart(stove, 2).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    // Still the visit in which the cart was filled: no reminder, however long ago that was.
    page_view(&laptop, "same-visit").await;
    assert_eq!(reminders(&app).await, 0);

    // The next visit (the shopper's phone): reminded, with a link to the cart.
    let phone = app.another_browser();
    phone.sign_in("forgetful", "/").await;
    page_view(&phone, "next-visit").await;
    let told = "SELECT count(*) FROM notifications WHERE kind = 'cart_reminder'";
    assert_eq!(app.wait_for_count(told, 1).await, 1);
    let inbox: serde_json::Value = phone.call("notifications", &[]).await.json().await.unwrap();
    let reminder = &inbox["items"][0];
    assert_eq!(reminder["kind"], "cart_reminder", "{inbox}");
    assert_eq!(reminder["href"], "/cart");
    assert_eq!(
        reminder["message"],
        "You left 3 items in your cart: Ridgeline 2 Tent and 1 more. They are still there when you are ready."
    );
    assert_eq!(inbox["unread"], 1);

    // Once per cart: more page views, and a third visit, add nothing.
    page_view(&phone, "again").await;
    let tablet = app.another_browser();
    tablet.sign_in("forgetful", "/").await;
    page_view(&tablet, "third-visit").await;
    assert_eq!(reminders(&app).await, 1);

    // An anonymous visitor's cart is nobody's to remind.
    let stranger = app.another_browser();
    stranger.visit().await;
    assert_eq!(stranger.add_to_cart(tent, 1).await.status(), StatusCode::OK);
    page_view(&stranger, "anonymous").await;
    assert_eq!(reminders(&app).await, 1);
}
