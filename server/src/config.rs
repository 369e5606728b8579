//! Layered configuration: built-in defaults → optional TOML file → `CARTOGRAPH_*` environment variables.
//!
//! `dev` mode fills in local defaults for every service; `production` refuses to start until the database,
//! the broker and the OpenID provider are configured, and names what is missing.

use app::resilience::BreakerSettings;
use figment::{
    providers::{Env, Format, Serialized, Toml},
    Figment,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// The prefix of every environment variable the server reads.
pub const ENV_PREFIX: &str = "CARTOGRAPH_";

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
    #[serde(serialize_with = "serialize_secret_option")]
    pub database_url: Option<SecretString>,
    /// A PEM file with the CA that signed the database server's certificate (for `sslmode=verify-full` with a
    /// private CA); the public web roots are trusted either way.
    pub database_ca_file: Option<String>,
    pub database_max_connections: u32,
    /// How long a request waits for a database connection before it is answered 503 (the database is down
    /// or every connection is busy): short, so an outage fails fast instead of piling requests up.
    pub database_acquire_timeout_ms: u64,
    pub kafka_brokers: Option<String>,
    /// librdkafka properties for every Kafka client (TLS, SASL…): `CARTOGRAPH_KAFKA__SECURITY_PROTOCOL=SASL_SSL`.
    pub kafka: crate::kafka::KafkaProperties,
    /// Prepended to every topic name (isolates tests and tenants on a shared cluster).
    pub kafka_topic_prefix: String,
    pub kafka_partitions: i32,
    pub kafka_consumer_group: String,
    /// This worker's stable name in its consumer group (e.g. a StatefulSet pod name), making it a static
    /// member: restarted after a crash under the same name, it resumes its partitions at once. Unset, a
    /// crashed worker's partitions wait until the broker expires it.
    pub kafka_group_member: Option<String>,
    pub oidc_issuer_url: Option<String>,
    pub oidc_client_id: Option<String>,
    #[serde(serialize_with = "serialize_secret_option")]
    pub oidc_client_secret: Option<SecretString>,
    /// Scopes asked for besides `openid`, separated by spaces.
    pub oidc_scopes: String,
    /// The ID-token claim that lists a user's groups or roles.
    pub oidc_admin_claim: String,
    /// The value in that claim that makes a user an admin.
    pub oidc_admin_value: String,
    /// The limit for each call to the OpenID provider during a sign-in (token exchange, userinfo).
    pub oidc_timeout_secs: u64,
    /// Fill an empty catalog with the demo products at start.
    pub seed_demo_catalog: bool,
    /// How long the server waits for each service at start before giving up.
    pub startup_timeout_secs: u64,
    pub request_timeout_secs: u64,
    /// How long checkout holds stock for an unpaid order.
    pub reservation_minutes: u64,
    /// How often the web process expires lapsed reservations.
    pub expiry_sweep_secs: u64,
    /// The limit for one call to the payment gateway.
    pub payment_timeout_secs: u64,
    /// Consecutive payment-gateway errors or timeouts that open its circuit breaker…
    pub payment_breaker_failures: u32,
    /// …and how long it then refuses payments before letting one trial payment through.
    pub payment_breaker_cooldown_secs: u64,
    /// The same for the producer endpoint's broker: batches the broker did not acknowledge in time…
    pub broker_breaker_failures: u32,
    /// …and how long the endpoint then answers 503 at once.
    pub broker_breaker_cooldown_secs: u64,
    /// Failed payment attempts (declines, cards the gateway cannot process) allowed per user and per card within
    /// the window before payments are refused for the rest of it (an outage of the gateway counts for nobody).
    pub payment_failures_per_user: u32,
    pub payment_failures_per_card: u32,
    pub payment_failure_window_minutes: u64,
    /// A charge or refund still in flight this long after it began (a crash, a cancelled request, a timeout) is
    /// settled by the worker, which asks the gateway what became of it; at least the payment timeout.
    pub payment_settle_after_secs: u64,
    /// How often the worker looks for such payments.
    pub payment_settle_sweep_secs: u64,
    /// The most orders one shopper may have awaiting payment at once…
    pub max_unpaid_orders: u32,
    /// …and the most units of one product those orders may hold.
    pub max_reserved_per_product: u32,
    /// The built-in test gateway's latency, and its delay for the slow test card.
    pub test_gateway_latency_ms: u64,
    pub test_gateway_slow_ms: u64,
    /// Producer endpoint limits, in batches per second (bursts of ten times that are allowed).
    pub collect_rate_per_visit: f64,
    pub collect_rate_per_ip: f64,
    /// The proxies (addresses or CIDR ranges, comma-separated) whose `X-Forwarded-For` is believed; the client
    /// is the rightmost address none of them vouches for. Empty: the connection's peer is the client.
    pub trusted_proxies: crate::client_ip::TrustedProxies,
    /// A visit with no event for this long is closed and its journey rendered.
    pub visit_idle_minutes: u64,
    /// How often the worker looks for visits to close.
    pub visit_sweep_secs: u64,
    /// An OpenTelemetry collector's OTLP/HTTP base URL (e.g. `http://127.0.0.1:4318`); traces are exported to
    /// its `/v1/traces` when set, and not at all otherwise.
    pub otlp_endpoint: Option<String>,
    /// Where the worker serves `/metrics` (it has no other listener); `off` (or empty) disables it.
    pub worker_metrics_addr: String,
    /// Where the web process serves `/metrics` and the detailed `/readyz` (components, breakers), apart from
    /// the shop's own listener; `off` (or empty) disables it. Keep it off the public network.
    pub internal_addr: String,
    /// A session ends after this long without a request…
    pub session_idle_minutes: u64,
    /// …and this long after sign-in, however active.
    pub session_absolute_minutes: u64,
    /// An active session is saved again (sliding its idle expiry) at most this often.
    pub session_touch_secs: u64,
    /// The key that signs visit ids (HMAC-SHA256), at least 32 bytes; production refuses to start without one.
    #[serde(serialize_with = "serialize_secret_option")]
    pub visit_signing_key: Option<SecretString>,
    /// The most events one visit may hold; past it events go to the bad topic (`visit_full`).
    pub visit_max_events: u32,
    /// The HTTP server closes a connection whose request headers take longer than this to arrive…
    pub http_header_read_timeout_secs: u64,
    /// …or that stays idle (no request in progress) for this long.
    pub http_idle_timeout_secs: u64,
    /// The most connections the HTTP server holds open at once; past it new connections wait in the backlog.
    pub http_max_connections: usize,
    /// The most `POST /api/events` requests handled at once; past it the endpoint answers 503 with `Retry-After`.
    pub collect_max_concurrency: usize,
    /// Retention, in days: stored clickstream events…
    pub retention_events_days: u32,
    /// …undecodable or unstorable records (`clickstream_rejects`)…
    pub retention_rejects_days: u32,
    /// …closed visits with their journey PDFs…
    pub retention_visits_days: u32,
    /// …anonymous carts not touched for this long…
    pub retention_anonymous_carts_days: u32,
    /// …and payment idempotency rows. Expired sessions are deleted as soon as they expire.
    pub retention_idempotency_days: u32,
    /// How often the worker applies retention (in small batches).
    pub retention_sweep_secs: u64,
    /// The payment gateway. Only `test` is built in (it takes no money); production refuses to start until it is
    /// set on purpose, then warns at every start and shows a banner on every page.
    pub payment_gateway: Option<String>,
    /// The file the settings were read from, if any (not a setting: filled by [`Settings::load`]).
    #[serde(skip)]
    pub config_file: Option<String>,
}

