//! Layered configuration: built-in defaults → optional TOML file → `CARTOGRAPH_*` environment variables.
//!
//! `dev` mode fills in local defaults for every service; `production` refuses to start until the database,
//! the broker and the OpenID provider are configured, and names what is missing.
//!
//! The settings come in sections, one file each, each listing its keys and environment variables:
//! [`database`], [`kafka`], [`oidc`], [`payments`], [`orders`], [`collect`], [`graphql`], [`webhooks`], [`email`],
//! [`visits`], [`session`], [`http`], [`retention`], [`telemetry`]. The top level holds what belongs to the whole process: `mode`, `listen_addr`,
//! `public_url`, `site_root`, `log_format`, `seed_demo_catalog`, `startup_timeout_secs`, `request_timeout_secs`,
//! `catalog_cache_secs`, `live_file` (`CARTOGRAPH_LIVE_FILE`: the settings reloaded while the web server runs,
//! `crate::live`).
//!
//! **In the file**, a section is a table: `[database] url = "postgres://…"`, `[kafka.properties]
//! security_protocol = "SASL_SSL"`. A key the section does not have is refused, and so is a top-level key from
//! before the sections (`database_url`): the error says where it went.
//!
//! **In the environment**, every variable keeps the name it had before the sections ([`ENV_NAMES`] maps each to
//! its place: `CARTOGRAPH_DATABASE_URL` is `database.url`, `CARTOGRAPH_PAYMENT_BREAKER_FAILURES` is
//! `payments.breaker_failures`). Besides:
//! - `CARTOGRAPH_KAFKA__<NAME>` is the librdkafka property `<name>` (`kafka.properties`, underscores read as dots):
//!   `CARTOGRAPH_KAFKA__SECURITY_PROTOCOL=SASL_SSL` is `security.protocol`;
//! - any other name with `__` is a path, `__` between the parts: `CARTOGRAPH_DATABASE__URL` is `database.url`
//!   too, `CARTOGRAPH_ORDERS__RESERVATION_MINUTES` is `orders.reservation_minutes`.
//!
//! Durations are whole numbers in the unit their key names (`_secs`, `_ms`, `_minutes`, `_days`); some must be
//! positive, as must some counts ([`std::num::NonZeroU32`]…). Every refusal names the environment variable
//! (`CARTOGRAPH_RESERVATION_MINUTES must be positive (got 0)`), and the key when the value came from the file.
//! Secrets never print: `Debug` hides them, serializing writes `***`, and [`Settings::redacted`] is what
//! `check-config` shows.

pub mod collect;
pub mod database;
pub mod email;
pub mod graphql;
pub mod http;
pub mod kafka;
pub mod oidc;
pub mod orders;
pub mod payments;
pub mod retention;
pub mod session;
pub mod telemetry;
mod values;
pub mod visits;
pub mod webhooks;

pub use collect::CollectSettings;
pub use database::DatabaseSettings;
pub use email::EmailSettings;
pub use graphql::GraphqlSettings;
pub use http::HttpSettings;
pub use kafka::KafkaSettings;
pub use oidc::OidcSettings;
pub use orders::OrderSettings;
pub use payments::{PaymentSettings, TEST_GATEWAY};
pub use retention::RetentionSettings;
pub use session::SessionSettings;
pub use telemetry::TelemetrySettings;
pub use visits::{VisitSettings, MIN_VISIT_KEY_BYTES};
pub use webhooks::WebhookSettings;

