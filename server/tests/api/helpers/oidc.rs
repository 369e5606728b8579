//! A scriptable OpenID provider (`FakeProvider`) for the tests that a certified provider will never fail: it signs
//! ID tokens with its own key (or an attacker's), for the wrong audience, with the wrong nonce, and so on. (Sign-in
//! against the real dev provider is a shopper's action: `TestApp::sign_in`.)
//!
//! It speaks just enough of the protocol: discovery, JWKS, an authorization endpoint that approves at once, a token
//! endpoint that checks the code and the PKCE verifier, and userinfo.

use axum::{
    extract::{Form, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Json, Router,
};
use chrono::{Duration as Span, Utc};
use openidconnect::{
    core::{CoreIdToken, CoreIdTokenClaims, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey},
    AccessToken, Audience, EmptyAdditionalClaims, EndUserEmail, EndUserName, IssuerUrl, JsonWebKeyId, LocalizedClaim,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use serde::Deserialize;
use serde_json::json;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

const PROVIDER_KEY: &str = include_str!("../fixtures/provider-key.pem");
const ATTACKER_KEY: &str = include_str!("../fixtures/attacker-key.pem");
pub const CLIENT_ID: &str = "cartograph";

/// How the provider misbehaves when it issues the next tokens.
#[derive(Debug, Clone, Default)]
pub enum Forgery {
    /// An honest provider.
    #[default]
    None,
    /// The ID token carries a nonce other than the one the app sent.
    WrongNonce,
    /// The ID token is signed by a key that is not in the provider's JWKS (same key id).
    AttackerKey,
    /// The ID token names a key id the provider never published.
    UnknownKey,
    /// The ID token was issued to another client.
    OtherAudience,
    /// The ID token expired a minute ago.
    Expired,
    /// The ID token names another issuer.
    OtherIssuer,
    /// `at_hash` was computed for another access token.
    WrongAtHash,
    /// The ID token has only the required claims; the profile comes from userinfo, which answers for `subject`.
    ProfileOnlyInUserinfo { userinfo_subject: String },
    /// The token endpoint answers after this long.
    SlowTokenEndpoint(Duration),
}

#[derive(Default)]
struct Grants {
    /// Authorization code → (nonce, PKCE challenge, redirect URI).
    codes: HashMap<String, (String, String, String)>,
    /// Access token → subject, for userinfo.
    access_tokens: HashMap<String, String>,
}

struct Inner {
    issuer: String,
    forgery: Mutex<Forgery>,
    grants: Mutex<Grants>,
    provider_key: CoreRsaPrivateSigningKey,
    attacker_key: CoreRsaPrivateSigningKey,
    /// After a rotation: the provider signs with this key (its own id) and publishes it beside the old one.
    rotated_key: CoreRsaPrivateSigningKey,
    rotated: std::sync::atomic::AtomicBool,
    unknown_key: CoreRsaPrivateSigningKey,
    /// How often the JWKS was fetched.
    jwks_fetches: std::sync::atomic::AtomicUsize,
}

/// A running fake provider; it stops when dropped.
pub struct FakeProvider {
    pub issuer: String,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeProvider {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake provider");
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let key_id = || Some(JsonWebKeyId::new("signing-key".into()));
        let inner = Arc::new(Inner {
            issuer: issuer.clone(),
            forgery: Mutex::new(Forgery::None),
            grants: Mutex::default(),
            provider_key: CoreRsaPrivateSigningKey::from_pem(PROVIDER_KEY, key_id()).expect("provider key"),
            attacker_key: CoreRsaPrivateSigningKey::from_pem(ATTACKER_KEY, key_id()).expect("attacker key"),
            rotated_key: CoreRsaPrivateSigningKey::from_pem(
                ATTACKER_KEY,
                Some(JsonWebKeyId::new("rotated-key".into())),
            )
            .expect("rotated key"),
            rotated: Default::default(),
            unknown_key: CoreRsaPrivateSigningKey::from_pem(
                ATTACKER_KEY,
                Some(JsonWebKeyId::new("made-up-key".into())),
            )
            .expect("unknown key"),
            jwks_fetches: Default::default(),
        });
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(inner.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("the fake provider runs");
        });
        Self { issuer, inner, server }
    }

    /// Rotates the signing key, as providers do: new tokens carry a new key id, and the JWKS lists both keys.
    pub fn rotate_key(&self) {
        self.inner.rotated.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.inner.jwks_fetches.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Makes the provider misbehave from now on.
    pub fn forge(&self, forgery: Forgery) {
        *self.inner.forgery.lock().unwrap() = forgery;
    }
}

async fn discovery(State(provider): State<Arc<Inner>>) -> Json<serde_json::Value> {
    let issuer = &provider.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(provider): State<Arc<Inner>>) -> Json<serde_json::Value> {
    provider.jwks_fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    if provider.rotated.load(std::sync::atomic::Ordering::SeqCst) {
        return Json(
            json!({ "keys": [provider.provider_key.as_verification_key(), provider.rotated_key.as_verification_key()] }),
        );
    }
    Json(json!({ "keys": [provider.provider_key.as_verification_key()] }))
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    state: String,
    nonce: String,
    code_challenge: String,
    code_challenge_method: String,
}

/// Approves at once, as if the user had signed in and consented.
async fn authorize(State(provider): State<Arc<Inner>>, Query(query): Query<AuthorizeQuery>) -> Response {
    if query.client_id != CLIENT_ID || query.code_challenge_method != "S256" {
        return (StatusCode::BAD_REQUEST, "unknown client or no S256 PKCE").into_response();
    }
    let code = uuid::Uuid::new_v4().simple().to_string();
    let grant = (query.nonce, query.code_challenge, query.redirect_uri.clone());
    provider.grants.lock().unwrap().codes.insert(code.clone(), grant);
    let mut target = reqwest::Url::parse(&query.redirect_uri).expect("redirect URI");
    target.query_pairs_mut().append_pair("code", &code).append_pair("state", &query.state);
    Redirect::to(target.as_str()).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    redirect_uri: String,
    code_verifier: String,
}

async fn token(State(provider): State<Arc<Inner>>, Form(form): Form<TokenForm>) -> Response {
    let forgery = provider.forgery.lock().unwrap().clone();
    if let Forgery::SlowTokenEndpoint(delay) = forgery {
        tokio::time::sleep(delay).await;
    }
    let invalid_grant = || (StatusCode::BAD_REQUEST, Json(json!({ "error": "invalid_grant" }))).into_response();
    // Codes are single-use.
    let Some((nonce, challenge, redirect_uri)) = provider.grants.lock().unwrap().codes.remove(&form.code) else {
        return invalid_grant();
    };
    let verifier = PkceCodeVerifier::new(form.code_verifier);
    if form.grant_type != "authorization_code"
        || form.redirect_uri != redirect_uri
        || PkceCodeChallenge::from_code_verifier_sha256(&verifier).as_str() != challenge
    {
        return invalid_grant();
    }
    let subject = "fake-subject".to_string();
    let access_token = AccessToken::new(uuid::Uuid::new_v4().simple().to_string());
    provider.grants.lock().unwrap().access_tokens.insert(access_token.secret().clone(), subject.clone());

    let now = Utc::now();
    let mut profile = StandardClaims::new(SubjectIdentifier::new(subject));
    if !matches!(forgery, Forgery::ProfileOnlyInUserinfo { .. }) {
        profile = profile
            .set_name(Some(LocalizedClaim::from(EndUserName::new("Tess Token".into()))))
            .set_email(Some(EndUserEmail::new("tess@example.com".into())));
    }
    let issuer = match forgery {
        Forgery::OtherIssuer => "https://impostor.example".to_string(),
        _ => provider.issuer.clone(),
    };
    let audience = match forgery {
        Forgery::OtherAudience => "another-client",
        _ => CLIENT_ID,
    };
    let expires = match forgery {
        Forgery::Expired => now - Span::minutes(1),
        _ => now + Span::minutes(5),
    };
    let claims = CoreIdTokenClaims::new(
        IssuerUrl::new(issuer).unwrap(),
        vec![Audience::new(audience.into())],
        expires,
        now - Span::minutes(2),
        profile,
        EmptyAdditionalClaims {},
    )
    .set_nonce(Some(Nonce::new(match forgery {
        Forgery::WrongNonce => "a-nonce-from-another-login".into(),
        _ => nonce,
    })));
    let key = match forgery {
        Forgery::AttackerKey => &provider.attacker_key,
        Forgery::UnknownKey => &provider.unknown_key,
        _ if provider.rotated.load(std::sync::atomic::Ordering::SeqCst) => &provider.rotated_key,
        _ => &provider.provider_key,
    };
    let hashed = match forgery {
        Forgery::WrongAtHash => AccessToken::new("some-other-access-token".into()),
        _ => access_token.clone(),
    };
    let id_token = CoreIdToken::new(claims, key, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, Some(&hashed), None)
        .expect("sign the ID token");
    Json(json!({
        "access_token": access_token.secret(),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token.to_string(),
    }))
    .into_response()
}

async fn userinfo(State(provider): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some(subject) = provider.grants.lock().unwrap().access_tokens.get(bearer).cloned() else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let subject = match &*provider.forgery.lock().unwrap() {
        Forgery::ProfileOnlyInUserinfo { userinfo_subject } => userinfo_subject.clone(),
        _ => subject,
    };
    Json(json!({
        "sub": subject,
        "name": "Uma Userinfo",
        "email": "uma@example.com",
        "groups": ["cartograph-admin"],
    }))
    .into_response()
}