fn serialize_secret_option<S: serde::Serializer>(value: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(secret) => s.serialize_some(secret.expose_secret()),
        None => s.serialize_none(),
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: Mode::Production,
            listen_addr: "127.0.0.1:3000".parse().expect("valid literal address"),
            public_url: "http://127.0.0.1:3000".into(),
            site_root: "target/site".into(),
            log_format: LogFormat::Pretty,
            database_url: None,
            database_ca_file: None,
            database_max_connections: 10,
            database_acquire_timeout_ms: 2000,
            kafka_brokers: None,
            kafka: Default::default(),
            kafka_topic_prefix: String::new(),
            kafka_partitions: 3,
            kafka_consumer_group: "cartograph-worker".into(),
            kafka_group_member: None,
            oidc_issuer_url: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_scopes: "email profile groups".into(),
            oidc_admin_claim: "groups".into(),
            oidc_admin_value: "cartograph-admin".into(),
            oidc_timeout_secs: 10,
            seed_demo_catalog: false,
            startup_timeout_secs: 5,
            request_timeout_secs: 15,
            reservation_minutes: 15,
            expiry_sweep_secs: 30,
            payment_timeout_secs: 5,
            payment_breaker_failures: 5,
            payment_breaker_cooldown_secs: 30,
            broker_breaker_failures: 3,
            broker_breaker_cooldown_secs: 15,
            payment_failures_per_user: 5,
            payment_failures_per_card: 5,
            payment_failure_window_minutes: 15,
            payment_settle_after_secs: 60,
            payment_settle_sweep_secs: 15,
            max_unpaid_orders: 3,
            max_reserved_per_product: 10,
            test_gateway_latency_ms: 150,
            test_gateway_slow_ms: 2_500,
            collect_rate_per_visit: 5.0,
            collect_rate_per_ip: 50.0,
            trusted_proxies: Default::default(),
            visit_idle_minutes: 30,
            visit_sweep_secs: 15,
            otlp_endpoint: None,
            worker_metrics_addr: "127.0.0.1:9465".into(),
            internal_addr: "127.0.0.1:9464".into(),
            session_idle_minutes: 120,
            session_absolute_minutes: 12 * 60,
            session_touch_secs: 60,
            visit_signing_key: None,
            visit_max_events: 5_000,
            http_header_read_timeout_secs: 10,
            http_idle_timeout_secs: 60,
            http_max_connections: 4_096,
            collect_max_concurrency: 64,
            retention_events_days: 90,
            retention_rejects_days: 30,
            retention_visits_days: 180,
            retention_anonymous_carts_days: 30,
            retention_idempotency_days: 7,
            retention_sweep_secs: 3_600,
            payment_gateway: None,
            config_file: None,
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

/// Why a production database URL is unsafe, if it is: a server off this machine reached without
/// `sslmode=verify-full` (a plaintext or unverified connection).
fn unencrypted_database(url: &str) -> Option<String> {
    use sqlx::postgres::{PgConnectOptions, PgSslMode};
    let options: PgConnectOptions = match url.parse() {
        Ok(options) => options,
        Err(error) => return Some(format!("CARTOGRAPH_DATABASE_URL is not a PostgreSQL URL: {error}")),
    };
    let host = options.get_host();
    let bracketed = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_string() };
    let local =
        options.get_socket().is_some() || host.starts_with('/') || is_loopback_url(&format!("postgres://{bracketed}/"));
    (!local && !matches!(options.get_ssl_mode(), PgSslMode::VerifyFull)).then(|| {
        format!(
            "CARTOGRAPH_DATABASE_URL reaches {host} without sslmode=verify-full: add it (and CARTOGRAPH_DATABASE_CA_FILE \
             for a private CA), so the connection is encrypted and the server proven"
        )
    })
}

