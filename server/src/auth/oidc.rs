//! The OpenID Connect relying party: discovery, the authorization request and ID-token verification.

use crate::config::OidcSettings;
use anyhow::{anyhow, Context};
use base64::Engine;
use openidconnect::{
    core::{CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreIdToken, CoreJsonWebKeySet},
    AccessToken, AccessTokenHash, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope,
    SubjectIdentifier, TokenResponse, UserInfoClaims, UserInfoError,
};
use openidconnect::{ClaimsVerificationError, SignatureVerificationError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::{
    future::Future,
    str::FromStr,
    sync::RwLock,
    time::{Duration, Instant},
};

/// The provider's signing keys are fetched again when a token names a key we do not have (a rotation), but not
/// more often than this: a stream of tokens with made-up key ids cannot make us hammer the provider.
pub const KEY_REFRESH_BACKOFF: Duration = Duration::from_secs(30);

type ConfiguredClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// The relying party, built once at start from the provider's discovery document.
pub struct OidcClient {
    http: openidconnect::reqwest::Client,
    /// The limit for each call to the provider.
    timeout: Duration,
    /// The discovery document with the signing keys (refreshed on an unknown `kid`).
    metadata: RwLock<ProviderMetadataWithLogout>,
    /// When the keys were last fetched again, if ever.
    keys_refreshed: tokio::sync::Mutex<Option<Instant>>,
    client_id: ClientId,
    client_secret: ClientSecret,
    redirect_url: RedirectUrl,
    post_logout_url: String,
    scopes: Vec<String>,
    admin_claim: String,
    admin_value: String,
}

/// What a login in progress keeps in the session until the provider sends the shopper back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
}

/// The identity an ID token proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub issuer: String,
    pub subject: String,
    pub name: String,
    pub email: Option<String>,
    pub is_admin: bool,
    /// The raw ID token, kept as the hint for RP-initiated logout.
    pub id_token: String,
}

/// The CA certificates in the PEM file `file` (`CARTOGRAPH_OIDC_CA_FILE`), or why they cannot be read.
fn private_cas(file: &str) -> anyhow::Result<Vec<openidconnect::reqwest::Certificate>> {
    let pem = std::fs::read(file).with_context(|| format!("reading CARTOGRAPH_OIDC_CA_FILE {file}"))?;
    let certificates = openidconnect::reqwest::Certificate::from_pem_bundle(&pem)
        .with_context(|| format!("CARTOGRAPH_OIDC_CA_FILE {file} is not a PEM file of certificates"))?;
    anyhow::ensure!(!certificates.is_empty(), "CARTOGRAPH_OIDC_CA_FILE {file} holds no certificate");
    Ok(certificates)
}

impl OidcClient {
    /// Fetches the provider's discovery document, failing within `timeout` with an error naming the issuer.
    /// Sign-in comes back to `public_url`.
    pub async fn discover(settings: &OidcSettings, public_url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let issuer = settings.issuer_url.clone().unwrap_or_default();
        let call_timeout = settings.timeout;
        let mut http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects from the token endpoint would open the door to SSRF.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(call_timeout.max(timeout));
        if let Some(file) = &settings.ca_file {
            for certificate in private_cas(file)? {
                http = http.add_root_certificate(certificate);
            }
        }
        let http = http.build().context("building the HTTP client for OpenID Connect")?;
        let issuer_url =
            IssuerUrl::new(issuer.clone()).map_err(|e| anyhow!("invalid OIDC issuer URL {issuer}: {e}"))?;
        let discovery = ProviderMetadataWithLogout::discover_async(issuer_url, &http);
        let metadata = tokio::time::timeout(timeout, discovery)
            .await
            .map_err(|_| anyhow!("OpenID provider unreachable at {issuer}: no answer within {}s", timeout.as_secs()))?
            .map_err(|e| anyhow!("OpenID provider unreachable at {issuer}: {}", error_chain(&e)))?;
        let redirect = format!("{public_url}/auth/callback");
        Ok(Self {
            http,
            timeout: call_timeout,
            metadata: RwLock::new(metadata),
            keys_refreshed: tokio::sync::Mutex::new(None),
            client_id: ClientId::new(settings.client_id.clone().unwrap_or_default()),
            client_secret: ClientSecret::new(settings.client_secret().to_string()),
            redirect_url: RedirectUrl::new(redirect.clone())
                .map_err(|e| anyhow!("invalid redirect URL {redirect}: {e}"))?,
            post_logout_url: format!("{public_url}/"),
            scopes: settings.scopes.split_whitespace().map(str::to_owned).collect(),
            admin_claim: settings.admin_claim.clone(),
            admin_value: settings.admin_value.clone(),
        })
    }