use figment::{
    error::{Actual, Kind},
    providers::{Env, Format, Serialized, Toml},
    Figment, Source,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::{net::SocketAddr, time::Duration};

/// The prefix of every environment variable the server reads.
pub const ENV_PREFIX: &str = "CARTOGRAPH_";

/// Every setting's environment variable (without [`ENV_PREFIX`], lower case) and its path in the settings. The
/// names are the ones from before the sections, kept as they were; errors name a setting by this table.
pub const ENV_NAMES: &[(&str, &str)] = &[
    ("mode", "mode"),
    ("listen_addr", "listen_addr"),
    ("public_url", "public_url"),
    ("site_root", "site_root"),
    ("log_format", "log_format"),
    ("seed_demo_catalog", "seed_demo_catalog"),
    ("startup_timeout_secs", "startup_timeout_secs"),
    ("request_timeout_secs", "request_timeout_secs"),
    ("catalog_cache_secs", "catalog_cache_secs"),
    ("live_file", "live_file"),
    ("database_url", "database.url"),
    ("database_ca_file", "database.ca_file"),
    ("database_max_connections", "database.max_connections"),
    ("database_acquire_timeout_ms", "database.acquire_timeout_ms"),
    ("kafka_brokers", "kafka.brokers"),
    ("kafka_topic_prefix", "kafka.topic_prefix"),
    ("kafka_partitions", "kafka.partitions"),
    ("kafka_consumer_group", "kafka.consumer_group"),
    ("kafka_group_member", "kafka.group_member"),
    ("oidc_issuer_url", "oidc.issuer_url"),
    ("oidc_client_id", "oidc.client_id"),
    ("oidc_client_secret", "oidc.client_secret"),
    ("oidc_ca_file", "oidc.ca_file"),
    ("oidc_scopes", "oidc.scopes"),
    ("oidc_admin_claim", "oidc.admin_claim"),
    ("oidc_admin_value", "oidc.admin_value"),
    ("oidc_timeout_secs", "oidc.timeout_secs"),
    ("payment_gateway", "payments.gateway"),
    ("payment_timeout_secs", "payments.timeout_secs"),
    ("payment_breaker_failures", "payments.breaker_failures"),
    ("payment_breaker_cooldown_secs", "payments.breaker_cooldown_secs"),
    ("payment_failures_per_user", "payments.failures_per_user"),
    ("payment_failures_per_card", "payments.failures_per_card"),
    ("payment_failure_window_minutes", "payments.failure_window_minutes"),
    ("payment_settle_after_secs", "payments.settle_after_secs"),
    ("payment_settle_sweep_secs", "payments.settle_sweep_secs"),
    ("test_gateway_latency_ms", "payments.test_gateway_latency_ms"),
    ("test_gateway_slow_ms", "payments.test_gateway_slow_ms"),
    ("reservation_minutes", "orders.reservation_minutes"),
    ("expiry_sweep_secs", "orders.expiry_sweep_secs"),
    ("max_unpaid_orders", "orders.max_unpaid_orders"),
    ("max_reserved_per_product", "orders.max_reserved_per_product"),
    ("prices_include_tax", "orders.prices_include_tax"),
    ("collect_rate_per_visit", "collect.rate_per_visit"),
    ("collect_rate_per_ip", "collect.rate_per_ip"),
    ("collect_max_concurrency", "collect.max_concurrency"),
    ("trusted_proxies", "collect.trusted_proxies"),
    ("broker_breaker_failures", "collect.broker_breaker_failures"),
    ("broker_breaker_cooldown_secs", "collect.broker_breaker_cooldown_secs"),
    ("graphql_rate_per_token", "graphql.rate_per_token"),
    ("graphql_burst_per_token", "graphql.burst_per_token"),
    ("graphql_introspection", "graphql.introspection"),
    ("graphql_allowlist", "graphql.allowlist"),
    ("webhook_timeout_secs", "webhooks.timeout_secs"),
    ("webhook_retry_base_secs", "webhooks.retry_base_secs"),
    ("webhook_retry_for_minutes", "webhooks.retry_for_minutes"),
    ("webhook_disable_after", "webhooks.disable_after"),
    ("webhook_allow_private", "webhooks.allow_private"),
    ("smtp_url", "email.smtp_url"),
    ("email_from", "email.from"),
    ("email_timeout_secs", "email.timeout_secs"),
    ("email_retry_base_secs", "email.retry_base_secs"),
    ("email_max_attempts", "email.max_attempts"),
    ("visit_idle_minutes", "visits.idle_minutes"),
    ("visit_sweep_secs", "visits.sweep_secs"),
    ("visit_max_events", "visits.max_events"),
    ("cart_reminder_minutes", "visits.cart_reminder_minutes"),
    ("visit_signing_key", "visits.signing_key"),
    ("session_idle_minutes", "session.idle_minutes"),
    ("session_absolute_minutes", "session.absolute_minutes"),
    ("session_touch_secs", "session.touch_secs"),
    ("http_header_read_timeout_secs", "http.header_read_timeout_secs"),
    ("http_idle_timeout_secs", "http.idle_timeout_secs"),
    ("http_max_connections", "http.max_connections"),
    ("retention_events_days", "retention.events_days"),
    ("retention_rejects_days", "retention.rejects_days"),
    ("retention_visits_days", "retention.visits_days"),
    ("retention_anonymous_carts_days", "retention.anonymous_carts_days"),
    ("retention_idempotency_days", "retention.idempotency_days"),
    ("retention_webhooks_days", "retention.webhooks_days"),
    ("retention_sweep_secs", "retention.sweep_secs"),
    ("otlp_endpoint", "telemetry.otlp_endpoint"),
    ("worker_metrics_addr", "telemetry.worker_metrics_addr"),
    ("internal_addr", "telemetry.internal_addr"),
];

/// The path an environment variable (without [`ENV_PREFIX`]) sets: its [`ENV_NAMES`] entry, a librdkafka
/// property for `KAFKA__<NAME>`, a nested path for any other name with `__`, else the name itself (which is no
/// setting, and ignored: the scripts' own `CARTOGRAPH_PORT` and the like).
pub fn env_path(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    if let Some(property) = name.strip_prefix("kafka__") {
        return format!("kafka.properties.{property}");
    }
    match ENV_NAMES.iter().find(|(flat, _)| *flat == name) {
        Some((_, path)) => path.to_string(),
        None => name.replace("__", "."),
    }
}

/// The environment variable that sets a path: the inverse of [`env_path`].
pub fn env_name(path: &str) -> String {
    let name = match ENV_NAMES.iter().find(|(_, known)| *known == path) {
        Some((flat, _)) => flat.to_string(),
        None => match path.strip_prefix("kafka.properties") {
            Some("") => "kafka__*".into(),
            Some(property) => format!("kafka__{}", property.trim_start_matches('.').replace('.', "_")),
            None => path.replace('.', "__"),
        },
    };
    format!("{ENV_PREFIX}{}", name.to_ascii_uppercase())
}

/// How the server behaves about defaults and cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Dev,
    Production,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Every setting, after layering. Optional service settings are filled for `dev` by [`Settings::load`].
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Settings {
    pub mode: Mode,
    pub listen_addr: SocketAddr,
    /// The URL shoppers reach the site at; sign-in redirects are built from it.
    pub public_url: String,
    /// Where the built site (`pkg/`) lives.
    pub site_root: String,
    pub log_format: LogFormat,
    /// Fill an empty catalog with the demo products at start.
    pub seed_demo_catalog: bool,
    /// How long the server waits for each service at start before giving up.
    #[serde(rename = "startup_timeout_secs", with = "values::secs")]
    pub startup_timeout: Duration,
    /// The limit for one HTTP request.
    #[serde(rename = "request_timeout_secs", with = "values::secs")]
    pub request_timeout: Duration,
    /// How long a web server keeps what it read of the catalog (shelves, categories, products) when no
    /// `catalog.v1` event empties it sooner; 0 keeps nothing.
    #[serde(rename = "catalog_cache_secs", with = "values::secs")]
    pub catalog_cache: Duration,
    /// The live file: settings reloaded while the web server runs (`crate::live`), if any.
    pub live_file: Option<String>,
    pub database: DatabaseSettings,
    pub kafka: KafkaSettings,
    pub oidc: OidcSettings,
    pub payments: PaymentSettings,
    pub orders: OrderSettings,
    pub collect: CollectSettings,
    pub graphql: GraphqlSettings,
    pub webhooks: WebhookSettings,
    pub email: EmailSettings,
    pub visits: VisitSettings,
    pub session: SessionSettings,
    pub http: HttpSettings,
    pub retention: RetentionSettings,
    pub telemetry: TelemetrySettings,
    /// The file the settings were read from, if any (not a setting: filled by [`Settings::load`]).
    #[serde(skip)]
    pub config_file: Option<String>,
    /// `CARTOGRAPH_*` variables in the environment that set nothing (a typo?), which every start warns of (not a
    /// setting: filled by [`Settings::load`]).
    #[serde(skip)]
    pub unknown_env: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: Mode::Production,
            listen_addr: "127.0.0.1:3000".parse().expect("valid literal address"),
            public_url: "http://127.0.0.1:3000".into(),
            site_root: "target/site".into(),
            log_format: LogFormat::Pretty,
            seed_demo_catalog: false,
            startup_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            catalog_cache: Duration::from_secs(60),
            live_file: None,
            database: DatabaseSettings::default(),
            kafka: KafkaSettings::default(),
            oidc: OidcSettings::default(),
            payments: PaymentSettings::default(),
            orders: OrderSettings::default(),
            collect: CollectSettings::default(),
            graphql: GraphqlSettings::default(),
            webhooks: WebhookSettings::default(),
            email: EmailSettings::default(),
            visits: VisitSettings::default(),
            session: SessionSettings::default(),
            http: HttpSettings::default(),
            retention: RetentionSettings::default(),
            telemetry: TelemetrySettings::default(),
            config_file: None,
            unknown_env: Vec::new(),
        }
    }
}

