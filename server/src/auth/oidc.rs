//! The OpenID Connect relying party: discovery, the authorization request and ID-token verification.

use crate::config::Settings;
use anyhow::{anyhow, Context};
use base64::Engine;
use openidconnect::{
    core::{CoreAuthenticationFlow, CoreClient, CoreIdToken},
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope, TokenResponse,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::{str::FromStr, time::Duration};

type ConfiguredClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// The relying party, built once at start from the provider's discovery document.
pub struct OidcClient {
    http: openidconnect::reqwest::Client,
    metadata: ProviderMetadataWithLogout,
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

impl OidcClient {
    /// Fetches the provider's discovery document, failing within `timeout` with an error naming the issuer.
    pub async fn discover(settings: &Settings, timeout: Duration) -> anyhow::Result<Self> {
        let issuer = settings.oidc_issuer_url.clone().unwrap_or_default();
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects from the token endpoint would open the door to SSRF.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()
            .context("building the HTTP client for OpenID Connect")?;
        let issuer_url = IssuerUrl::new(issuer.clone()).map_err(|e| anyhow!("invalid OIDC issuer URL {issuer}: {e}"))?;
        let discovery = ProviderMetadataWithLogout::discover_async(issuer_url, &http);
        let metadata = tokio::time::timeout(timeout, discovery)
            .await
            .map_err(|_| anyhow!("OpenID provider unreachable at {issuer}: no answer within {}s", timeout.as_secs()))?
            .map_err(|e| anyhow!("OpenID provider unreachable at {issuer}: {}", error_chain(&e)))?;
        let redirect = format!("{}/auth/callback", settings.public_url);
        Ok(Self {
            http,
            metadata,
            client_id: ClientId::new(settings.oidc_client_id.clone().unwrap_or_default()),
            client_secret: ClientSecret::new(
                settings.oidc_client_secret.as_ref().map(|s| s.expose_secret().to_string()).unwrap_or_default(),
            ),
            redirect_url: RedirectUrl::new(redirect.clone()).map_err(|e| anyhow!("invalid redirect URL {redirect}: {e}"))?,
            post_logout_url: format!("{}/", settings.public_url),
            scopes: settings.oidc_scopes.split_whitespace().map(str::to_owned).collect(),
            admin_claim: settings.oidc_admin_claim.clone(),
            admin_value: settings.oidc_admin_value.clone(),
        })
    }

    fn client(&self) -> ConfiguredClient {
        CoreClient::from_provider_metadata(self.metadata.clone(), self.client_id.clone(), Some(self.client_secret.clone()))
            .set_redirect_uri(self.redirect_url.clone())
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
    pub async fn finish_login(&self, code: String, pending: &PendingLogin) -> anyhow::Result<VerifiedIdentity> {
        let client = self.client();
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .context("the provider has no token endpoint")?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| anyhow!("code exchange failed: {}", error_chain(&e)))?;
        let id_token = token.id_token().context("the provider returned no ID token")?;
        let verifier = client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &Nonce::new(pending.nonce.clone()))
            .map_err(|e| anyhow!("ID token rejected: {e}"))?;
        if let Some(expected) = claims.access_token_hash() {
            let algorithm = id_token.signing_alg().map_err(|e| anyhow!("ID token rejected: {e}"))?;
            let key = id_token.signing_key(&verifier).map_err(|e| anyhow!("ID token rejected: {e}"))?;
            let actual = AccessTokenHash::from_token(token.access_token(), algorithm, key)
                .map_err(|e| anyhow!("ID token rejected: {e}"))?;
            if actual != *expected {
                anyhow::bail!("ID token rejected: at_hash does not match the access token");
            }
        }
        let raw = id_token.to_string();
        let email = claims.email().map(|email| email.as_str().to_string());
        let name = claims
            .name()
            .and_then(|name| name.get(None))
            .map(|name| name.as_str().to_string())
            .or_else(|| claims.preferred_username().map(|u| u.as_str().to_string()))
            .or_else(|| email.clone())
            .unwrap_or_else(|| claims.subject().as_str().to_string());
        Ok(VerifiedIdentity {
            issuer: claims.issuer().as_str().to_string(),
            subject: claims.subject().as_str().to_string(),
            name,
            email,
            is_admin: has_admin_claim(&raw, &self.admin_claim, &self.admin_value),
            id_token: raw,
        })
    }

    /// Where to send the shopper to end the provider's session too (RP-initiated logout), if it supports that.
    pub fn logout_url(&self, id_token: Option<&str>) -> Option<String> {
        let endpoint = self.metadata.additional_metadata().end_session_endpoint.clone()?;
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

/// Reads the admin claim from an ID token whose signature was already verified.
///
/// The claim may be a list (`"groups": ["cartograph-admin"]`), a string, or a boolean (`"admin": true`).
fn has_admin_claim(verified_jwt: &str, claim: &str, admin_value: &str) -> bool {
    let Some(payload) = verified_jwt.split('.').nth(1) else { return false };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')) else {
        return false;
    };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return false };
    match json.get(claim) {
        Some(serde_json::Value::Array(values)) => values.iter().any(|v| v.as_str() == Some(admin_value)),
        Some(serde_json::Value::String(value)) => value.split_whitespace().any(|v| v == admin_value),
        Some(serde_json::Value::Bool(flag)) => *flag,
        _ => false,
    }
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
    use super::has_admin_claim;
    use base64::Engine;

    fn jwt(payload: &str) -> String {
        let encode = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", encode(r#"{"alg":"RS256"}"#), encode(payload))
    }

    #[test]
    fn admin_is_read_from_a_group_list_a_string_or_a_flag() {
        assert!(has_admin_claim(&jwt(r#"{"groups":["staff","cartograph-admin"]}"#), "groups", "cartograph-admin"));
        assert!(has_admin_claim(&jwt(r#"{"roles":"reader cartograph-admin"}"#), "roles", "cartograph-admin"));
        assert!(has_admin_claim(&jwt(r#"{"admin":true}"#), "admin", "ignored"));
    }

    #[test]
    fn shoppers_and_garbage_are_not_admins() {
        assert!(!has_admin_claim(&jwt(r#"{"groups":[]}"#), "groups", "cartograph-admin"));
        assert!(!has_admin_claim(&jwt(r#"{"groups":["cartograph-admins"]}"#), "groups", "cartograph-admin"));
        assert!(!has_admin_claim("not-a-jwt", "groups", "cartograph-admin"));
    }
}