    fn metadata(&self) -> ProviderMetadataWithLogout {
        self.metadata.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn client(&self) -> ConfiguredClient {
        CoreClient::from_provider_metadata(self.metadata(), self.client_id.clone(), Some(self.client_secret.clone()))
            .set_redirect_uri(self.redirect_url.clone())
    }

    /// Fetches the provider's signing keys again, unless that happened within [`KEY_REFRESH_BACKOFF`]; true when
    /// the keys were fetched. Concurrent callers wait for one fetch.
    async fn refresh_keys(&self) -> Result<bool, LoginError> {
        let mut last = self.keys_refreshed.lock().await;
        if last.is_some_and(|at| at.elapsed() < KEY_REFRESH_BACKOFF) {
            return Ok(false);
        }
        *last = Some(Instant::now());
        let uri = self.metadata().jwks_uri().clone();
        let keys = self.within_timeout(CoreJsonWebKeySet::fetch_async(&uri, &self.http)).await?.map_err(|e| {
            LoginError::Rejected(format!("fetching the provider's signing keys failed: {}", error_chain(&e)))
        })?;
        tracing::info!(
            keys = keys.keys().len(),
            "fetched the OpenID provider's signing keys again (a token named an unknown key)"
        );
        let mut metadata = self.metadata.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        *metadata = metadata.clone().set_jwks(keys);
        Ok(true)
    }

    /// Builds the provider URL to send the shopper to, and what to remember until they come back.
    pub fn begin_login(&self, return_to: String) -> (String, PendingLogin) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.client();
        let mut request = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge);
        for scope in &self.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        let pending = PendingLogin {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            return_to,
        };
        (url.to_string(), pending)
    }

    /// Exchanges the code and verifies the ID token: signature, issuer, audience, expiry, nonce and `at_hash`.
    ///
    /// Profile and role claims come from the ID token; where it lacks them, from the userinfo endpoint, whose
    /// answer must be about the same subject.
    pub async fn finish_login(&self, code: String, pending: &PendingLogin) -> Result<VerifiedIdentity, LoginError> {
        let client = self.client();
        let exchange = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|_| LoginError::Rejected("the provider has no token endpoint".into()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http);
        let token = self.within_timeout(exchange).await?.map_err(|e| {
            if timed_out(&e) {
                LoginError::Timeout
            } else {
                LoginError::Rejected(format!("code exchange failed: {}", error_chain(&e)))
            }
        })?;
        let rejected = |e: &dyn std::fmt::Display| LoginError::Rejected(format!("ID token rejected: {e}"));
        let id_token = token.id_token().ok_or_else(|| rejected(&"the provider returned no ID token"))?;
        let nonce = Nonce::new(pending.nonce.clone());
        let refreshed_client;
        let mut verifier = client.id_token_verifier();
        let mut verified = id_token.claims(&verifier, &nonce);
        if matches!(
            verified,
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey))
        ) {
            // The provider may have rotated its keys since we fetched them.
            if self.refresh_keys().await? {
                refreshed_client = self.client();
                verifier = refreshed_client.id_token_verifier();
                verified = id_token.claims(&verifier, &nonce);
            }
        }
        let claims = verified.map_err(|e| rejected(&e))?;
        if let Some(expected) = claims.access_token_hash() {
            let algorithm = id_token.signing_alg().map_err(|e| rejected(&e))?;
            let key = id_token.signing_key(&verifier).map_err(|e| rejected(&e))?;
            let actual = AccessTokenHash::from_token(token.access_token(), algorithm, key).map_err(|e| rejected(&e))?;
            if actual != *expected {
                return Err(rejected(&"at_hash does not match the access token"));
            }
        }
        let raw = id_token.to_string();
        let subject = claims.subject().clone();
        let mut email = claims.email().map(|email| email.as_str().to_string());
        let mut name = claims
            .name()
            .and_then(|name| name.get(None))
            .map(|name| name.as_str().to_string())
            .or_else(|| claims.preferred_username().map(|u| u.as_str().to_string()));
        let mut is_admin = jwt_payload(&raw).and_then(|payload| self.admin_in(&payload));
        if name.is_none() && email.is_none() || is_admin.is_none() {
            if let Some(info) = self.userinfo(&client, token.access_token(), &subject).await? {
                email = email.or_else(|| info.email().map(|email| email.as_str().to_string()));
                name = name
                    .or_else(|| info.name().and_then(|name| name.get(None)).map(|name| name.as_str().to_string()))
                    .or_else(|| info.preferred_username().map(|u| u.as_str().to_string()));
                is_admin = is_admin.or_else(|| self.admin_in(&info.additional_claims().claims));
            }
        }
        Ok(VerifiedIdentity {
            issuer: claims.issuer().as_str().to_string(),
            name: name.or_else(|| email.clone()).unwrap_or_else(|| subject.as_str().to_string()),
            subject: subject.as_str().to_string(),
            email,
            is_admin: is_admin.unwrap_or(false),
            id_token: raw,
        })
    }

    /// The userinfo claims for `subject`, if the provider has the endpoint and answers.
    ///
    /// An answer about another subject is an attack (or a provider bug) and fails the sign-in; an unreachable
    /// endpoint only costs the extra claims.
    async fn userinfo(
        &self,
        client: &ConfiguredClient,
        access_token: &AccessToken,
        subject: &SubjectIdentifier,
    ) -> Result<Option<UserInfoClaims<OtherClaims, CoreGenderClaim>>, LoginError> {
        let Ok(request) = client.user_info(access_token.clone(), Some(subject.clone())) else {
            return Ok(None);
        };
        match self.within_timeout(request.request_async(&self.http)).await {
            Ok(Ok(claims)) => Ok(Some(claims)),
            Ok(Err(UserInfoError::ClaimsVerification(error))) => {
                Err(LoginError::Rejected(format!("userinfo rejected: {error}")))
            }
            Ok(Err(error)) => {
                tracing::warn!(error = %error_chain(&error), "userinfo failed; signing in with the ID token's claims");
                Ok(None)
            }
            Err(_) => {
                tracing::warn!("userinfo timed out; signing in with the ID token's claims");
                Ok(None)
            }
        }
    }

    async fn within_timeout<T>(&self, call: impl Future<Output = T>) -> Result<T, LoginError> {
        tokio::time::timeout(self.timeout, call).await.map_err(|_| LoginError::Timeout)
    }

    /// Whether these claims grant the admin role; `None` when they do not mention the claim at all.
    fn admin_in(&self, claims: &Map<String, Value>) -> Option<bool> {
        admin_claim(claims, &self.admin_claim, &self.admin_value)
    }

    /// Where to send the shopper to end the provider's session too (RP-initiated logout), if it supports that.
    pub fn logout_url(&self, id_token: Option<&str>) -> Option<String> {
        let endpoint = self.metadata().additional_metadata().end_session_endpoint.clone()?;
        let mut request = LogoutRequest::from(endpoint).set_client_id(self.client_id.clone());
        if let Ok(url) = PostLogoutRedirectUrl::new(self.post_logout_url.clone()) {
            request = request.set_post_logout_redirect_uri(url);
        }
        if let Some(token) = id_token.and_then(|raw| CoreIdToken::from_str(raw).ok()) {
            request = request.set_id_token_hint(&token);
        }
        Some(request.http_get_url().to_string())
    }
}