/// Local defaults used in `dev` mode for whatever is not configured.
pub mod dev_defaults {
    pub const DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/cartograph";
    pub const KAFKA_BROKERS: &str = "127.0.0.1:9092";
    pub const OIDC_ISSUER_URL: &str = "http://127.0.0.1:9400";
    pub const OIDC_CLIENT_ID: &str = "cartograph";
    pub const OIDC_CLIENT_SECRET: &str = "cartograph-dev-secret";
    /// Signs dev visit ids; known to everyone, so production refuses it.
    pub const VISIT_SIGNING_KEY: &str = "cartograph-dev-visit-signing-key-not-secret";
}

/// Why the settings could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// Production found settings that are missing or unsafe: every problem, in one line.
    #[error("production mode refuses to start: {}", .0.join("; "))]
    Refused(Vec<String>),
}

impl Settings {
    /// Loads defaults, then `CARTOGRAPH_CONFIG` (or `cartograph.toml` when present), then the environment.
    ///
    /// A `cartograph.toml` that merely sits in the working directory never chooses the mode: one that sets
    /// `mode` is refused unless `CARTOGRAPH_MODE` says the same, or the file is named in `CARTOGRAPH_CONFIG`.
    pub fn load() -> Result<Self, ConfigError> {
        let named = std::env::var(format!("{ENV_PREFIX}CONFIG")).ok();
        let file = named.clone().unwrap_or_else(|| "cartograph.toml".into());
        let present = std::path::Path::new(&file).is_file();
        if named.is_none() && present {
            let from_file: Option<Mode> = Figment::from(Toml::file(&file)).extract_inner("mode").ok();
            let from_env = std::env::var(format!("{ENV_PREFIX}MODE")).ok();
            if let Some(mode) = from_file {
                let env_agrees = from_env.is_some_and(|env| env.eq_ignore_ascii_case(mode.as_str()));
                if !env_agrees {
                    return Err(ConfigError::Invalid(format!(
                        "./{file} sets mode = \"{}\", but a file found in the working directory never chooses the mode: \
                         set CARTOGRAPH_MODE, or name the file in CARTOGRAPH_CONFIG",
                        mode.as_str()
                    )));
                }
            }
        }
        if present {
            flat_keys_refused(&file)?;
        }
        let figment = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(&file))
            // Today's flat names go to their sections; KAFKA__<NAME> is a librdkafka property; `__` nests.
            .merge(Env::prefixed(ENV_PREFIX).ignore(&["CONFIG"]).map(|name| env_path(name.as_str()).into()));
        let mut settings = Self::from_figment(figment)?;
        settings.config_file = present.then_some(file);
        settings.unknown_env = unknown_env(std::env::vars().map(|(name, _)| name));
        Ok(settings)
    }

    /// Extracts and completes settings from any figment (tests build their own).
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract().map_err(|error| ConfigError::Invalid(describe(error)))?;
        settings.complete()
    }

    /// Fills dev defaults (and keeps dev on this machine), or checks that production has everything it needs and
    /// nothing unsafe, listing every problem at once.
    pub fn complete(mut self) -> Result<Self, ConfigError> {
        self.oidc.check().map_err(ConfigError::Invalid)?;
        match self.mode {
            Mode::Dev => {
                use dev_defaults::*;
                self.database.url.get_or_insert_with(|| DATABASE_URL.into());
                self.kafka.brokers.get_or_insert_with(|| KAFKA_BROKERS.into());
                self.oidc.issuer_url.get_or_insert_with(|| OIDC_ISSUER_URL.into());
                self.oidc.client_id.get_or_insert_with(|| OIDC_CLIENT_ID.into());
                self.oidc.client_secret.get_or_insert_with(|| OIDC_CLIENT_SECRET.into());
                self.visits.signing_key.get_or_insert_with(|| VISIT_SIGNING_KEY.into());
                self.payments.gateway.get_or_insert_with(|| TEST_GATEWAY.into());
                // Dev signs anyone in as admin through the dev provider: it never leaves this machine.
                if !self.listen_addr.ip().is_loopback() {
                    return Err(ConfigError::Invalid(format!(
                        "dev mode listens on loopback addresses only, not {} (use CARTOGRAPH_MODE=production)",
                        self.listen_addr
                    )));
                }
                if !is_loopback_url(&self.public_url) {
                    return Err(ConfigError::Invalid(format!(
                        "dev mode serves loopback URLs only, not CARTOGRAPH_PUBLIC_URL={}",
                        self.public_url
                    )));
                }
            }
            Mode::Production => {
                let problems = self.production_problems();
                if !problems.is_empty() {
                    return Err(ConfigError::Refused(problems));
                }
            }
        }
        self.payments.check().map_err(ConfigError::Invalid)?;
        self.telemetry.complete().map_err(ConfigError::Invalid)?;
        self.kafka.check().map_err(ConfigError::Invalid)?;
        self.database.check().map_err(ConfigError::Invalid)?;
        self.visits.check().map_err(ConfigError::Invalid)?;
        self.public_url = self.public_url.trim_end_matches('/').to_string();
        Ok(self)
    }

    /// Everything production refuses: what is missing, and what is only safe on a developer's machine.
    fn production_problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = [
            ("CARTOGRAPH_DATABASE_URL", self.database.url.is_none()),
            ("CARTOGRAPH_KAFKA_BROKERS", self.kafka.brokers.is_none()),
            ("CARTOGRAPH_OIDC_ISSUER_URL", self.oidc.issuer_url.is_none()),
            ("CARTOGRAPH_OIDC_CLIENT_ID", self.oidc.client_id.is_none()),
            ("CARTOGRAPH_OIDC_CLIENT_SECRET", self.oidc.client_secret.is_none()),
            ("CARTOGRAPH_VISIT_SIGNING_KEY", self.visits.signing_key.is_none()),
        ]
        .into_iter()
        .filter(|(_, is_missing)| *is_missing)
        .map(|(name, _)| format!("{name} is missing"))
        .collect();
        if !self.public_url.starts_with("https://") {
            problems.push(format!("CARTOGRAPH_PUBLIC_URL must be https://, not {}", self.public_url));
        }
        if let Some(issuer) = &self.oidc.issuer_url {
            if !issuer.starts_with("https://") {
                problems.push(format!("CARTOGRAPH_OIDC_ISSUER_URL must be https://, not {issuer}"));
            } else if is_loopback_url(issuer) {
                problems.push(format!("CARTOGRAPH_OIDC_ISSUER_URL {issuer} is on this machine (a dev provider?)"));
            }
        }
        if self
            .oidc
            .client_secret
            .as_ref()
            .is_some_and(|secret| secret.expose_secret() == dev_defaults::OIDC_CLIENT_SECRET)
        {
            problems.push("CARTOGRAPH_OIDC_CLIENT_SECRET is the published dev secret".into());
        }
        if self.visits.signing_key.as_ref().is_some_and(|key| key.expose_secret() == dev_defaults::VISIT_SIGNING_KEY) {
            problems.push("CARTOGRAPH_VISIT_SIGNING_KEY is the published dev key".into());
        }
        if let Some(url) = &self.database.url {
            if let Some(problem) = database::unencrypted(url.expose_secret()) {
                problems.push(problem);
            }
        }
        if self.seed_demo_catalog {
            problems.push("CARTOGRAPH_SEED_DEMO_CATALOG=true would fill the shop with demo products".into());
        }
        if self.payments.gateway.is_none() {
            problems.push(format!(
                "CARTOGRAPH_PAYMENT_GATEWAY is not set: the only gateway built in is `{TEST_GATEWAY}`, which takes no \
                 money; set CARTOGRAPH_PAYMENT_GATEWAY={TEST_GATEWAY} on purpose to run with it"
            ));
        }
        problems
    }

    /// Where webhook deliveries may go: `https://` only in production, loopback only on a developer's machine,
    /// private ranges only when the operator allows them.
    pub fn webhook_targets(&self) -> app::webhooks::TargetRules {
        let production = self.mode == Mode::Production;
        app::webhooks::TargetRules {
            https_only: production,
            allow_loopback: !production,
            allow_private: self.webhooks.allow_private,
        }
    }

    /// Whether cookies must carry `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.mode == Mode::Production
    }

    /// What `cartograph check-config` prints: every setting by section, each secret as `***` (the database URL
    /// with its password so) and the secret Kafka properties as `[redacted]`.
    pub fn redacted(&self) -> serde_json::Value {
        let mut view = serde_json::to_value(self).unwrap_or_default();
        if let (Some(url), Some(field)) = (&self.database.url, view.pointer_mut("/database/url")) {
            *field = serde_json::Value::String(redact_url(url.expose_secret()));
        }
        view
    }
}