/// Whether a listener setting says `off` (or nothing).
fn switched_off(value: &str) -> bool {
    let value = value.trim();
    value.is_empty() || value.eq_ignore_ascii_case("off")
}

/// A listener setting's address, unless it is switched off.
fn listener_addr(value: &str) -> Option<SocketAddr> {
    if switched_off(value) {
        return None;
    }
    value.trim().parse().ok()
}

/// The shortest visit-signing key accepted, in bytes.
pub const MIN_VISIT_KEY_BYTES: usize = 32;

/// The only payment gateway built in: it approves any valid test card and takes no money.
pub const TEST_GATEWAY: &str = "test";

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
        let figment = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(&file))
            // `__` nests: CARTOGRAPH_KAFKA__SASL_MECHANISM is `sasl.mechanism` in the `kafka` properties.
            .merge(Env::prefixed(ENV_PREFIX).ignore(&["CONFIG"]).split("__"));
        let mut settings = Self::from_figment(figment)?;
        settings.config_file = present.then_some(file);
        Ok(settings)
    }

    /// Extracts and completes settings from any figment (tests build their own).
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract().map_err(|e| ConfigError::Invalid(one_line(&e.to_string())))?;
        settings.complete()
    }

    /// Fills dev defaults (and keeps dev on this machine), or checks that production has everything it needs and
    /// nothing unsafe, listing every problem at once.
    pub fn complete(mut self) -> Result<Self, ConfigError> {
        if self.oidc_admin_value.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "CARTOGRAPH_OIDC_ADMIN_VALUE is empty: it would match an empty group name".into(),
            ));
        }
        match self.mode {
            Mode::Dev => {
                use dev_defaults::*;
                self.database_url.get_or_insert_with(|| DATABASE_URL.into());
                self.kafka_brokers.get_or_insert_with(|| KAFKA_BROKERS.into());
                self.oidc_issuer_url.get_or_insert_with(|| OIDC_ISSUER_URL.into());
                self.oidc_client_id.get_or_insert_with(|| OIDC_CLIENT_ID.into());
                self.oidc_client_secret.get_or_insert_with(|| OIDC_CLIENT_SECRET.into());
                self.visit_signing_key.get_or_insert_with(|| VISIT_SIGNING_KEY.into());
                self.payment_gateway.get_or_insert_with(|| TEST_GATEWAY.into());
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
        if let Some(gateway) = self.payment_gateway.as_deref().filter(|gateway| *gateway != TEST_GATEWAY) {
            return Err(ConfigError::Invalid(format!(
                "CARTOGRAPH_PAYMENT_GATEWAY={gateway} is not a gateway this build has (only `{TEST_GATEWAY}`)"
            )));
        }
        if self.reservation_minutes == 0 || self.expiry_sweep_secs == 0 || self.payment_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "CARTOGRAPH_RESERVATION_MINUTES, CARTOGRAPH_EXPIRY_SWEEP_SECS and CARTOGRAPH_PAYMENT_TIMEOUT_SECS must be positive".into(),
            ));
        }
        if self.oidc_timeout_secs == 0 || self.database_acquire_timeout_ms == 0 {
            return Err(ConfigError::Invalid(
                "CARTOGRAPH_OIDC_TIMEOUT_SECS and CARTOGRAPH_DATABASE_ACQUIRE_TIMEOUT_MS must be positive".into(),
            ));
        }
        if self.payment_breaker_failures == 0
            || self.payment_breaker_cooldown_secs == 0
            || self.broker_breaker_failures == 0
            || self.broker_breaker_cooldown_secs == 0
        {
            return Err(ConfigError::Invalid(
                "the CARTOGRAPH_PAYMENT_BREAKER_* and CARTOGRAPH_BROKER_BREAKER_* settings must be positive".into(),
            ));
        }
        self.otlp_endpoint = self.otlp_endpoint.take().map(|url| url.trim().to_string()).filter(|url| !url.is_empty());
        if let Some(url) = &self.otlp_endpoint {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Invalid(format!(
                    "CARTOGRAPH_OTLP_ENDPOINT must be an http(s):// URL, got {url}"
                )));
            }
        }
        for (name, value) in [
            ("CARTOGRAPH_WORKER_METRICS_ADDR", &self.worker_metrics_addr),
            ("CARTOGRAPH_INTERNAL_ADDR", &self.internal_addr),
        ] {
            if !switched_off(value) && value.trim().parse::<SocketAddr>().is_err() {
                return Err(ConfigError::Invalid(format!("{name} must be host:port or off, got {value}")));
            }
        }
        if self.session_idle_minutes == 0 {
            return Err(ConfigError::Invalid("CARTOGRAPH_SESSION_IDLE_MINUTES must be positive".into()));
        }
        if !(self.collect_rate_per_visit > 0.0 && self.collect_rate_per_ip > 0.0) {
            return Err(ConfigError::Invalid("the CARTOGRAPH_COLLECT_RATE_* limits must be positive".into()));
        }
        if let [first, ..] = self.kafka.refused()[..] {
            return Err(ConfigError::Invalid(format!(
                "the Kafka property {first} cannot be passed through (CARTOGRAPH_KAFKA__*): Cartograph sets it itself"
            )));
        }
        if let Some(file) = &self.database_ca_file {
            if !std::path::Path::new(file).is_file() {
                return Err(ConfigError::Invalid(format!("CARTOGRAPH_DATABASE_CA_FILE {file} is not a file")));
            }
        }
        if self.kafka_partitions < 1 {
            return Err(ConfigError::Invalid("CARTOGRAPH_KAFKA_PARTITIONS must be at least 1".into()));
        }
        if self.visit_signing_key.as_ref().is_some_and(|key| key.expose_secret().len() < MIN_VISIT_KEY_BYTES) {
            return Err(ConfigError::Invalid(format!(
                "CARTOGRAPH_VISIT_SIGNING_KEY must be at least {MIN_VISIT_KEY_BYTES} bytes (e.g. `openssl rand -hex 32`)"
            )));
        }
        if self.visit_max_events == 0
            || self.http_header_read_timeout_secs == 0
            || self.http_idle_timeout_secs == 0
            || self.http_max_connections == 0
            || self.collect_max_concurrency == 0
            || self.retention_sweep_secs == 0
        {
            return Err(ConfigError::Invalid(
                "CARTOGRAPH_VISIT_MAX_EVENTS, the CARTOGRAPH_HTTP_* limits, CARTOGRAPH_COLLECT_MAX_CONCURRENCY and \
                 CARTOGRAPH_RETENTION_SWEEP_SECS must be positive"
                    .into(),
            ));
        }
        self.public_url = self.public_url.trim_end_matches('/').to_string();
        Ok(self)
    }

    /// Everything production refuses: what is missing, and what is only safe on a developer's machine.
    fn production_problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = [
            ("CARTOGRAPH_DATABASE_URL", self.database_url.is_none()),
            ("CARTOGRAPH_KAFKA_BROKERS", self.kafka_brokers.is_none()),
            ("CARTOGRAPH_OIDC_ISSUER_URL", self.oidc_issuer_url.is_none()),
            ("CARTOGRAPH_OIDC_CLIENT_ID", self.oidc_client_id.is_none()),
            ("CARTOGRAPH_OIDC_CLIENT_SECRET", self.oidc_client_secret.is_none()),
            ("CARTOGRAPH_VISIT_SIGNING_KEY", self.visit_signing_key.is_none()),
        ]
        .into_iter()
        .filter(|(_, is_missing)| *is_missing)
        .map(|(name, _)| format!("{name} is missing"))
        .collect();
        if !self.public_url.starts_with("https://") {
            problems.push(format!("CARTOGRAPH_PUBLIC_URL must be https://, not {}", self.public_url));
        }
        if let Some(issuer) = &self.oidc_issuer_url {
            if !issuer.starts_with("https://") {
                problems.push(format!("CARTOGRAPH_OIDC_ISSUER_URL must be https://, not {issuer}"));
            } else if is_loopback_url(issuer) {
                problems.push(format!("CARTOGRAPH_OIDC_ISSUER_URL {issuer} is on this machine (a dev provider?)"));
            }
        }
        if self
            .oidc_client_secret
            .as_ref()
            .is_some_and(|secret| secret.expose_secret() == dev_defaults::OIDC_CLIENT_SECRET)
        {
            problems.push("CARTOGRAPH_OIDC_CLIENT_SECRET is the published dev secret".into());
        }
        if self.visit_signing_key.as_ref().is_some_and(|key| key.expose_secret() == dev_defaults::VISIT_SIGNING_KEY) {
            problems.push("CARTOGRAPH_VISIT_SIGNING_KEY is the published dev key".into());
        }
        if let Some(url) = &self.database_url {
            if let Some(problem) = unencrypted_database(url.expose_secret()) {
                problems.push(problem);
            }
        }
        if self.seed_demo_catalog {
            problems.push("CARTOGRAPH_SEED_DEMO_CATALOG=true would fill the shop with demo products".into());
        }
        if self.payment_gateway.is_none() {
            problems.push(format!(
                "CARTOGRAPH_PAYMENT_GATEWAY is not set: the only gateway built in is `{TEST_GATEWAY}`, which takes no \
                 money; set CARTOGRAPH_PAYMENT_GATEWAY={TEST_GATEWAY} on purpose to run with it"
            ));
        }
        problems
    }

    /// Whether payments go to the built-in test gateway (no money is taken).
    pub fn test_payments(&self) -> bool {
        self.payment_gateway.as_deref() == Some(TEST_GATEWAY)
    }

    /// The database URL; always present after [`Settings::complete`].
    pub fn database_url(&self) -> &str {
        self.database_url.as_ref().map(|s| s.expose_secret()).unwrap_or_default()
    }

    /// Whether a broker off this machine is reached without TLS (production warns at every start).
    pub fn kafka_crosses_the_network_in_plaintext(&self) -> bool {
        let protocol = self
            .kafka
            .iter()
            .find(|(name, _)| *name == "security.protocol")
            .map(|(_, value)| value.to_ascii_lowercase());
        let plaintext = matches!(protocol.as_deref(), None | Some("plaintext") | Some("sasl_plaintext"));
        plaintext
            && self.kafka_brokers().split(',').any(|broker| !is_loopback_url(&format!("kafka://{}", broker.trim())))
    }

    /// The brokers with the operator's client properties.
    pub fn kafka_connection(&self) -> crate::kafka::Connection {
        crate::kafka::Connection::new(self.kafka_brokers(), self.kafka.clone())
    }

    /// The broker list; always present after [`Settings::complete`].
    pub fn kafka_brokers(&self) -> &str {
        self.kafka_brokers.as_deref().unwrap_or_default()
    }

    /// How long a signed-in session may last, however active.
    pub fn session_lifetime(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.session_absolute_minutes * 60)
    }

    /// The session rules server functions follow.
    pub fn session_rules(&self) -> app::server_context::SessionRules {
        app::server_context::SessionRules {
            lifetime: self.session_lifetime(),
            touch_every: std::time::Duration::from_secs(self.session_touch_secs),
        }
    }

    /// Where the worker serves `/metrics`, unless disabled.
    pub fn worker_metrics_addr(&self) -> Option<SocketAddr> {
        listener_addr(&self.worker_metrics_addr)
    }

    /// Where the web process serves `/metrics` and the detailed `/readyz`, unless disabled.
    pub fn internal_addr(&self) -> Option<SocketAddr> {
        listener_addr(&self.internal_addr)
    }

    /// The payment gateway's circuit breaker.
    pub fn payment_breaker(&self) -> BreakerSettings {
        BreakerSettings {
            failure_threshold: self.payment_breaker_failures,
            cool_down: std::time::Duration::from_secs(self.payment_breaker_cooldown_secs),
        }
    }

    /// The failed-payment throttle.
    pub fn payment_attempt_limits(&self) -> app::orders::payment::AttemptLimits {
        app::orders::payment::AttemptLimits {
            per_user: self.payment_failures_per_user,
            per_card: self.payment_failures_per_card,
            window: std::time::Duration::from_secs(self.payment_failure_window_minutes * 60),
        }
    }

    /// The producer endpoint's circuit breaker around the broker.
    pub fn broker_breaker(&self) -> BreakerSettings {
        BreakerSettings {
            failure_threshold: self.broker_breaker_failures,
            cool_down: std::time::Duration::from_secs(self.broker_breaker_cooldown_secs),
        }
    }

    /// The visit-signing key's bytes; always present after [`Settings::complete`].
    pub fn visit_signing_key(&self) -> &[u8] {
        self.visit_signing_key.as_ref().map(|key| key.expose_secret().as_bytes()).unwrap_or_default()
    }

    /// Whether cookies must carry `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.mode == Mode::Production
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
    fn production_names_every_missing_service() {
        let error = with(&[]).unwrap_err().to_string();
        for name in ["CARTOGRAPH_DATABASE_URL", "CARTOGRAPH_KAFKA_BROKERS", "CARTOGRAPH_OIDC_ISSUER_URL"] {
            assert!(error.contains(name), "{error} should name {name}");
        }
    }

    #[test]
    fn production_requires_https_public_url() {
        let error = with(&[
            ("database_url", "postgres://db/cartograph"),
            ("kafka_brokers", "kafka:9092"),
            ("oidc_issuer_url", "https://id.example.com"),
            ("oidc_client_id", "shop"),
            ("oidc_client_secret", "s3cret"),
            ("visit_signing_key", "0123456789abcdef0123456789abcdef"),
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("https://"), "{error}");
    }

    #[test]
    fn a_remote_database_needs_verified_tls_in_production_and_a_local_one_does_not() {
        assert!(unencrypted_database("postgres://db.example.com/shop").is_some());
        assert!(unencrypted_database("postgres://db.example.com/shop?sslmode=require").is_some());
        assert!(unencrypted_database("postgres://db.example.com/shop?sslmode=verify-ca").is_some());
        assert!(unencrypted_database("postgres://db.example.com/shop?sslmode=verify-full").is_none());
        for local in [
            "postgres://127.0.0.1/shop",
            "postgres://localhost:5432/shop",
            "postgres://[::1]/shop",
            "postgres:///shop?host=/run/postgresql",
        ] {
            assert!(unencrypted_database(local).is_none(), "{local}");
        }
    }

    #[test]
    fn kafka_properties_read_underscores_as_dots_and_refuse_what_cartograph_sets() {
        use figment::providers::{Format, Toml};
        let figment = Figment::from(Serialized::defaults(Settings::default()))
            .merge(("mode", "dev"))
            .merge(Toml::string("[kafka]\nsecurity_protocol = \"SASL_SSL\"\n\"sasl.mechanism\" = \"PLAIN\"\nsocket_timeout_ms = 5000\nlog_level = 6\n"));
        let settings = Settings::from_figment(figment).unwrap();
        let properties: Vec<(&str, &str)> = settings.kafka.iter().collect();
        assert_eq!(
            properties,
            [
                ("log_level", "6"),
                ("sasl.mechanism", "PLAIN"),
                ("security.protocol", "SASL_SSL"),
                ("socket.timeout.ms", "5000")
            ]
        );
        let config = crate::kafka::client_config(&settings.kafka_connection());
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"), "the properties reach the client config");
        assert_eq!(config.get("log_level"), Some("6"));
        let refused = Settings::from_figment(
            Figment::from(Serialized::defaults(Settings::default()))
                .merge(("mode", "dev"))
                .merge(Toml::string("[kafka]\nenable_auto_commit = true\n")),
        )
        .unwrap_err()
        .to_string();
        assert!(refused.contains("enable.auto.commit cannot be passed through"), "{refused}");
    }

    fn production(extra: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut pairs = vec![
            ("database_url", "postgres://db/cartograph?sslmode=verify-full"),
            ("kafka_brokers", "kafka:9092"),
            ("oidc_issuer_url", "https://id.example.com"),
            ("oidc_client_id", "shop"),
            ("oidc_client_secret", "s3cret"),
            ("public_url", "https://shop.example.com"),
            ("payment_gateway", "test"),
            ("visit_signing_key", "4f1c0a9e3b7d2f5a8c6e1b0d9f3a7c5e"),
        ];
        // A later pair for the same key wins.
        pairs.extend_from_slice(extra);
        with(&pairs)
    }

    #[test]
    fn production_needs_its_own_visit_signing_key_of_32_bytes() {
        let without = Figment::from(Serialized::defaults(Settings::default()))
            .merge(("public_url", "https://shop.example.com"))
            .merge(("payment_gateway", "test"));
        let missing = Settings::from_figment(without).unwrap_err().to_string();
        assert!(missing.contains("CARTOGRAPH_VISIT_SIGNING_KEY is missing"), "{missing}");
        let short = production(&[("visit_signing_key", "too short")]).unwrap_err().to_string();
        assert!(short.contains("at least 32 bytes"), "{short}");
        let published = production(&[("visit_signing_key", dev_defaults::VISIT_SIGNING_KEY)]).unwrap_err().to_string();
        assert!(published.contains("published dev key"), "{published}");
        let key = "4f1c0a9e3b7d2f5a8c6e1b0d9f3a7c5e";
        assert_eq!(production(&[("visit_signing_key", key)]).unwrap().visit_signing_key(), key.as_bytes());
        assert_eq!(with(&[("mode", "dev")]).unwrap().visit_signing_key(), dev_defaults::VISIT_SIGNING_KEY.as_bytes());
    }

    /// What the security review started: a production start with the dev stack's settings.
    #[test]
    fn production_refuses_every_unsafe_setting_in_one_line() {
        let dev_stack = Figment::from(Serialized::defaults(Settings::default()))
            .merge(("public_url", "http://shop.example.com"))
            .merge(("database_url", "postgres://db/cartograph?sslmode=verify-full"))
            .merge(("kafka_brokers", "kafka:9092"))
            .merge(("oidc_issuer_url", "http://127.0.0.1:9400"))
            .merge(("oidc_client_id", "cartograph"))
            .merge(("oidc_client_secret", dev_defaults::OIDC_CLIENT_SECRET))
            .merge(("visit_signing_key", dev_defaults::VISIT_SIGNING_KEY))
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
        let loopback = production(&[("oidc_issuer_url", "https://localhost:9400")]).unwrap_err().to_string();
        assert!(loopback.contains("is on this machine"), "{loopback}");
    }

    #[test]
    fn the_test_gateway_runs_only_when_asked_for_and_other_gateways_do_not_exist() {
        assert!(production(&[]).unwrap().test_payments(), "asked for on purpose");
        assert!(with(&[("mode", "dev")]).unwrap().test_payments(), "dev's default");
        let unknown = production(&[("payment_gateway", "stripe")]).unwrap_err().to_string();
        assert!(unknown.contains("not a gateway this build has"), "{unknown}");
    }

    #[test]
    fn an_empty_admin_value_is_refused_in_every_mode() {
        let error = with(&[("mode", "dev"), ("oidc_admin_value", " ")]).unwrap_err().to_string();
        assert!(error.contains("CARTOGRAPH_OIDC_ADMIN_VALUE is empty"), "{error}");
        assert!(production(&[("oidc_admin_value", "")]).is_err());
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
        let settings = with(&[("mode", "dev"), ("kafka_brokers", "127.0.0.1:19092")]).unwrap();
        assert_eq!(settings.database_url(), dev_defaults::DATABASE_URL);
        assert_eq!(settings.kafka_brokers(), "127.0.0.1:19092");
        assert_eq!(settings.oidc_issuer_url.as_deref(), Some(dev_defaults::OIDC_ISSUER_URL));
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
        assert_eq!(settings.payment_breaker().failure_threshold, 5);
        assert_eq!(settings.broker_breaker().cool_down, std::time::Duration::from_secs(15));
        let zero = Figment::from(Serialized::defaults(Settings::default()))
            .merge(("mode", "dev"))
            .merge(("payment_breaker_failures", 0));
        let error = Settings::from_figment(zero).unwrap_err().to_string();
        assert!(error.contains("CARTOGRAPH_PAYMENT_BREAKER_"), "{error}");
    }

    #[test]
    fn the_worker_metrics_listener_can_be_moved_or_switched_off() {
        let default = with(&[("mode", "dev")]).unwrap();
        assert_eq!(default.worker_metrics_addr(), Some("127.0.0.1:9465".parse().unwrap()));
        assert_eq!(with(&[("mode", "dev"), ("worker_metrics_addr", "off")]).unwrap().worker_metrics_addr(), None);
        let error = with(&[("mode", "dev"), ("worker_metrics_addr", "nine")]).unwrap_err().to_string();
        assert!(error.contains("CARTOGRAPH_WORKER_METRICS_ADDR"), "{error}");
    }

    #[test]
    fn trace_export_is_off_unless_an_http_endpoint_is_given() {
        assert_eq!(with(&[("mode", "dev")]).unwrap().otlp_endpoint, None);
        assert_eq!(with(&[("mode", "dev"), ("otlp_endpoint", " ")]).unwrap().otlp_endpoint, None);
        let on = with(&[("mode", "dev"), ("otlp_endpoint", "http://collector:4318")]).unwrap();
        assert_eq!(on.otlp_endpoint.as_deref(), Some("http://collector:4318"));
        let error = with(&[("mode", "dev"), ("otlp_endpoint", "collector:4318")]).unwrap_err().to_string();
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
}
