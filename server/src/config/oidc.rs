//! `[oidc]`: the OpenID provider that signs shoppers and admins in.
//!
//! | key | environment variable | default |
//! |---|---|---|
//! | `issuer_url` | `CARTOGRAPH_OIDC_ISSUER_URL` | dev: [`dev_defaults::OIDC_ISSUER_URL`](super::dev_defaults::OIDC_ISSUER_URL); production: required, `https://` on another host |
//! | `client_id` | `CARTOGRAPH_OIDC_CLIENT_ID` | dev: `cartograph`; production: required |
//! | `client_secret` | `CARTOGRAPH_OIDC_CLIENT_SECRET` | dev: the published dev secret; production: required, and not that one |
//! | `ca_file` | `CARTOGRAPH_OIDC_CA_FILE` | unset: the public web roots only; a PEM file of CAs to trust as well |
//! | `scopes` | `CARTOGRAPH_OIDC_SCOPES` | `email profile groups` |
//! | `admin_claim` | `CARTOGRAPH_OIDC_ADMIN_CLAIM` | `groups` |
//! | `admin_value` | `CARTOGRAPH_OIDC_ADMIN_VALUE` | `cartograph-admin` (never empty) |
//! | `timeout_secs` | `CARTOGRAPH_OIDC_TIMEOUT_SECS` | 10 (at least 1) |

use super::values;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    pub issuer_url: Option<String>,
    pub client_id: Option<String>,
    #[serde(serialize_with = "values::hidden")]
    pub client_secret: Option<SecretString>,
    /// A PEM file of CA certificates to trust for the provider besides the public web roots (a provider behind
    /// a private CA).
    pub ca_file: Option<String>,
    /// Scopes asked for besides `openid`, separated by spaces.
    pub scopes: String,
    /// The ID-token claim that lists a user's groups or roles.
    pub admin_claim: String,
    /// The value in that claim that makes a user an admin.
    pub admin_value: String,
    /// The limit for each call to the OpenID provider during a sign-in (token exchange, userinfo).
    #[serde(rename = "timeout_secs", with = "values::positive_secs")]
    pub timeout: Duration,
}

impl Default for OidcSettings {
    fn default() -> Self {
        Self {
            issuer_url: None,
            client_id: None,
            client_secret: None,
            ca_file: None,
            scopes: "email profile groups".into(),
            admin_claim: "groups".into(),
            admin_value: "cartograph-admin".into(),
            timeout: Duration::from_secs(10),
        }
    }
}

impl OidcSettings {
    /// The client secret; always present after [`super::Settings::complete`].
    pub fn client_secret(&self) -> &str {
        self.client_secret.as_ref().map(|secret| secret.expose_secret()).unwrap_or_default()
    }

    /// In every mode: an empty admin value would make anyone with an empty group an admin.
    pub(super) fn check(&self) -> Result<(), String> {
        if self.admin_value.trim().is_empty() {
            return Err("CARTOGRAPH_OIDC_ADMIN_VALUE is empty: it would match an empty group name".into());
        }
        Ok(())
    }
}
