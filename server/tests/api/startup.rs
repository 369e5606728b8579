//! Start-up: health endpoints, and a clear one-line error for each unreachable service.

use crate::helpers::{spawn_app, test_settings};
use cartograph::startup::Application;

#[tokio::test]
async fn healthz_answers_while_the_process_is_up() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"), "every response carries a request id");
}

#[tokio::test]
async fn readyz_is_ready_when_database_and_broker_answer() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "status": "ready" }), "the shop's listener tells the verdict, nothing more");
}

#[tokio::test]
async fn metrics_and_readiness_details_are_served_only_on_the_internal_listener() {
    let app = spawn_app().await;
    let public = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404, "no metrics on the shop's listener");
    assert!(!public.text().await.unwrap().contains("cartograph_"), "nor any series in the not-found page");
    let internal = reqwest::get(app.internal_url("/metrics")).await.unwrap();
    assert_eq!(internal.status(), 200);
    assert!(internal.text().await.unwrap().contains("cartograph_"));
    let details: serde_json::Value = reqwest::get(app.internal_url("/readyz")).await.unwrap().json().await.unwrap();
    assert_eq!(details["status"], "ready");
    assert_eq!(details["breakers"]["payments"], "closed", "{details}");
    assert_eq!(reqwest::get(app.internal_url("/healthz")).await.unwrap().status(), 200);
    // The shop itself still works beside it.
    assert_eq!(app.client.get(app.url("/")).send().await.unwrap().status(), 200);
}

async fn start_error(change: impl FnOnce(&mut cartograph::config::Settings)) -> String {
    let mut settings = test_settings().await;
    settings.startup_timeout = std::time::Duration::from_secs(3);
    change(&mut settings);
    match Application::build(settings).await {
        Ok(_) => panic!("the app started although a service is unreachable"),
        Err(error) => format!("{error:#}"),
    }
}

#[tokio::test]
async fn an_unreachable_database_is_named_at_start() {
    let error = start_error(|s| s.database.url = Some("postgres://postgres@127.0.0.1:1/nowhere".into())).await;
    assert!(error.starts_with("database unreachable at postgres://postgres@127.0.0.1:1/nowhere"), "{error}");
}

#[tokio::test]
async fn an_unreachable_broker_is_named_at_start() {
    let error = start_error(|s| s.kafka.brokers = Some("127.0.0.1:1".into())).await;
    assert!(error.starts_with("Kafka broker unreachable at 127.0.0.1:1"), "{error}");
}

#[tokio::test]
async fn an_unreachable_openid_provider_is_named_at_start() {
    let error = start_error(|s| s.oidc.issuer_url = Some("http://127.0.0.1:1".into())).await;
    assert!(error.starts_with("OpenID provider unreachable at http://127.0.0.1:1"), "{error}");
}

/// `cartograph <command>` in `dir` with only the given settings (nothing inherited); its exit status, stdout
/// and stderr.
fn run_with(command_name: &str, dir: &std::path::Path, env: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cartograph"));
    command.arg(command_name).current_dir(dir);
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("CARTOGRAPH_")) {
        command.env_remove(name);
    }
    let out = command.envs(env.iter().copied()).output().expect("run cartograph");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `cartograph serve` in `dir` with only the given settings; its exit status and stderr.
fn serve_with(dir: &std::path::Path, env: &[(&str, &str)]) -> (bool, String) {
    let (started, _, stderr) = run_with("serve", dir, env);
    (started, stderr)
}

/// A production configuration that passes every check (its services need not exist: check-config connects to none).
const PRODUCTION: [(&str, &str); 9] = [
    ("CARTOGRAPH_MODE", "production"),
    ("CARTOGRAPH_PUBLIC_URL", "https://shop.example.com"),
    ("CARTOGRAPH_DATABASE_URL", "postgres://shop@db.example.com:5432/cartograph?sslmode=verify-full"),
    ("CARTOGRAPH_KAFKA_BROKERS", "kafka.example.com:9093"),
    ("CARTOGRAPH_OIDC_ISSUER_URL", "https://id.example.com"),
    ("CARTOGRAPH_OIDC_CLIENT_ID", "cartograph"),
    ("CARTOGRAPH_OIDC_CLIENT_SECRET", "a-real-secret"),
    ("CARTOGRAPH_VISIT_SIGNING_KEY", "4f1c0a9e3b7d2f5a8c6e1b0d9f3a7c5e"),
    ("CARTOGRAPH_PAYMENT_GATEWAY", "test"),
];

fn production_with(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut env: Vec<_> =
        PRODUCTION.iter().copied().filter(|(name, _)| !changes.iter().any(|(changed, _)| changed == name)).collect();
    env.extend_from_slice(changes);
    env
}

