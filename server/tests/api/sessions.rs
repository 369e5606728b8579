//! Sessions: an admin ends every session of a user on every device; an active session's idle expiry slides,
//! saved at most once per touch interval.

use crate::helpers::{spawn_app, TestApp};
use reqwest::StatusCode;
use std::time::Duration;
use uuid::Uuid;

async fn user_id(app: &TestApp, email: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(email).fetch_one(&app.pool).await.unwrap()
}

#[tokio::test]
async fn an_admin_ends_every_session_of_a_user_and_each_device_is_signed_out_at_its_next_request() {
    let app = spawn_app().await;
    let phone = app.another_browser();
    app.sign_in("shopper", "/").await;
    phone.sign_in("shopper", "/").await;
    assert_eq!(phone.current_user().await["name"], "Sam Shopper");
    let shopper = user_id(&app, "shopper@cartograph.test").await;

    // A shopper cannot end anyone's sessions.
    let refused = phone.call("admin/end_sessions", &[("user_id", &shopper.to_string())]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let admin = app.another_browser();
    admin.sign_in("admin", "/").await;
    let listed = admin.call("admin/users", &[("query", "shop")]).await;
    assert_eq!(listed.status(), StatusCode::OK);
    let listed: serde_json::Value = listed.json().await.unwrap();
    assert!(listed.as_array().unwrap().iter().any(|user| user["id"] == shopper.to_string()), "{listed}");
    let ended = admin.call("admin/end_sessions", &[("user_id", &shopper.to_string())]).await;
    assert_eq!(ended.status(), StatusCode::OK);
    let unknown = admin.call("admin/end_sessions", &[("user_id", &Uuid::new_v4().to_string())]).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    assert_eq!(app.current_user().await, serde_json::Value::Null, "the laptop is signed out");
    assert_eq!(phone.current_user().await, serde_json::Value::Null, "and the phone");
    assert_eq!(phone.call("my_orders", &[]).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(admin.current_user().await["name"], "Ada Admin", "nobody else is affected");

    // Signing in again works as ever (after the second the sessions were ended in).
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    phone.sign_in("shopper", "/").await;
    assert_eq!(phone.current_user().await["name"], "Sam Shopper");
    assert_eq!(phone.call("my_orders", &[]).await.status(), StatusCode::OK);
}

/// The latest expiry the session store holds (Unix seconds): this test's signed-in session.
async fn signed_in_expiry(app: &TestApp) -> f64 {
    sqlx::query_scalar("SELECT max(extract(epoch FROM expiry_date))::float8 FROM tower_sessions.session")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_active_session_slides_its_idle_expiry_saving_at_most_once_per_interval() {
    let app =
        TestApp::builder().with_settings(|settings| settings.session.touch = Duration::from_secs(2)).spawn().await;
    app.sign_in("shopper", "/").await;
    app.current_user().await;
    let first = signed_in_expiry(&app).await;

    // Requests within the interval do not write the session again.
    for _ in 0..3 {
        assert_eq!(app.current_user().await["name"], "Sam Shopper");
    }
    assert_eq!(signed_in_expiry(&app).await, first, "no save within the interval");

    // After it, the next request saves the session, and its idle expiry moves on by as much.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let response = app.client.post(app.url("/api/current_user")).send().await.unwrap();
    assert!(response.headers().get("set-cookie").is_some(), "the cookie's expiry is renewed too");
    let slid = signed_in_expiry(&app).await;
    assert!(slid >= first + 2.0, "the expiry slid: {first} -> {slid}");
}
