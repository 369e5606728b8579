//! Test support as an API. [`TestApp`] is one running app per test, with a fresh database and a topic prefix of
//! its own, so tests never see each other's data: [`spawn_app`] for the plain case, [`TestApp::builder`] for the
//! rest (changed settings, a private broker or PostgreSQL a test may stop, a worker).
//!
//! One job per file: what a browser does is a method in `shopper`, what a test reads from its database one in
//! `database`; `event_stream` is a tracker that never pauses; `broker`, `postgres`, `worker_process`, `oidc` and `smtp` are the services a test may stop, kill or make
//! lie (a private nisshi broker, a private PostgreSQL cluster, a `cartograph worker` process, an OpenID provider).

pub mod balancer;
pub mod broker;
mod database;
pub use database::Variant;
pub mod event_stream;
pub mod oidc;
pub mod postgres;
pub mod shopper;
pub mod smtp;
pub mod tls;
pub mod worker_process;

use self::{broker::Broker, postgres::PrivatePostgres};
use cartograph::{config::Settings, shutdown::Shutdown, startup, worker};
use figment::{providers::Serialized, Figment};
use sqlx::PgPool;
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
    /// Dropped after the app is told to stop (fields drop after `Drop::drop`).
    broker: Option<Broker>,
    postgres: Option<PrivatePostgres>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.trigger();
    }
}

/// One change a test makes to its settings before the app starts.
type SettingsChange<'a> = Box<dyn FnOnce(&mut Settings) + 'a>;

/// How a test's app starts: `TestApp::builder().with_private_broker().with_worker().spawn().await`.
#[derive(Default)]
#[must_use = "the app starts only at `spawn()`"]
pub struct TestAppBuilder<'a> {
    settings: Option<Settings>,
    changes: Vec<SettingsChange<'a>>,
    private_broker: bool,
    private_postgres: bool,
    worker: bool,
}

impl<'a> TestAppBuilder<'a> {
    /// Starts from `settings` (made by [`test_settings`], for a test that needs them before the app starts)
    /// instead of fresh ones.
    pub fn with_test_settings(mut self, settings: Settings) -> Self {
        self.settings = Some(settings);
        self
    }

    /// Changes the settings before the app starts; changes apply in order, after the private services are set.
    pub fn with_settings(mut self, change: impl FnOnce(&mut Settings) + 'a) -> Self {
        self.changes.push(Box::new(change));
        self
    }

    /// A nisshi broker of the test's own ([`TestApp::broker`]), so stopping it disturbs no other test.
    pub fn with_private_broker(mut self) -> Self {
        self.private_broker = true;
        self
    }

    /// A PostgreSQL cluster of the test's own ([`TestApp::postgres`]), so it can be stopped and started under the
    /// app; the app's database is `cartograph` in it.
    pub fn with_private_postgres(mut self) -> Self {
        self.private_postgres = true;
        self
    }

    /// A worker in this process for the test's topics and database, started with the app.
    pub fn with_worker(mut self) -> Self {
        self.worker = true;
        self
    }

    pub async fn spawn(self) -> TestApp {
        let broker = self.private_broker.then(Broker::start_private);
        let postgres =
            if self.private_postgres { Some(PrivatePostgres::start_with_database("cartograph").await) } else { None };
        let mut settings = match self.settings {
            Some(settings) => settings,
            None => test_settings().await,
        };
        if let Some(broker) = &broker {
            settings.kafka.brokers = Some(broker.address());
        }
        if let Some(postgres) = &postgres {
            settings.database.url = Some(postgres.url("cartograph").into());
        }
        for change in self.changes {
            change(&mut settings);
        }
        let mut app = start(settings).await;
        app.broker = broker;
        app.postgres = postgres;
        if self.worker {
            app.spawn_worker();
        }
        app
    }
}

