//! Fault tests: a worker process killed with `kill -9` in the middle of its work, and the database restarted under
//! a running app. The promises checked: no accepted event lost or counted twice; requests fail fast with 503 while
//! the database is away, and the app recovers by itself when it returns.

use crate::commerce::{add, product};
use crate::helpers::{spawn_app_with, test_settings};
use cartograph::config::Settings;
use reqwest::StatusCode;
use sqlx::{Connection, PgConnection};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A `cartograph worker` process for this test's database and topics.
struct WorkerProcess {
    child: Child,
}

impl WorkerProcess {
    fn start(settings: &Settings, log: &Path) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cartograph"));
        command.arg("worker");
        // Only this test's settings: nothing inherited from the environment or a config file.
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("CARTOGRAPH_")) {
            command.env_remove(name);
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("worker log");
        let child = command
            .env("CARTOGRAPH_CONFIG", "/dev/null/none.toml")
            .env("CARTOGRAPH_MODE", "dev")
            .env("CARTOGRAPH_DATABASE_URL", settings.database_url())
            .env("CARTOGRAPH_KAFKA_BROKERS", settings.kafka_brokers())
            .env("CARTOGRAPH_KAFKA_TOPIC_PREFIX", &settings.kafka_topic_prefix)
            .env("CARTOGRAPH_KAFKA_PARTITIONS", settings.kafka_partitions.to_string())
            .env("CARTOGRAPH_KAFKA_CONSUMER_GROUP", &settings.kafka_consumer_group)
            // A static member: its replacement under the same name takes the partitions back at once.
            .env("CARTOGRAPH_KAFKA_GROUP_MEMBER", "worker-0")
            // A running shop's worker holds the default metrics port.
            .env("CARTOGRAPH_WORKER_METRICS_ADDR", "off")
            .env("CARTOGRAPH_LOG_FORMAT", "pretty")
            .env("RUST_LOG", "warn,cartograph=info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start the worker process");
        Self { child }
    }

    /// `kill -9`: no shutdown, no leaving the consumer group, no last commit.
    fn kill_hard(&mut self) {
        self.child.kill().expect("SIGKILL the worker");
        self.child.wait().unwrap();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_batch_loses_and_duplicates_nothing() {
    let mut settings = test_settings().await;
    settings.collect_rate_per_visit = 10_000.0;
    settings.collect_rate_per_ip = 10_000.0;
    let app = spawn_app_with(settings).await;
    app.client.get(app.url("/")).send().await.unwrap();

    // Every accepted event, by id: 4,000 of them in batches of 50, all sent before any worker runs.
    let mut accepted = Vec::new();
    for batch in 0..80 {
        let events: Vec<String> = (0..50)
            .map(|i| format!(r#"{{"type":"page_view","path":"/kill/{batch}/{i}","id":"ev-{batch}-{i}"}}"#))
            .collect();
        let body = format!(r#"{{"v":1,"events":[{}]}}"#, events.join(","));
        let response = app.client.post(app.url("/api/events")).body(body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let ids: serde_json::Value = response.json().await.unwrap();
        accepted.extend(ids["ids"].as_array().unwrap().iter().map(|id| id.as_str().unwrap().to_string()));
    }
    let total = accepted.len() as i64;
    assert_eq!(total, 4_000);

    let log = std::env::temp_dir().join(format!("cartograph-worker-{}.log", uuid::Uuid::new_v4().simple()));
    let mut first = WorkerProcess::start(&app.settings, &log);
    let deadline = Instant::now() + Duration::from_secs(60);
    let stored_at_kill = loop {
        let stored = app.count("SELECT count(*) FROM clickstream_events").await;
        if stored > 0 {
            first.kill_hard();
            break app.count("SELECT count(*) FROM clickstream_events").await;
        }
        assert!(Instant::now() < deadline, "the worker stored nothing in 60 s; log: {}", log.display());
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(stored_at_kill < total, "the worker was killed after it had finished ({stored_at_kill} stored)");

    // A replacement resumes from the last committed offsets: some events are delivered again.
    let _second = WorkerProcess::start(&app.settings, &log);
    let stored =
        app.wait_for_count_within("SELECT count(*) FROM clickstream_events", total, Duration::from_secs(150)).await;
    assert_eq!(stored, total, "every accepted event is stored; log: {}", log.display());

    let ids: Vec<String> =
        sqlx::query_scalar("SELECT event_id::text FROM clickstream_events").fetch_all(&app.pool).await.unwrap();
    let stored_ids: std::collections::HashSet<String> = ids.into_iter().collect();
    let expected: std::collections::HashSet<String> = accepted.into_iter().collect();
    assert_eq!(stored_ids, expected, "exactly the accepted events");
    // A redelivered event must not be counted twice in its visit's summary.
    let summarised = app.count("SELECT coalesce(sum(events), 0)::bigint FROM visits").await;
    assert_eq!(summarised, total, "each event counted once in the visit summaries");
    println!("worker kill -9: {stored_at_kill} of {total} events stored at the kill; all {total} after the restart");
}

/// A PostgreSQL cluster of this test's own, so it can be stopped and started under the app.
pub(crate) struct PrivatePostgres {
    bin: PathBuf,
    pub(crate) dir: PathBuf,
    port: u16,
    /// Extra server options (`-c name=value …`).
    options: String,
}

impl PrivatePostgres {
    pub(crate) fn start() -> Self {
        let postgres = Self::init();
        postgres.start_server();
        postgres
    }

    /// A cluster that accepts only TLS connections, with a certificate for `127.0.0.1` and `localhost` signed by
    /// a CA made here; returns it and the CA's certificate file.
    pub(crate) fn start_with_tls() -> (Self, PathBuf) {
        let mut postgres = Self::init();
        let tls = postgres.dir.join("tls");
        std::fs::create_dir_all(&tls).unwrap();
        let openssl = |args: &[&str]| run(Command::new("openssl").current_dir(&tls).args(args));
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=Cartograph test CA",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            tls.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ]);
        if running_as_root() {
            run(Command::new("chown").args(["-R", "postgres"]).arg(&tls));
        }
        run(Command::new("chmod").arg("600").arg(tls.join("server.key")));
        // TLS or nothing: a plaintext connection is turned away by the server itself.
        std::fs::write(
            postgres.dir.join("data/pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
        )
        .unwrap();
        postgres.options =
            format!("-c ssl=on -c ssl_cert_file={0}/server.crt -c ssl_key_file={0}/server.key", tls.display());
        postgres.start_server();
        (postgres, tls.join("ca.crt"))
    }

    fn init() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("pg_ctl").exists())
            .max()
            .expect("PostgreSQL's server binaries under /usr/lib/postgresql (Debian's postgresql package)");
        let dir = std::env::temp_dir().join(format!("cartograph-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let postgres = Self { bin, dir, port: crate::broker_outage::free_port(), options: String::new() };
        if running_as_root() {
            run(Command::new("chown").args(["-R", "postgres"]).arg(&postgres.dir));
        }
        postgres.as_postgres("initdb", &["-D", &postgres.data(), "-U", "postgres", "-A", "trust", "-N"]);
        postgres
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    pub(crate) fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn start_server(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off {}",
            self.port,
            self.dir.display(),
            self.options
        );
        let log = self.dir.join("postgres.log").display().to_string();
        self.as_postgres("pg_ctl", &["-D", &self.data(), "-l", &log, "-o", &options, "-w", "start"]);
    }

    /// Stops the server the way a crash would: no checkpoint, every connection cut.
    fn stop_immediately(&self) {
        self.as_postgres("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
    }

    fn as_postgres(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        run(command.args(args));
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new(self.bin.join("pg_ctl")).args(["-D", &self.data(), "-m", "immediate", "stop"]).output();
        if running_as_root() {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["-D", &self.data(), "-m", "immediate", "stop"])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().map(|out| out.stdout.trim_ascii() == b"0").unwrap_or(false)
}

fn run(command: &mut Command) {
    let output = command.stdout(Stdio::null()).output().expect("run a PostgreSQL command");
    assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_fails_fast_with_503_and_recovers_without_an_app_restart() {
    let postgres = PrivatePostgres::start();
    let mut admin = PgConnection::connect(&postgres.url("postgres")).await.unwrap();
    sqlx::query("CREATE DATABASE cartograph").execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
    let mut settings = test_settings().await;
    settings.database_url = Some(postgres.url("cartograph").into());
    settings.database_acquire_timeout_ms = 1000;
    let app = spawn_app_with(settings).await;
    let (pen, _, _) = product(&app, "brass-fountain-pen").await;
    assert_eq!(app.client.get(app.url("/")).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(add(&app, pen, 1).await.status(), StatusCode::OK);

    postgres.stop_immediately();
    for (what, request) in [
        ("the home page", app.client.get(app.url("/"))),
        ("a product page", app.client.get(app.url("/products/brass-fountain-pen"))),
        (
            "a server function",
            app.client
                .post(app.url("/api/cart_add"))
                .form(&[("product_id", pen.to_string()), ("quantity", "1".into())]),
        ),
        ("readiness", app.client.get(app.url("/readyz"))),
    ] {
        let started = Instant::now();
        let response = request.send().await.unwrap();
        let took = started.elapsed();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{what} while the database is down");
        assert!(took < Duration::from_secs(5), "{what} failed fast: {took:?}");
    }

    postgres.start_server();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = app.client.get(app.url("/")).send().await.unwrap().status();
        if status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "the app did not recover within 30 s of the database's return: {status}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(app.client.get(app.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
    let cart = add(&app, pen, 1).await;
    assert_eq!(cart.status(), StatusCode::OK, "server functions work again");
    let cart: serde_json::Value = cart.json().await.unwrap();
    assert_eq!(cart["lines"][0]["quantity"], 2, "and the cart from before the outage is intact: {cart}");
}