/// The variables the scripts set for themselves, never read by the binary (`scripts/`, `end2end/`).
const SCRIPT_ENV_NAMES: &[&str] = &[
    "config",
    "bin",
    "cache_dir",
    "port",
    "e2e_port",
    "pg_port",
    "kafka_port",
    "oidc_port",
    "test_admin_database_url",
];

/// The `CARTOGRAPH_*` names among `names` that set nothing: no flat name, no librdkafka property, no section (a
/// section's own keys, `CARTOGRAPH_<SECTION>__<KEY>`, are checked when they are read).
/// Without this, a misspelt variable would be ignored in silence (an unknown top-level key is not an error).
/// Kubernetes' service links (`CARTOGRAPH_WEB_SERVICE_HOST`, `CARTOGRAPH_WEB_PORT_80_TCP`… for a Service named
/// `cartograph-web`) are not the operator's and are left out.
fn unknown_env(names: impl Iterator<Item = String>) -> Vec<String> {
    let service_link = |name: &str| {
        name.contains("_SERVICE_")
            || name.ends_with("_PORT")
            || ["_TCP", "_UDP", "_SCTP", "_PROTO", "_ADDR"]
                .iter()
                .any(|end| name.contains("_PORT_") && name.ends_with(end))
    };
    let mut unknown: Vec<String> = names
        .filter(|name| {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else { return false };
            if service_link(rest) {
                return false;
            }
            let rest = rest.to_ascii_lowercase();
            let section = rest.split_once("__").map(|(section, _)| section);
            !(ENV_NAMES.iter().any(|(flat, _)| *flat == rest)
                || SCRIPT_ENV_NAMES.contains(&rest.as_str())
                || section
                    .is_some_and(|section| ENV_NAMES.iter().any(|(_, path)| path.split('.').next() == Some(section))))
        })
        .collect();
    unknown.sort();
    unknown
}

/// A file with top-level keys from before the sections is refused, saying where each went: read as they are,
/// they would be ignored, and a production file would lose its settings without a word.
fn flat_keys_refused(file: &str) -> Result<(), ConfigError> {
    let Ok(keys) = Figment::from(Toml::file(file)).extract::<figment::value::Dict>() else { return Ok(()) };
    let moved: Vec<String> = keys
        .keys()
        .filter_map(|key| ENV_NAMES.iter().find(|(flat, path)| *flat == key.as_str() && path.contains('.')))
        .map(|(flat, path)| {
            let (section, key) = path.split_once('.').unwrap_or_default();
            format!("`{flat}` is `{key}` under [{section}]")
        })
        .collect();
    if moved.is_empty() {
        return Ok(());
    }
    Err(ConfigError::Invalid(format!(
        "{file} uses names from before the settings had sections (see cartograph.example.toml): {}",
        moved.join(", ")
    )))
}