/// Why a sign-in could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("the provider did not answer in time")]
    Timeout,
    #[error("{0}")]
    Rejected(String),
}

/// Claims beyond the standard ones (such as the admin group), as JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    claims: Map<String, Value>,
}

impl AdditionalClaims for OtherClaims {}

/// The claims of a JWT whose signature was already verified.
fn jwt_payload(verified_jwt: &str) -> Option<Map<String, Value>> {
    let payload = verified_jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Reads the admin claim, which may be a list (`"groups": ["cartograph-admin"]`), a space-separated string, or a
/// boolean (`"admin": true`, with the admin value `true`). `None` when the claim is absent.
fn admin_claim(claims: &Map<String, Value>, claim: &str, admin_value: &str) -> Option<bool> {
    Some(match claims.get(claim)? {
        Value::Array(values) => values.iter().any(|v| v.as_str() == Some(admin_value)),
        Value::String(value) => value.split_whitespace().any(|v| v == admin_value),
        // A flag grants the role only when the operator configured the value `true`: a provider that happens to
        // send `"groups": true` does not make everyone an admin.
        Value::Bool(flag) => *flag && admin_value == "true",
        _ => false,
    })
}

/// Whether the HTTP client gave up waiting somewhere in this error's chain.
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.downcast_ref::<openidconnect::reqwest::Error>().is_some_and(|e| e.is_timeout()) {
            return true;
        }
        current = error.source();
    }
    false
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{admin_claim, jwt_payload};
    use base64::Engine;

    fn admin(payload: &str, claim: &str, value: &str) -> Option<bool> {
        let encode = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let jwt = format!("{}.{}.sig", encode(r#"{"alg":"RS256"}"#), encode(payload));
        admin_claim(&jwt_payload(&jwt).expect("a payload"), claim, value)
    }

    #[test]
    fn admin_is_read_from_a_group_list_a_string_or_a_flag() {
        assert_eq!(admin(r#"{"groups":["staff","cartograph-admin"]}"#, "groups", "cartograph-admin"), Some(true));
        assert_eq!(admin(r#"{"roles":"reader cartograph-admin"}"#, "roles", "cartograph-admin"), Some(true));
        assert_eq!(admin(r#"{"admin":true}"#, "admin", "true"), Some(true));
        assert_eq!(admin(r#"{"admin":true}"#, "admin", "cartograph-admin"), Some(false), "a flag only when asked for");
    }

    #[test]
    fn shoppers_are_not_admins_and_a_missing_claim_is_told_apart() {
        assert_eq!(admin(r#"{"groups":[]}"#, "groups", "cartograph-admin"), Some(false));
        assert_eq!(admin(r#"{"groups":["cartograph-admins"]}"#, "groups", "cartograph-admin"), Some(false));
        assert_eq!(admin(r#"{"sub":"x"}"#, "groups", "cartograph-admin"), None);
        assert!(jwt_payload("not-a-jwt").is_none());
    }
}