#[test]
fn production_refuses_a_database_off_this_machine_without_verified_tls() {
    let dir = std::env::temp_dir();
    let (ok, _, _) = run_with("check-config", &dir, &PRODUCTION);
    assert!(ok, "the baseline passes");
    for url in
        ["postgres://shop@db.example.com/cartograph", "postgres://shop@db.example.com/cartograph?sslmode=require"]
    {
        let (ok, _, stderr) = run_with("check-config", &dir, &production_with(&[("CARTOGRAPH_DATABASE_URL", url)]));
        assert!(!ok, "{url}");
        assert!(stderr.contains("reaches db.example.com without sslmode=verify-full"), "{stderr}");
    }
    let local = production_with(&[("CARTOGRAPH_DATABASE_URL", "postgres://shop@127.0.0.1:5432/cartograph")]);
    assert!(run_with("check-config", &dir, &local).0, "a database on this machine needs no TLS");
}

#[test]
fn kafka_properties_pass_through_the_environment_and_secrets_stay_out_of_check_config() {
    let dir = std::env::temp_dir();
    let env = production_with(&[
        ("CARTOGRAPH_KAFKA__SECURITY_PROTOCOL", "SASL_SSL"),
        ("CARTOGRAPH_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512"),
        ("CARTOGRAPH_KAFKA__SASL_USERNAME", "shop"),
        ("CARTOGRAPH_KAFKA__SASL_PASSWORD", "hunter2-kafka"),
        ("CARTOGRAPH_KAFKA__SOCKET_KEEPALIVE_ENABLE", "true"),
    ]);
    let (ok, stdout, stderr) = run_with("check-config", &dir, &env);
    assert!(ok, "{stderr}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).expect("check-config prints JSON");
    let kafka = &printed["kafka"]["properties"];
    assert_eq!(kafka["security.protocol"], "SASL_SSL", "{printed}");
    assert_eq!(kafka["sasl.mechanism"], "SCRAM-SHA-512");
    assert_eq!(kafka["socket.keepalive.enable"], "true");
    assert_eq!(kafka["sasl.password"], "[redacted]");
    assert!(!stdout.contains("hunter2-kafka"), "the password never appears: {stdout}");

    let (ok, _, stderr) = run_with("check-config", &dir, &production_with(&[("CARTOGRAPH_KAFKA__GROUP_ID", "mine")]));
    assert!(!ok);
    assert!(stderr.contains("group.id cannot be passed through"), "{stderr}");
}

/// The environment names from before the settings had sections still set them, beside the nested form
/// (`CARTOGRAPH_SESSION__TOUCH_SECS`); a refusal names the variable.
#[test]
fn flat_and_nested_environment_names_set_the_sectioned_settings() {
    let dir = std::env::temp_dir();
    let env = production_with(&[
        ("CARTOGRAPH_RESERVATION_MINUTES", "7"),
        ("CARTOGRAPH_SESSION__TOUCH_SECS", "9"),
        ("CARTOGRAPH_TRUSTED_PROXIES", "10.0.0.0/8"),
    ]);
    let (ok, stdout, stderr) = run_with("check-config", &dir, &env);
    assert!(ok, "{stderr}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).expect("check-config prints JSON");
    assert_eq!(printed["orders"]["reservation_minutes"], 7, "{printed}");
    assert_eq!(printed["session"]["touch_secs"], 9);
    assert_eq!(printed["collect"]["trusted_proxies"], "10.0.0.0/8");
    assert_eq!(printed["oidc"]["client_secret"], "***");
    assert_eq!(printed["visits"]["signing_key"], "***");
    assert!(!stdout.contains("a-real-secret") && !stdout.contains("4f1c0a9e3b7d2f5a8c6e1b0d9f3a7c5e"), "{stdout}");

    let (ok, _, stderr) = run_with("check-config", &dir, &production_with(&[("CARTOGRAPH_RESERVATION_MINUTES", "0")]));
    assert!(!ok);
    assert_eq!(
        stderr.trim(),
        "cartograph: error: invalid configuration: CARTOGRAPH_RESERVATION_MINUTES must be positive (got 0)"
    );
}

/// The file takes the sections as tables; a file with the flat names from before them is refused, saying where
/// each went, rather than read as if those settings were not there.
#[test]
fn a_config_file_takes_sections_and_refuses_the_flat_names() {
    let dir = std::env::temp_dir().join(format!("cartograph-sections-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("sections.toml"),
        "[orders]\nmax_unpaid_orders = 4\n[kafka.properties]\nsecurity_protocol = \"SASL_SSL\"\n",
    )
    .unwrap();
    let env = production_with(&[("CARTOGRAPH_CONFIG", "sections.toml")]);
    let (ok, stdout, stderr) = run_with("check-config", &dir, &env);
    assert!(ok, "{stderr}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).expect("check-config prints JSON");
    assert_eq!(printed["orders"]["max_unpaid_orders"], 4, "{printed}");
    assert_eq!(printed["kafka"]["properties"]["security.protocol"], "SASL_SSL");

    std::fs::write(dir.join("flat.toml"), "max_unpaid_orders = 4\nkafka_brokers = \"kafka:9092\"\n").unwrap();
    let (ok, _, stderr) = run_with("check-config", &dir, &production_with(&[("CARTOGRAPH_CONFIG", "flat.toml")]));
    assert!(!ok);
    assert!(stderr.contains("`max_unpaid_orders` is `max_unpaid_orders` under [orders]"), "{stderr}");
    assert!(stderr.contains("`kafka_brokers` is `brokers` under [kafka]"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The properties are applied to the real librdkafka client: TLS with SASL SCRAM (built in) against the plaintext
/// test broker fails the handshake, and a property librdkafka does not know is named.
#[tokio::test]
async fn kafka_properties_reach_the_client() {
    let error = start_error(|s| {
        s.kafka.properties.insert("security.protocol", "SASL_SSL");
        s.kafka.properties.insert("sasl.mechanism", "SCRAM-SHA-256");
        s.kafka.properties.insert("sasl.username", "shop");
        s.kafka.properties.insert("sasl.password", "secret");
    })
    .await;
    assert!(
        error.starts_with("Kafka broker unreachable at"),
        "the TLS handshake with a plaintext broker fails: {error}"
    );
    assert!(!error.contains("not available at build time") && !error.contains("Unsupported value"), "{error}");
    let error = start_error(|s| s.kafka.properties.insert("no.such.property", "1")).await;
    assert!(error.contains("no.such.property"), "{error}");
}

/// The security review's M7 command: a production start with the dev stack's settings lists every problem in one
/// line and exits non-zero, without a panic.
#[test]
fn a_production_start_with_dev_settings_is_refused_naming_every_problem() {
    let dir = std::env::temp_dir();
    let (started, stderr) = serve_with(
        &dir,
        &[
            ("CARTOGRAPH_MODE", "production"),
            ("CARTOGRAPH_PUBLIC_URL", "https://shop.example.com"),
            ("CARTOGRAPH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cartograph"),
            ("CARTOGRAPH_KAFKA_BROKERS", "127.0.0.1:9092"),
            ("CARTOGRAPH_OIDC_ISSUER_URL", "http://127.0.0.1:9400"),
            ("CARTOGRAPH_OIDC_CLIENT_ID", "cartograph"),
            ("CARTOGRAPH_OIDC_CLIENT_SECRET", "cartograph-dev-secret"),
            ("CARTOGRAPH_SEED_DEMO_CATALOG", "true"),
        ],
    );
    println!("{stderr}");
    assert!(!started);
    let line = stderr.trim();
    assert!(line.starts_with("cartograph: error: production mode refuses to start: "), "{line}");
    assert_eq!(line.lines().count(), 1, "one line: {line}");
    for problem in [
        "CARTOGRAPH_VISIT_SIGNING_KEY is missing",
        "CARTOGRAPH_OIDC_ISSUER_URL must be https://",
        "published dev secret",
        "CARTOGRAPH_SEED_DEMO_CATALOG",
        "CARTOGRAPH_PAYMENT_GATEWAY",
    ] {
        assert!(line.contains(problem), "{line}\nshould name {problem}");
    }
    assert!(!line.contains("panicked"));
}

/// A `cartograph.toml` left in the working directory (the example sets `mode = "dev"`) cannot turn a production
/// deployment into dev mode; named in `CARTOGRAPH_CONFIG`, or confirmed by `CARTOGRAPH_MODE`, it is used.
#[test]
fn a_config_file_in_the_working_directory_never_chooses_the_mode() {
    let dir = std::env::temp_dir().join(format!("cartograph-mode-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    // The public URL makes a dev start stop at once (dev serves loopback URLs only) once the file is used.
    std::fs::write(dir.join("cartograph.toml"), "mode = \"dev\"\npublic_url = \"http://shop.example.com\"\n").unwrap();
    let (started, stderr) = serve_with(&dir, &[]);
    assert!(!started);
    assert!(stderr.contains("never chooses the mode"), "{stderr}");
    for env in [("CARTOGRAPH_CONFIG", "cartograph.toml"), ("CARTOGRAPH_MODE", "dev")] {
        let (started, stderr) = serve_with(&dir, &[env]);
        assert!(!started);
        assert!(stderr.contains("dev mode serves loopback URLs only"), "with {env:?} the file is read: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn every_page_says_when_payments_go_to_the_test_gateway() {
    let app = spawn_app().await;
    let home = app.client.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(
        home.contains(r#"<html lang="en" data-test-payments="no money is taken""#),
        "{}",
        &home[..300.min(home.len())]
    );
    let stylesheet = include_str!("../../../style/main.css");
    assert!(stylesheet.contains("html[data-test-payments] body::before"), "the stylesheet draws the banner");
}