/// A figment error in one line, each problem naming the environment variable of the setting (and its key, when
/// the value came from a file).
fn describe(error: figment::Error) -> String {
    let problems: Vec<String> = error.into_iter().map(|error| describe_one(&error)).collect();
    problems.join("; ")
}

fn describe_one(error: &figment::Error) -> String {
    if error.path.is_empty() {
        return one_line(&error.to_string());
    }
    let path = error.path.join(".");
    let what = match &error.kind {
        Kind::InvalidValue(actual, expected) if expected.starts_with("a nonzero") => {
            format!("must be positive (got {})", shown(actual))
        }
        // The refusals of `values` read after the name: `… must be positive (got 0)`.
        Kind::Message(message) if message.starts_with("must ") || message.starts_with("is ") => message.clone(),
        Kind::UnknownField(field, expected) => {
            // The path ends with the field; the section is what comes before it.
            let section = error.path[..error.path.len() - 1].join(".");
            let section = if section.is_empty() { field.to_string() } else { section };
            let hint = if section == "kafka" {
                " (librdkafka properties go under [kafka.properties], or in CARTOGRAPH_KAFKA__<NAME>)"
            } else {
                ""
            };
            format!("is not a setting: [{section}] has {}{hint}", expected.join(", "))
        }
        kind => format!("is invalid: {}", one_line(&kind.to_string())),
    };
    match error.metadata.as_ref().and_then(|metadata| metadata.source.as_ref()) {
        // A key no setting has has no environment variable either.
        Some(Source::File(file)) if matches!(error.kind, Kind::UnknownField(..)) => {
            format!("`{path}` in {} {what}", file.display())
        }
        Some(Source::File(file)) => format!("`{path}` in {} ({}) {what}", file.display(), env_name(&path)),
        _ => format!("{} {what}", env_name(&path)),
    }
}

fn shown(actual: &Actual) -> String {
    match actual {
        Actual::Unsigned(value) => value.to_string(),
        Actual::Signed(value) => value.to_string(),
        Actual::Float(value) => value.to_string(),
        other => other.to_string(),
    }
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Dev => "dev",
            Mode::Production => "production",
        }
    }
}

