//! Sign-in against a provider that lies: every forged or mismatched ID token is refused and nobody is signed in.
//! The honest run first, so a rejection below is proven to come from the forgery and nothing else.

use crate::helpers::{
    oidc::{FakeProvider, Forgery},
    shopper::location,
    TestApp,
};
use reqwest::StatusCode;
use std::time::Duration;

async fn app_signing_in_at(provider: &FakeProvider) -> TestApp {
    TestApp::builder()
        .with_settings(|settings| {
            settings.oidc.issuer_url = Some(provider.issuer.clone());
            settings.oidc.timeout = Duration::from_secs(1);
        })
        .spawn()
        .await
}

/// Goes through the provider (which approves at once) and returns the app's answer to the callback.
async fn sign_in(app: &TestApp) -> reqwest::Response {
    let authorize = app.begin_login("/orders").await;
    let approved = app.client.get(authorize).send().await.unwrap();
    assert_eq!(approved.status(), StatusCode::SEE_OTHER, "the fake provider approves");
    app.client.get(location(&approved)).send().await.unwrap()
}

async fn assert_refused(forgery: Forgery) {
    let provider = FakeProvider::start().await;
    let app = app_signing_in_at(&provider).await;
    provider.forge(forgery.clone());
    let response = sign_in(&app).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "{forgery:?} must be refused");
    let page = response.text().await.unwrap();
    assert!(page.contains("Sign-in failed"), "{forgery:?}: a friendly page, got {page}");
    assert_eq!(app.current_user().await, serde_json::Value::Null, "{forgery:?}: nobody is signed in");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!(users, 0, "{forgery:?}: no user is stored");
}

#[tokio::test]
async fn an_honest_provider_signs_in_with_the_id_tokens_claims() {
    let provider = FakeProvider::start().await;
    let app = app_signing_in_at(&provider).await;
    let response = sign_in(&app).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/orders");
    let user = app.current_user().await;
    assert_eq!(user["name"], "Tess Token", "the ID token's name wins over userinfo's");
    let stored: (String, String) =
        sqlx::query_as("SELECT issuer, subject FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!(stored, (provider.issuer.clone(), "fake-subject".to_string()));
}

#[tokio::test]
async fn a_wrong_nonce_is_refused() {
    assert_refused(Forgery::WrongNonce).await;
}

#[tokio::test]
async fn an_id_token_signed_by_another_key_is_refused() {
    assert_refused(Forgery::AttackerKey).await;
}

#[tokio::test]
async fn an_id_token_for_another_audience_is_refused() {
    assert_refused(Forgery::OtherAudience).await;
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    assert_refused(Forgery::Expired).await;
}

#[tokio::test]
async fn an_id_token_from_another_issuer_is_refused() {
    assert_refused(Forgery::OtherIssuer).await;
}

#[tokio::test]
async fn an_at_hash_for_another_access_token_is_refused() {
    assert_refused(Forgery::WrongAtHash).await;
}

#[tokio::test]
async fn userinfo_about_another_subject_is_refused() {
    assert_refused(Forgery::ProfileOnlyInUserinfo { userinfo_subject: "someone-else".into() }).await;
}

#[tokio::test]
async fn claims_missing_from_the_id_token_come_from_userinfo() {
    let provider = FakeProvider::start().await;
    let app = app_signing_in_at(&provider).await;
    provider.forge(Forgery::ProfileOnlyInUserinfo { userinfo_subject: "fake-subject".into() });
    assert_eq!(sign_in(&app).await.status(), StatusCode::SEE_OTHER);
    let user = app.current_user().await;
    assert_eq!(user["name"], "Uma Userinfo");
    assert_eq!(user["email"], "uma@example.com");
    assert_eq!(user["is_admin"], true, "the admin group may come from userinfo too");
}

#[tokio::test]
async fn a_provider_that_does_not_answer_in_time_gets_a_friendly_page() {
    let provider = FakeProvider::start().await;
    let app = app_signing_in_at(&provider).await;
    provider.forge(Forgery::SlowTokenEndpoint(Duration::from_secs(3)));
    let response = sign_in(&app).await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    let page = response.text().await.unwrap();
    assert!(page.contains("did not answer in time"), "{page}");
    assert_eq!(app.current_user().await, serde_json::Value::Null);
}

#[tokio::test]
async fn after_the_provider_rotates_its_key_sign_in_works_at_once_and_made_up_key_ids_do_not_hammer_it() {
    let provider = FakeProvider::start().await;
    let app = app_signing_in_at(&provider).await;
    let fetched_at_start = provider.jwks_fetches();
    provider.rotate_key();
    let response = sign_in(&app).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "a token signed with the new key is accepted at once");
    assert_eq!(app.current_user().await["name"], "Tess Token");
    assert_eq!(provider.jwks_fetches(), fetched_at_start + 1, "the keys were fetched once more, on the unknown kid");

    // Tokens naming key ids nobody published are refused, and within the back-off they fetch nothing.
    provider.forge(Forgery::UnknownKey);
    let stranger = app.another_browser();
    for _ in 0..3 {
        assert_eq!(sign_in(&stranger).await.status(), StatusCode::BAD_GATEWAY);
    }
    assert_eq!(provider.jwks_fetches(), fetched_at_start + 1, "no fetch per forged token");
    assert_eq!(stranger.current_user().await, serde_json::Value::Null);

    // After the forgeries, an honest sign-in goes through as ever.
    provider.forge(Forgery::None);
    assert_eq!(sign_in(&stranger).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(stranger.current_user().await["name"], "Tess Token");
}

#[tokio::test]
async fn a_token_with_an_unknown_key_id_is_refused_after_one_refetch() {
    assert_refused(Forgery::UnknownKey).await;
}