/// The app most tests need: test settings as they are, the shared broker and PostgreSQL, no worker.
pub async fn spawn_app() -> TestApp {
    TestApp::builder().spawn().await
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// Settings for a test: dev defaults, a fresh database, a random port and a private topic prefix.
pub async fn test_settings() -> Settings {
    let id = Uuid::new_v4().simple().to_string();
    let figment = Figment::from(Serialized::defaults(Settings::default()))
        .merge(("mode", "dev"))
        .merge(("listen_addr", "127.0.0.1:0"))
        .merge(("database.url", self::postgres::create_database().await))
        .merge(("database.max_connections", 5))
        .merge(("kafka.brokers", env_or("CARTOGRAPH_KAFKA_BROKERS", "127.0.0.1:9092")))
        .merge(("kafka.topic_prefix", format!("test-{id}.")))
        .merge(("kafka.partitions", 2))
        .merge(("kafka.consumer_group", format!("test-{id}")))
        .merge(("oidc.issuer_url", env_or("CARTOGRAPH_OIDC_ISSUER_URL", "http://127.0.0.1:9400")))
        .merge(("seed_demo_catalog", true))
        // Workers of parallel tests must not compete for the default metrics port.
        .merge(("telemetry.worker_metrics_addr", "off"))
        .merge(("telemetry.internal_addr", "127.0.0.1:0"))
        .merge(("log_format", "pretty"));
    Settings::from_figment(figment).expect("valid test settings")
}

/// A TCP port nothing listens on now (for a private service, or a worker's metrics listener).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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

/// A client with its own cookie jar that does not follow redirects: one browser.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("HTTP client")
}

/// Starts the web process on `settings` and connects to its database.
async fn start(settings: Settings) -> TestApp {
    init_logs();
    let application = startup::Application::build(settings.clone()).await.expect("the app starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    let internal = format!("http://127.0.0.1:{}", application.internal_port().expect("the internal listener is on"));
    let mut options: sqlx::postgres::PgConnectOptions = settings.database.url().parse().expect("a database URL");
    if let Some(ca) = &settings.database.ca_file {
        options = options.ssl_root_cert(ca);
    }
    let pool = PgPool::connect_with(options).await.expect("connect to the test database");
    let stop = Shutdown::default();
    let stopped = stop.clone();
    tokio::spawn(application.run_until(async move { stopped.wait().await }));
    let mut settings = settings;
    settings.public_url = address.clone();
    TestApp { address, internal, pool, settings, client: browser(), stop, broker: None, postgres: None }
}

impl TestApp {
    pub fn builder<'a>() -> TestAppBuilder<'a> {
        TestAppBuilder::default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A URL on the internal listener.
    pub fn internal_url(&self, path: &str) -> String {
        format!("{}{path}", self.internal)
    }

    /// The internal listener's detailed readiness.
    pub async fn readiness(&self) -> serde_json::Value {
        self.client.get(self.internal_url("/readyz")).send().await.unwrap().json().await.unwrap()
    }

    /// Starts a worker in this process for this test's topics and database; it stops with the app.
    pub fn spawn_worker(&self) {
        let settings = self.settings.clone();
        let stop = self.stop.clone();
        tokio::spawn(async move {
            if let Err(error) = worker::run(settings, stop).await {
                panic!("worker failed: {error:#}");
            }
        });
    }

    /// The private broker of an app built [`with_private_broker`](TestAppBuilder::with_private_broker).
    pub fn broker(&self) -> &Broker {
        self.broker.as_ref().expect("an app built with_private_broker()")
    }

    /// The private PostgreSQL of an app built [`with_private_postgres`](TestAppBuilder::with_private_postgres).
    pub fn postgres(&self) -> &PrivatePostgres {
        self.postgres.as_ref().expect("an app built with_private_postgres()")
    }

    /// The same app through `client` (a browser with the cookies it was built with).
    pub fn with_client(app: &TestApp, client: reqwest::Client) -> TestApp {
        let mut app = app.another_browser();
        app.client = client;
        app
    }

    /// A second web server in this process on this one's settings (database, topics, keys), on a port of its own.
    pub async fn another_server(&self) -> TestApp {
        TestApp::builder()
            .with_test_settings(self.settings.clone())
            .with_settings(|settings| settings.listen_addr = "127.0.0.1:0".parse().unwrap())
            .spawn()
            .await
    }

    /// A fresh client (its own cookies: another browser) for the same app.
    pub fn another_browser(&self) -> TestApp {
        TestApp {
            address: self.address.clone(),
            internal: self.internal.clone(),
            pool: self.pool.clone(),
            settings: self.settings.clone(),
            client: browser(),
            stop: Shutdown::default(),
            broker: None,
            postgres: None,
        }
    }
}
