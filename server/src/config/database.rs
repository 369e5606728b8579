//! `[database]`: the PostgreSQL server.
//!
//! | key | environment variable | default |
//! |---|---|---|
//! | `url` | `CARTOGRAPH_DATABASE_URL` | dev: [`dev_defaults::DATABASE_URL`](super::dev_defaults::DATABASE_URL); production: required, with `sslmode=verify-full` for a server off this machine |
//! | `ca_file` | `CARTOGRAPH_DATABASE_CA_FILE` | unset: the public web roots only |
//! | `max_connections` | `CARTOGRAPH_DATABASE_MAX_CONNECTIONS` | 10 |
//! | `acquire_timeout_ms` | `CARTOGRAPH_DATABASE_ACQUIRE_TIMEOUT_MS` | 2000 (at least 1) |

use super::values;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// The connection URL; it may carry a password, so it is a secret (`check-config` shows it with the password
    /// replaced).
    #[serde(serialize_with = "values::hidden")]
    pub url: Option<SecretString>,
    /// A PEM file with the CA that signed the database server's certificate (for `sslmode=verify-full` with a
    /// private CA); the public web roots are trusted either way.
    pub ca_file: Option<String>,
    pub max_connections: u32,
    /// How long a request waits for a database connection before it is answered 503 (the database is down
    /// or every connection is busy): short, so an outage fails fast instead of piling requests up.
    #[serde(rename = "acquire_timeout_ms", with = "values::positive_ms")]
    pub acquire_timeout: Duration,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self { url: None, ca_file: None, max_connections: 10, acquire_timeout: Duration::from_millis(2_000) }
    }
}

impl DatabaseSettings {
    /// The database URL; always present after [`super::Settings::complete`].
    pub fn url(&self) -> &str {
        self.url.as_ref().map(|url| url.expose_secret()).unwrap_or_default()
    }

    /// The CA file, unless it is not a file.
    pub(super) fn check(&self) -> Result<(), String> {
        match &self.ca_file {
            Some(file) if !std::path::Path::new(file).is_file() => {
                Err(format!("CARTOGRAPH_DATABASE_CA_FILE {file} is not a file"))
            }
            _ => Ok(()),
        }
    }
}

/// Why a production database URL is unsafe, if it is: a server off this machine reached without
/// `sslmode=verify-full` (a plaintext or unverified connection).
pub(super) fn unencrypted(url: &str) -> Option<String> {
    use sqlx::postgres::{PgConnectOptions, PgSslMode};
    let options: PgConnectOptions = match url.parse() {
        Ok(options) => options,
        Err(error) => return Some(format!("CARTOGRAPH_DATABASE_URL is not a PostgreSQL URL: {error}")),
    };
    let host = options.get_host();
    let bracketed = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_string() };
    let local = options.get_socket().is_some()
        || host.starts_with('/')
        || super::is_loopback_url(&format!("postgres://{bracketed}/"));
    (!local && !matches!(options.get_ssl_mode(), PgSslMode::VerifyFull)).then(|| {
        format!(
            "CARTOGRAPH_DATABASE_URL reaches {host} without sslmode=verify-full: add it (and CARTOGRAPH_DATABASE_CA_FILE \
             for a private CA), so the connection is encrypted and the server proven"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::unencrypted;

    #[test]
    fn a_remote_database_needs_verified_tls_in_production_and_a_local_one_does_not() {
        assert!(unencrypted("postgres://db.example.com/shop").is_some());
        assert!(unencrypted("postgres://db.example.com/shop?sslmode=require").is_some());
        assert!(unencrypted("postgres://db.example.com/shop?sslmode=verify-ca").is_some());
        assert!(unencrypted("postgres://db.example.com/shop?sslmode=verify-full").is_none());
        for local in [
            "postgres://127.0.0.1/shop",
            "postgres://localhost:5432/shop",
            "postgres://[::1]/shop",
            "postgres:///shop?host=/run/postgresql",
        ] {
            assert!(unencrypted(local).is_none(), "{local}");
        }
    }
}
