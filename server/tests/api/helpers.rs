//! `spawn_app`: one fresh database and one topic prefix per test, so tests never see each other's data.

use cartograph::{config::Settings, shutdown::Shutdown, startup};
use figment::{providers::Serialized, Figment};
use reqwest::{StatusCode, Url};
use sqlx::{Connection, PgConnection, PgPool};
use std::time::Duration;
use uuid::Uuid;

pub struct TestApp {
    pub address: String,
    /// The internal listener (`/metrics`, the detailed `/readyz`).
    pub internal: String,
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
        // Workers of parallel tests must not compete for the default metrics port.
        .merge(("worker_metrics_addr", "off"))
        .merge(("internal_addr", "127.0.0.1:0"))
        .merge(("log_format", "pretty"));
    Settings::from_figment(figment).expect("valid test settings")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_settings().await).await
}

/// Logs go to the test's captured output (shown for a failing test); `RUST_LOG` filters them.
fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,cartograph=info"));
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    });
}

pub async fn spawn_app_with(settings: Settings) -> TestApp {
    init_logs();
    let application = startup::Application::build(settings.clone()).await.expect("the app starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    let internal = format!("http://127.0.0.1:{}", application.internal_port().expect("the internal listener is on"));
    let mut options: sqlx::postgres::PgConnectOptions = settings.database_url().parse().expect("a database URL");
    if let Some(ca) = &settings.database_ca_file {
        options = options.ssl_root_cert(ca);
    }
    let pool = PgPool::connect_with(options).await.expect("connect to the test database");
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
    TestApp { address, internal, pool, settings, client, stop }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A URL on the internal listener.
    pub fn internal_url(&self, path: &str) -> String {
        format!("{}{path}", self.internal)
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

    /// The value of `query`, a count.
    pub async fn count(&self, query: &str) -> i64 {
        sqlx::query_scalar(query).fetch_one(&self.pool).await.expect("count query")
    }

    /// Polls `query` (a count) until it reaches `expected` or 30 s pass; returns the last count.
    pub async fn wait_for_count(&self, query: &str, expected: i64) -> i64 {
        self.wait_for_count_within(query, expected, Duration::from_secs(30)).await
    }

    /// Polls `query` (a count) until it reaches `expected` or `limit` passes; returns the last count.
    pub async fn wait_for_count_within(&self, query: &str, expected: i64, limit: Duration) -> i64 {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let count = self.count(query).await;
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

/// The proof that the pipeline still works after something hostile: another browser loads a page, posts one
/// ordinary event, and the event is **stored** by the worker within `limit`. Returns how long it took.
pub async fn an_ordinary_event_is_stored_within(app: &TestApp, limit: Duration) -> Duration {
    let browser = app.another_browser();
    let home = browser.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK, "the home page renders");
    let path = format!("/ordinary/{}", Uuid::new_v4().simple());
    let batch = serde_json::json!({"v": 1, "events": [{"type": "page_view", "path": path, "referrer": null, "title": "Home", "id": "ordinary-1"}]});
    let started = std::time::Instant::now();
    let response = browser
        .client
        .post(app.url("/api/events"))
        .header("content-type", "text/plain;charset=UTF-8")
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")
        .body(batch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED, "{}", response.text().await.unwrap_or_default());
    let query = format!("SELECT count(*) FROM clickstream_events WHERE path = '{path}'");
    let stored = app.wait_for_count_within(&query, 1, limit).await;
    let elapsed = started.elapsed();
    assert_eq!(stored, 1, "an ordinary event was not stored within {limit:?}: the pipeline is stuck");
    println!("an ordinary event was stored {} ms after it was posted", elapsed.as_millis());
    elapsed
}

/// The visit id a response's visit cookie carries (`{visit}.{owner}.{signature}`).
pub fn visit_of(response: &reqwest::Response) -> Option<String> {
    let value = set_cookie(response, "cg_visit")?.split(['=', ';']).nth(1)?;
    value.split('.').next().map(str::to_owned)
}

// Sign-in against the dev OpenID provider, as a browser would do it.

pub fn location(response: &reqwest::Response) -> Url {
    let raw = response.headers()[reqwest::header::LOCATION].to_str().unwrap();
    response.url().join(raw).unwrap()
}

/// Starts a sign-in at the app and returns the provider's authorization URL.
pub async fn begin_login(app: &TestApp, return_to: &str) -> Url {
    let response = app.client.get(app.url("/auth/login")).query(&[("return_to", return_to)]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location(&response)
}

/// Logs in at the provider's dev login form and returns the app callback URL it redirects to.
pub async fn provider_login(app: &TestApp, authorize: Url, login: &str) -> Url {
    let mut next = authorize;
    for _ in 0..10 {
        if next.path() == "/auth/callback" && next.port() != Some(9400) && next.as_str().starts_with(&app.address) {
            return next;
        }
        let response = app.client.get(next.clone()).send().await.unwrap();
        if response.status() == StatusCode::OK && next.path().starts_with("/interaction/") {
            let submitted = app
                .client
                .post(next.clone())
                .form(&[("prompt", "login"), ("login", login), ("password", "any")])
                .send()
                .await
                .unwrap();
            assert!(submitted.status().is_redirection(), "login form answered {}", submitted.status());
            next = location(&submitted);
            continue;
        }
        assert!(response.status().is_redirection(), "{} answered {}", next, response.status());
        next = location(&response);
    }
    panic!("the provider never redirected back to the app");
}

pub async fn current_user(app: &TestApp) -> serde_json::Value {
    let response = app.client.post(app.url("/api/current_user")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Signs in as `login` and returns the app's redirect after the callback.
pub async fn sign_in(app: &TestApp, login: &str, return_to: &str) -> reqwest::Response {
    let authorize = begin_login(app, return_to).await;
    let callback = provider_login(app, authorize, login).await;
    app.client.get(callback).send().await.unwrap()
}

impl TestApp {
    /// Calls a server function with form-encoded arguments, as a hydrated page or a plain form would.
    pub async fn call(&self, function: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client.post(self.url(&format!("/api/{function}"))).form(form).send().await.unwrap()
    }

    /// The same app through `client` (a browser with the cookies it was built with).
    pub fn with_client(app: &TestApp, client: reqwest::Client) -> TestApp {
        let mut app = app.another_browser();
        app.client = client;
        app
    }

    /// A fresh client (its own cookies: another browser) for the same app.
    pub fn another_browser(&self) -> TestApp {
        TestApp {
            address: self.address.clone(),
            internal: self.internal.clone(),
            pool: self.pool.clone(),
            settings: self.settings.clone(),
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            stop: Shutdown::default(),
        }
    }
}
