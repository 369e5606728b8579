//! `spawn_app`: one fresh database and one topic prefix per test, so tests never see each other's data.

use cartograph::{config::Settings, shutdown::Shutdown, startup};
use figment::{providers::Serialized, Figment};
use sqlx::{Connection, PgConnection, PgPool};
use std::time::Duration;
use uuid::Uuid;

pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    pub settings: Settings,
    /// A client with its own cookie jar that does not follow redirects.
    pub client: reqwest::Client,
    stop: Shutdown,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.trigger();
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// The server that holds the test databases (the test script points this at its PostgreSQL).
pub fn admin_database_url() -> String {
    env_or("CARTOGRAPH_TEST_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
}

/// Creates an empty database and returns its URL.
pub async fn create_database() -> String {
    let admin_url = admin_database_url();
    let name = format!("cartograph_test_{}", Uuid::new_v4().simple());
    let mut connection = PgConnection::connect(&admin_url).await.expect("connect to the test PostgreSQL server");
    sqlx::query(&format!(r#"CREATE DATABASE "{name}""#)).execute(&mut connection).await.expect("create test database");
    let (base, _) = admin_url.rsplit_once('/').expect("database URL with a path");
    format!("{base}/{name}")
}

/// Settings for a test: dev defaults, a fresh database, a random port and a private topic prefix.
pub async fn test_settings() -> Settings {
    let id = Uuid::new_v4().simple().to_string();
    let figment = Figment::from(Serialized::defaults(Settings::default()))
        .merge(("mode", "dev"))
        .merge(("listen_addr", "127.0.0.1:0"))
        .merge(("database_url", create_database().await))
        .merge(("database_max_connections", 5))
        .merge(("kafka_brokers", env_or("CARTOGRAPH_KAFKA_BROKERS", "127.0.0.1:9092")))
        .merge(("kafka_topic_prefix", format!("test-{id}.")))
        .merge(("kafka_partitions", 2))
        .merge(("kafka_consumer_group", format!("test-{id}")))
        .merge(("oidc_issuer_url", env_or("CARTOGRAPH_OIDC_ISSUER_URL", "http://127.0.0.1:9400")))
        .merge(("seed_demo_catalog", true))
        .merge(("log_format", "pretty"));
    Settings::from_figment(figment).expect("valid test settings")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_settings().await).await
}

pub async fn spawn_app_with(settings: Settings) -> TestApp {
    let application = startup::Application::build(settings.clone()).await.expect("the app starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    let pool = PgPool::connect(settings.database_url()).await.expect("connect to the test database");
    let stop = Shutdown::default();
    let stopped = stop.clone();
    tokio::spawn(application.run_until(async move { stopped.wait().await }));
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("HTTP client");
    let mut settings = settings;
    settings.public_url = address.clone();
    TestApp { address, pool, settings, client, stop }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Starts a worker in this process for this test's topics and database; it stops with the app.
    pub fn spawn_worker(&self) {
        let settings = self.settings.clone();
        let stop = self.stop.clone();
        tokio::spawn(async move {
            if let Err(error) = startup::run_worker(settings, stop).await {
                panic!("worker failed: {error:#}");
            }
        });
    }

    /// Polls `query` (a count) until it reaches `expected` or 30 s pass; returns the last count.
    pub async fn wait_for_count(&self, query: &str, expected: i64) -> i64 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let count: i64 = sqlx::query_scalar(query).fetch_one(&self.pool).await.expect("count query");
            if count >= expected || tokio::time::Instant::now() > deadline {
                return count;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The value of a `Set-Cookie` header for `name`, whole (with its attributes).
pub fn set_cookie<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
}
