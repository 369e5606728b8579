//! Sign-in against the real dev OpenID provider: authorization code + PKCE + state + nonce.

use crate::helpers::{
    shopper::{location, set_cookie},
    spawn_app, TestApp,
};
use reqwest::StatusCode;

#[tokio::test]
async fn login_redirects_to_the_provider_with_pkce_state_and_nonce() {
    let app = spawn_app().await;
    let authorize = app.begin_login("/").await;
    let params: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["response_type"], "code");
    assert!(params["state"].len() >= 16 && params["nonce"].len() >= 16);
    assert!(params["scope"].contains("openid"));
    assert_eq!(params["redirect_uri"], app.url("/auth/callback"));
}

#[tokio::test]
async fn signing_in_shows_the_users_name_and_rotates_the_session_id() {
    let app = spawn_app().await;
    assert_eq!(app.current_user().await, serde_json::Value::Null);
    let authorize = app.begin_login("/?page=2").await;
    let callback = app.provider_login(authorize, "shopper").await;
    let response = app.client.get(callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/?page=2");
    let session = set_cookie(&response, "cg_session").expect("a session cookie at sign-in").to_string();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");

    let user = app.current_user().await;
    assert_eq!(user["name"], "Sam Shopper");
    assert_eq!(user["is_admin"], false);
    let stored: (String, bool) =
        sqlx::query_as("SELECT subject, is_admin FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!(stored, ("shopper".to_string(), false));
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in() {
    let app = spawn_app().await;
    // The pending login creates a session; signing in must replace its id.
    let authorize = app.begin_login("/").await;
    let pre_login: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tower_sessions.session").fetch_one(&app.pool).await.unwrap();
    assert_eq!(pre_login, 1);
    let pre_id: String =
        sqlx::query_scalar("SELECT id FROM tower_sessions.session").fetch_one(&app.pool).await.unwrap();
    let callback = app.provider_login(authorize, "shopper").await;
    app.client.get(callback).send().await.unwrap();
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM tower_sessions.session").fetch_all(&app.pool).await.unwrap();
    assert!(!ids.contains(&pre_id), "the pre-login session id must be gone");
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn the_admin_group_claim_maps_to_the_admin_role() {
    let app = spawn_app().await;
    app.sign_in("admin", "/").await;
    let user = app.current_user().await;
    assert_eq!(user["name"], "Ada Admin");
    assert_eq!(user["is_admin"], true);
}

#[tokio::test]
async fn a_forged_state_is_rejected() {
    let app = spawn_app().await;
    let authorize = app.begin_login("/").await;
    let callback = app.provider_login(authorize, "shopper").await;
    let mut forged = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let value = if k == "state" { "forged".to_string() } else { v.into_owned() };
            (k.into_owned(), value)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let response = app.client.get(forged).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.current_user().await, serde_json::Value::Null);
}

#[tokio::test]
async fn a_replayed_callback_is_rejected() {
    let app = spawn_app().await;
    let authorize = app.begin_login("/").await;
    let callback = app.provider_login(authorize, "shopper").await;
    assert_eq!(app.client.get(callback.clone()).send().await.unwrap().status(), StatusCode::SEE_OTHER);
    let replay = app.client.get(callback).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_provider_error_is_shown_as_a_friendly_page() {
    let app = spawn_app().await;
    app.begin_login("/").await;
    let response = app.client.get(app.url("/auth/callback?error=access_denied&state=x")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(html.contains("Sign-in did not complete") && html.contains("cancelled"));
}

#[tokio::test]
async fn an_open_redirect_attempt_lands_on_the_home_page() {
    let app = spawn_app().await;
    let response = app.sign_in("shopper", "https://evil.example/phish").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/");
}

#[tokio::test]
async fn signing_out_ends_the_local_session_and_the_providers() {
    let app = spawn_app().await;
    app.sign_in("shopper", "/").await;
    let response = app.client.post(app.url("/auth/logout")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let target = location(&response);
    assert!(target.path().ends_with("/session/end"), "RP-initiated logout goes to the provider: {target}");
    let params: std::collections::HashMap<_, _> = target.query_pairs().into_owned().collect();
    assert!(params.contains_key("id_token_hint"));
    assert_eq!(params["post_logout_redirect_uri"], app.url("/"));
    assert_eq!(app.current_user().await, serde_json::Value::Null);
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_active() {
    let app = TestApp::builder()
        .with_settings(|settings| settings.session.absolute = std::time::Duration::ZERO)
        .spawn()
        .await;
    let response = app.sign_in("shopper", "/").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.current_user().await, serde_json::Value::Null, "a session past its lifetime is signed out");
    let sessions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tower_sessions.session").fetch_one(&app.pool).await.unwrap();
    assert_eq!(sessions, 0, "and its row is gone");
}