/// Whether a URL's host is this machine: `localhost`, a 127.0.0.0/8 address or `[::1]`.
pub fn is_loopback_url(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(host, _)| host),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The database URL with any password replaced (in the credentials and in a `password=` parameter), fit for
/// logs and error messages.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut redacted = match (base.find("://"), base.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => match base[scheme_end + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{}:***{}", &base[..scheme_end + 3], user, &base[at..]),
            None => base.to_string(),
        },
        _ => base.to_string(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
                _ => pair.to_string(),
            })
            .collect();
        redacted = format!("{redacted}?{}", pairs.join("&"));
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::Serialized;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        for (key, value) in pairs {
            figment = figment.merge((*key, *value));
        }
        Settings::from_figment(figment)
    }

    #[test]
    fn a_misspelt_variable_is_named_and_the_known_ones_are_not() {
        let names = [
            "CARTOGRAPH_TRUSTED_PROXIES",
            "CARTOGRAPH_COLLECT_TRUSTED_PROXIES",
            "CARTOGRAPH_KAFKA__SASL_USERNAME",
            "CARTOGRAPH_COLLECT__RATE_PER_IP",
            "CARTOGRAPH_TEST_ADMIN_DATABASE_URL",
            "CARTOGRAPH_DATABSE_URL",
            "CARTOGRAPH_WEB_SERVICE_HOST",
            "CARTOGRAPH_WEB_PORT",
            "CARTOGRAPH_WEB_PORT_80_TCP_ADDR",
            "PATH",
        ];
        let unknown = unknown_env(names.iter().map(|name| name.to_string()));
        assert_eq!(unknown, ["CARTOGRAPH_COLLECT_TRUSTED_PROXIES", "CARTOGRAPH_DATABSE_URL"]);
    }

    #[test]
    fn production_names_every_missing_service() {
        let error = with(&[]).unwrap_err().to_string();
        for name in ["CARTOGRAPH_DATABASE_URL", "CARTOGRAPH_KAFKA_BROKERS", "CARTOGRAPH_OIDC_ISSUER_URL"] {
            assert!(error.contains(name), "{error} should name {name}");
        }
    }

    #[test]
    fn production_requires_https_public_url() {
        let error = with(&[
            ("database.url", "postgres://db/cartograph"),
            ("kafka.brokers", "kafka:9092"),
            ("oidc.issuer_url", "https://id.example.com"),
            ("oidc.client_id", "shop"),
            ("oidc.client_secret", "s3cret"),
            ("visits.signing_key", "0123456789abcdef0123456789abcdef"),
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("https://"), "{error}");
    }

    #[test]
    fn kafka_properties_read_underscores_as_dots_and_refuse_what_cartograph_sets() {
        use figment::providers::{Format, Toml};
        let figment = Figment::from(Serialized::defaults(Settings::default()))
            .merge(("mode", "dev"))
            .merge(Toml::string("[kafka.properties]\nsecurity_protocol = \"SASL_SSL\"\n\"sasl.mechanism\" = \"PLAIN\"\nsocket_timeout_ms = 5000\nlog_level = 6\n"));
        let settings = Settings::from_figment(figment).unwrap();
        let properties: Vec<(&str, &str)> = settings.kafka.properties.iter().collect();
        assert_eq!(
            properties,
            [
                ("log_level", "6"),
                ("sasl.mechanism", "PLAIN"),
                ("security.protocol", "SASL_SSL"),
                ("socket.timeout.ms", "5000")
            ]
        );
        let config = crate::kafka::client_config(&settings.kafka.connection());
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"), "the properties reach the client config");
        assert_eq!(config.get("log_level"), Some("6"));
        let refused = Settings::from_figment(
            Figment::from(Serialized::defaults(Settings::default()))
                .merge(("mode", "dev"))
                .merge(Toml::string("[kafka.properties]\nenable_auto_commit = true\n")),
        )
        .unwrap_err()
        .to_string();
        assert!(refused.contains("enable.auto.commit cannot be passed through"), "{refused}");
    }

    fn production(extra: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut pairs = vec![
            ("database.url", "postgres://db/cartograph?sslmode=verify-full"),
            ("kafka.brokers", "kafka:9092"),
            ("oidc.issuer_url", "https://id.example.com"),
            ("oidc.client_id", "shop"),
            ("oidc.client_secret", "s3cret"),
            ("public_url", "https://shop.example.com"),
            ("payments.gateway", "test"),
            ("visits.signing_key", "4f1c0a9e3b7d2f5a8c6e1b0d9f3a7c5e"),
        ];
        // A later pair for the same key wins.
        pairs.extend_from_slice(extra);
        with(&pairs)
    }

    #[test]
    fn production_needs_its_own_visit_signing_key_of_32_bytes() {
        let without = Figment::from(Serialized::defaults(Settings::default()))
            .merge(("public_url", "https://shop.example.com"))
            .merge(("payments.gateway", "test"));
        let missing = Settings::from_figment(without).unwrap_err().to_string();
        assert!(missing.contains("CARTOGRAPH_VISIT_SIGNING_KEY is missing"), "{missing}");
        let short = production(&[("visits.signing_key", "too short")]).unwrap_err().to_string();
        assert!(short.contains("at least 32 bytes"), "{short}");
        let published = production(&[("visits.signing_key", dev_defaults::VISIT_SIGNING_KEY)]).unwrap_err().to_string();
        assert!(published.contains("published dev key"), "{published}");
        let key = "4f1c0a9e3b7d2f5a8c6e1b0d9f3a7c5e";
        assert_eq!(production(&[("visits.signing_key", key)]).unwrap().visits.signing_key(), key.as_bytes());
        assert_eq!(with(&[("mode", "dev")]).unwrap().visits.signing_key(), dev_defaults::VISIT_SIGNING_KEY.as_bytes());
    }

    /// What the security review started: a production start with the dev stack's settings.
    #[test]
    fn production_refuses_every_unsafe_setting_in_one_line() {
        let dev_stack = Figment::from(Serialized::defaults(Settings::default()))
            .merge(("public_url", "http://shop.example.com"))
            .merge(("database.url", "postgres://db/cartograph?sslmode=verify-full"))
            .merge(("kafka.brokers", "kafka:9092"))
            .merge(("oidc.issuer_url", "http://127.0.0.1:9400"))
            .merge(("oidc.client_id", "cartograph"))
            .merge(("oidc.client_secret", dev_defaults::OIDC_CLIENT_SECRET))
            .merge(("visits.signing_key", dev_defaults::VISIT_SIGNING_KEY))
            .merge(("seed_demo_catalog", true));
        let error = Settings::from_figment(dev_stack).unwrap_err().to_string();
        assert!(error.starts_with("production mode refuses to start: "), "{error}");
        for problem in [
            "CARTOGRAPH_PUBLIC_URL must be https://",
            "CARTOGRAPH_OIDC_ISSUER_URL must be https://",
            "CARTOGRAPH_OIDC_CLIENT_SECRET is the published dev secret",
            "CARTOGRAPH_VISIT_SIGNING_KEY is the published dev key",
            "CARTOGRAPH_SEED_DEMO_CATALOG=true",
            "CARTOGRAPH_PAYMENT_GATEWAY is not set",
        ] {
            assert!(error.contains(problem), "{error}\nshould say {problem}");
        }
        assert!(!error.contains('\n'));
        let loopback = production(&[("oidc.issuer_url", "https://localhost:9400")]).unwrap_err().to_string();
        assert!(loopback.contains("is on this machine"), "{loopback}");
    }

    #[test]
    fn the_test_gateway_runs_only_when_asked_for_and_other_gateways_do_not_exist() {
        assert!(production(&[]).unwrap().payments.test_payments(), "asked for on purpose");
        assert!(with(&[("mode", "dev")]).unwrap().payments.test_payments(), "dev's default");
        let unknown = production(&[("payments.gateway", "stripe")]).unwrap_err().to_string();
        assert!(unknown.contains("not a gateway this build has"), "{unknown}");
    }

    #[test]
    fn an_empty_admin_value_is_refused_in_every_mode() {
        let error = with(&[("mode", "dev"), ("oidc.admin_value", " ")]).unwrap_err().to_string();
        assert!(error.contains("CARTOGRAPH_OIDC_ADMIN_VALUE is empty"), "{error}");
        assert!(production(&[("oidc.admin_value", "")]).is_err());
    }

    #[test]
    fn dev_mode_stays_on_this_machine() {
        let error = with(&[("mode", "dev"), ("listen_addr", "0.0.0.0:3000")]).unwrap_err().to_string();
        assert!(error.contains("loopback addresses only"), "{error}");
        let error = with(&[("mode", "dev"), ("public_url", "http://shop.example.com")]).unwrap_err().to_string();
        assert!(error.contains("loopback URLs only"), "{error}");
        assert!(with(&[("mode", "dev"), ("listen_addr", "[::1]:3000"), ("public_url", "http://[::1]:3000")]).is_ok());
    }

    #[test]
    fn loopback_urls_are_recognised() {
        for url in [
            "http://127.0.0.1:9400",
            "http://localhost",
            "https://LOCALHOST:1/x",
            "http://[::1]:3000/",
            "http://127.9.9.9",
            "http://u:p@127.0.0.1/",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in ["https://id.example.com", "https://10.0.0.1", "https://localhost.example.com", "not a url"] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn dev_fills_local_defaults_and_keeps_overrides() {
        let settings = with(&[("mode", "dev"), ("kafka.brokers", "127.0.0.1:19092")]).unwrap();
        assert_eq!(settings.database.url(), dev_defaults::DATABASE_URL);
        assert_eq!(settings.kafka.brokers(), "127.0.0.1:19092");
        assert_eq!(settings.oidc.issuer_url.as_deref(), Some(dev_defaults::OIDC_ISSUER_URL));
        assert!(!settings.secure_cookies());
    }

    #[test]
    fn bad_values_are_reported_in_one_line() {
        let error = with(&[("mode", "staging")]).unwrap_err().to_string();
        assert!(error.starts_with("invalid configuration"), "{error}");
        assert!(!error.contains('\n'));
    }

    #[test]
    fn breakers_have_defaults_and_refuse_zero() {
        let settings = with(&[("mode", "dev")]).unwrap();
        assert_eq!(settings.payments.breaker().failure_threshold, 5);
        assert_eq!(settings.collect.broker_breaker().cool_down, std::time::Duration::from_secs(15));
        let zero = Figment::from(Serialized::defaults(Settings::default()))
            .merge(("mode", "dev"))
            .merge(("payments.breaker_failures", 0));
        let error = Settings::from_figment(zero).unwrap_err().to_string();
        assert!(error.contains("CARTOGRAPH_PAYMENT_BREAKER_"), "{error}");
    }

    #[test]
    fn the_worker_metrics_listener_can_be_moved_or_switched_off() {
        let default = with(&[("mode", "dev")]).unwrap();
        assert_eq!(default.telemetry.worker_metrics_addr(), Some("127.0.0.1:9465".parse().unwrap()));
        let off = with(&[("mode", "dev"), ("telemetry.worker_metrics_addr", "off")]).unwrap();
        assert_eq!(off.telemetry.worker_metrics_addr(), None);
        let error = with(&[("mode", "dev"), ("telemetry.worker_metrics_addr", "nine")]).unwrap_err().to_string();
        assert!(error.contains("CARTOGRAPH_WORKER_METRICS_ADDR"), "{error}");
    }

    #[test]
    fn trace_export_is_off_unless_an_http_endpoint_is_given() {
        assert_eq!(with(&[("mode", "dev")]).unwrap().telemetry.otlp_endpoint, None);
        assert_eq!(with(&[("mode", "dev"), ("telemetry.otlp_endpoint", " ")]).unwrap().telemetry.otlp_endpoint, None);
        let on = with(&[("mode", "dev"), ("telemetry.otlp_endpoint", "http://collector:4318")]).unwrap();
        assert_eq!(on.telemetry.otlp_endpoint.as_deref(), Some("http://collector:4318"));
        let error = with(&[("mode", "dev"), ("telemetry.otlp_endpoint", "collector:4318")]).unwrap_err().to_string();
        assert!(error.contains("CARTOGRAPH_OTLP_ENDPOINT"), "{error}");
    }

    #[test]
    fn passwords_in_the_query_are_redacted_too() {
        assert_eq!(
            redact_url("postgres://db/x?sslmode=verify-full&password=hunter2&user=shop"),
            "postgres://db/x?sslmode=verify-full&password=***&user=shop"
        );
        assert_eq!(redact_url("postgres://db/x?sslmode=require"), "postgres://db/x?sslmode=require");
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(redact_url("postgres://shop:hunter2@db:5432/x"), "postgres://shop:***@db:5432/x");
        assert_eq!(redact_url("postgres://postgres@127.0.0.1/x"), "postgres://postgres@127.0.0.1/x");
    }

    /// The paths of every value in a serialized [`Settings`], in dotted form.
    fn leaves(prefix: &str, value: &serde_json::Value, into: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(fields) if prefix != "kafka.properties" => {
                for (name, field) in fields {
                    let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
                    leaves(&path, field, into);
                }
            }
            _ => into.push(prefix.to_string()),
        }
    }

    #[test]
    fn every_setting_has_exactly_one_environment_name_and_back() {
        let mut paths = Vec::new();
        leaves("", &serde_json::to_value(Settings::default()).unwrap(), &mut paths);
        paths.retain(|path| path != "kafka.properties");
        let mut named: Vec<String> = ENV_NAMES.iter().map(|(_, path)| path.to_string()).collect();
        paths.sort();
        named.sort();
        assert_eq!(paths, named, "ENV_NAMES lists every setting, once");
        for (flat, path) in ENV_NAMES {
            assert_eq!(env_path(&flat.to_ascii_uppercase()), *path);
            assert_eq!(env_name(path), format!("CARTOGRAPH_{}", flat.to_ascii_uppercase()));
            // The nested form of the same setting (in `kafka`, `KAFKA__` is a librdkafka property instead).
            if !path.starts_with("kafka.") {
                assert_eq!(env_path(&path.replace('.', "__")), *path);
            }
        }
    }

    #[test]
    fn kafka_double_underscores_are_properties_and_other_double_underscores_nest() {
        assert_eq!(env_path("KAFKA__SECURITY_PROTOCOL"), "kafka.properties.security_protocol");
        assert_eq!(env_path("KAFKA_BROKERS"), "kafka.brokers");
        assert_eq!(env_path("DATABASE__URL"), "database.url");
        assert_eq!(env_path("DATABASE_URL"), "database.url");
        assert_eq!(env_path("PG_PORT"), "pg_port", "not a setting: left where nothing reads it");
        assert_eq!(env_name("kafka.properties"), "CARTOGRAPH_KAFKA__*");
        assert_eq!(env_name("database.no_such_key"), "CARTOGRAPH_DATABASE__NO_SUCH_KEY");
    }

    #[test]
    fn durations_and_counts_that_must_be_positive_refuse_zero_naming_the_variable() {
        for (path, name) in [
            ("orders.reservation_minutes", "CARTOGRAPH_RESERVATION_MINUTES"),
            ("orders.expiry_sweep_secs", "CARTOGRAPH_EXPIRY_SWEEP_SECS"),
            ("payments.timeout_secs", "CARTOGRAPH_PAYMENT_TIMEOUT_SECS"),
            ("payments.breaker_cooldown_secs", "CARTOGRAPH_PAYMENT_BREAKER_COOLDOWN_SECS"),
            ("oidc.timeout_secs", "CARTOGRAPH_OIDC_TIMEOUT_SECS"),
            ("database.acquire_timeout_ms", "CARTOGRAPH_DATABASE_ACQUIRE_TIMEOUT_MS"),
            ("collect.broker_breaker_failures", "CARTOGRAPH_BROKER_BREAKER_FAILURES"),
            ("collect.broker_breaker_cooldown_secs", "CARTOGRAPH_BROKER_BREAKER_COOLDOWN_SECS"),
            ("collect.max_concurrency", "CARTOGRAPH_COLLECT_MAX_CONCURRENCY"),
            ("session.idle_minutes", "CARTOGRAPH_SESSION_IDLE_MINUTES"),
            ("visits.idle_minutes", "CARTOGRAPH_VISIT_IDLE_MINUTES"),
            ("visits.max_events", "CARTOGRAPH_VISIT_MAX_EVENTS"),
            ("http.header_read_timeout_secs", "CARTOGRAPH_HTTP_HEADER_READ_TIMEOUT_SECS"),
            ("http.idle_timeout_secs", "CARTOGRAPH_HTTP_IDLE_TIMEOUT_SECS"),
            ("http.max_connections", "CARTOGRAPH_HTTP_MAX_CONNECTIONS"),
            ("retention.sweep_secs", "CARTOGRAPH_RETENTION_SWEEP_SECS"),
        ] {
            let figment =
                Figment::from(Serialized::defaults(Settings::default())).merge(("mode", "dev")).merge((path, 0));
            let error = Settings::from_figment(figment).unwrap_err().to_string();
            assert_eq!(error, format!("invalid configuration: {name} must be positive (got 0)"));
        }
        let figment = Figment::from(Serialized::defaults(Settings::default()))
            .merge(("mode", "dev"))
            .merge(("collect.rate_per_ip", -1));
        let rate = Settings::from_figment(figment).unwrap_err().to_string();
        assert!(rate.contains("CARTOGRAPH_COLLECT_RATE_PER_IP must be positive (got -1)"), "{rate}");
        let figment = Figment::from(Serialized::defaults(Settings::default()))
            .merge(("mode", "dev"))
            .merge(("kafka.partitions", 0));
        let partitions = Settings::from_figment(figment).unwrap_err().to_string();
        assert!(partitions.contains("CARTOGRAPH_KAFKA_PARTITIONS must be at least 1 (got 0)"), "{partitions}");
        // Where 0 was allowed, it still is.
        let figment = Figment::from(Serialized::defaults(Settings::default()))
            .merge(("mode", "dev"))
            .merge(("session.absolute_minutes", 0))
            .merge(("retention.events_days", 0));
        let settings = Settings::from_figment(figment).unwrap();
        assert_eq!(settings.session.absolute, Duration::ZERO);
        assert_eq!(settings.retention.events, None, "0 days keeps events forever");
    }

    #[test]
    fn durations_keep_the_unit_of_their_names() {
        let figment = Figment::from(Serialized::defaults(Settings::default()))
            .merge(("mode", "dev"))
            .merge(("orders.reservation_minutes", 2))
            .merge(("database.acquire_timeout_ms", 250))
            .merge(("payments.timeout_secs", 7))
            .merge(("retention.visits_days", 3));
        let settings = Settings::from_figment(figment).unwrap();
        assert_eq!(settings.orders.reservation, Duration::from_secs(120));
        assert_eq!(settings.database.acquire_timeout, Duration::from_millis(250));
        assert_eq!(settings.payments.timeout, Duration::from_secs(7));
        assert_eq!(settings.retention.visits, Some(Duration::from_secs(3 * 86_400)));
        let written = serde_json::to_value(&settings).unwrap();
        assert_eq!(written["orders"]["reservation_minutes"], 2);
        assert_eq!(written["database"]["acquire_timeout_ms"], 250);
        assert_eq!(written["retention"]["visits_days"], 3);
    }

    #[test]
    fn the_app_and_the_settings_share_their_defaults() {
        let settings = Settings::default();
        let session = app::server_context::SessionRules::default();
        assert_eq!(settings.session.rules().lifetime, session.lifetime);
        assert_eq!(settings.session.rules().touch_every, session.touch_every);
        let commerce = app::orders::store::CommerceSettings::default();
        assert_eq!(settings.orders.commerce().reservation, commerce.reservation);
        assert_eq!(settings.orders.commerce().max_unpaid_orders, commerce.max_unpaid_orders);
        assert_eq!(settings.orders.commerce().max_reserved_per_product, commerce.max_reserved_per_product);
        let throttle = app::orders::payment::AttemptLimits::default();
        assert_eq!(settings.payments.attempt_limits().window, throttle.window);
    }

    #[test]
    fn secrets_never_print() {
        let mut settings = production(&[
            ("database.url", "postgres://shop:hunter2@db/cartograph?sslmode=verify-full"),
            ("oidc.client_secret", "s3cret-oidc"),
        ])
        .unwrap();
        settings.kafka.properties.insert("sasl_password", "hunter3-kafka");
        let debug = format!("{settings:?}");
        let written = serde_json::to_string(&settings).unwrap();
        let view = settings.redacted().to_string();
        for printed in [&debug, &written, &view] {
            for secret in ["hunter2", "s3cret-oidc", "4f1c0a9e3b7d2f5a8c6e1b0d9f3a7c5e", "hunter3-kafka"] {
                assert!(!printed.contains(secret), "{secret} in {printed}");
            }
        }
        let view = settings.redacted();
        assert_eq!(view["database"]["url"], "postgres://shop:***@db/cartograph?sslmode=verify-full");
        assert_eq!(view["oidc"]["client_secret"], "***");
        assert_eq!(view["visits"]["signing_key"], "***");
        assert_eq!(view["kafka"]["properties"]["sasl.password"], "[redacted]");
        assert_eq!(view["kafka"]["brokers"], "kafka:9092", "what is no secret shows");
    }

    #[test]
    fn the_example_file_is_read_as_it_is() {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../cartograph.example.toml");
        flat_keys_refused(file).expect("the example uses the sections");
        let figment = Figment::from(Serialized::defaults(Settings::default())).merge(Toml::file(file));
        let settings = Settings::from_figment(figment).expect("the example is valid");
        assert_eq!(settings.mode, Mode::Dev);
        assert_eq!(settings.database.url(), dev_defaults::DATABASE_URL);
        assert_eq!(settings.orders.reservation, Duration::from_secs(15 * 60));
        assert_eq!(settings.collect.broker_breaker().failure_threshold, 3);
    }

    #[test]
    fn a_key_a_section_does_not_have_is_refused() {
        let error = with(&[("mode", "dev"), ("database.urll", "postgres://db/x")]).unwrap_err().to_string();
        assert!(error.contains("CARTOGRAPH_DATABASE__URLL is not a setting"), "{error}");
        let old_kafka = Figment::from(Serialized::defaults(Settings::default()))
            .merge(("mode", "dev"))
            .merge(Toml::string("[kafka]\nsecurity_protocol = \"SASL_SSL\"\n"));
        let error = Settings::from_figment(old_kafka).unwrap_err().to_string();
        assert!(error.contains("[kafka.properties]"), "{error}");
    }
}
