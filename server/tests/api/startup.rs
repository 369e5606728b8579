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
    assert_eq!(body["status"], "ready");
}

async fn start_error(change: impl FnOnce(&mut cartograph::config::Settings)) -> String {
    let mut settings = test_settings().await;
    settings.startup_timeout_secs = 3;
    change(&mut settings);
    match Application::build(settings).await {
        Ok(_) => panic!("the app started although a service is unreachable"),
        Err(error) => format!("{error:#}"),
    }
}

#[tokio::test]
async fn an_unreachable_database_is_named_at_start() {
    let error = start_error(|s| s.database_url = Some("postgres://postgres@127.0.0.1:1/nowhere".into())).await;
    assert!(error.starts_with("database unreachable at postgres://postgres@127.0.0.1:1/nowhere"), "{error}");
}

#[tokio::test]
async fn an_unreachable_broker_is_named_at_start() {
    let error = start_error(|s| s.kafka_brokers = Some("127.0.0.1:1".into())).await;
    assert!(error.starts_with("Kafka broker unreachable at 127.0.0.1:1"), "{error}");
}

#[tokio::test]
async fn an_unreachable_openid_provider_is_named_at_start() {
    let error = start_error(|s| s.oidc_issuer_url = Some("http://127.0.0.1:1".into())).await;
    assert!(error.starts_with("OpenID provider unreachable at http://127.0.0.1:1"), "{error}");
}

/// `cartograph serve` in `dir` with only the given settings (nothing inherited); its exit status and stderr.
fn serve_with(dir: &std::path::Path, env: &[(&str, &str)]) -> (bool, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cartograph"));
    command.arg("serve").current_dir(dir);
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("CARTOGRAPH_")) {
        command.env_remove(name);
    }
    let out = command.envs(env.iter().copied()).output().expect("run cartograph");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
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
    for problem in ["CARTOGRAPH_VISIT_SIGNING_KEY is missing", "CARTOGRAPH_OIDC_ISSUER_URL must be https://", "published dev secret", "CARTOGRAPH_SEED_DEMO_CATALOG", "CARTOGRAPH_PAYMENT_GATEWAY"] {
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
    assert!(home.contains(r#"<html lang="en" data-test-payments="no money is taken""#), "{}", &home[..300.min(home.len())]);
    let stylesheet = include_str!("../../../style/main.css");
    assert!(stylesheet.contains("html[data-test-payments] body::before"), "the stylesheet draws the banner");
}
