//! The OpenID provider behind a private CA (`CARTOGRAPH_OIDC_CA_FILE`), as a company's own Keycloak is: the dev
//! provider serves HTTPS with a certificate from a CA this test makes. Without the CA file the app refuses to
//! start and names the provider; with it, a shopper signs in.

use crate::helpers::{free_port, test_settings, tls::LocalCa, TestApp};
use cartograph::startup::Application;
use reqwest::StatusCode;
use std::{
    path::Path,
    process::{Child, Command},
    time::Duration,
};

/// The dev provider's process, stopped with the test.
struct Provider(Child);

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_works_with_a_provider_behind_a_private_ca_named_in_the_settings() {
    let dir = std::env::temp_dir().join(format!("cartograph-provider-tls-{}", uuid::Uuid::new_v4().simple()));
    let ca = LocalCa::make(&dir);
    let port = free_port();
    let log = std::fs::File::create(dir.join("provider.log")).unwrap();
    let provider = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../dev/oidc/provider.mjs"))
        .env("OIDC_PORT", port.to_string())
        .env("OIDC_TLS_CERT", &ca.cert)
        .env("OIDC_TLS_KEY", &ca.key)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("node runs the dev provider (scripts/test.sh installs its packages)");
    let _provider = Provider(provider);
    // Node may take a while to start on a busy machine; a provider that never listens fails here, by name (it
    // would otherwise be refused below for the wrong reason: no connection, rather than an unknown CA).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let log = || std::fs::read_to_string(dir.join("provider.log")).unwrap_or_default();
        assert!(std::time::Instant::now() < deadline, "the dev provider did not listen within 60 s: {}", log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let issuer = format!("https://127.0.0.1:{port}");
    let mut settings = test_settings().await;
    settings.oidc.issuer_url = Some(issuer.clone());
    let refused = Application::build(settings.clone()).await.err().expect("a provider behind an unknown CA is refused");
    let refused = format!("{refused:#}");
    println!("without the CA file: {refused}");
    assert!(refused.starts_with(&format!("OpenID provider unreachable at {issuer}")), "{refused}");
    assert!(!refused.contains("Connection refused"), "refused for its certificate, not for want of a provider");

    settings.oidc.ca_file = Some(ca.ca.display().to_string());
    let app = TestApp::builder().with_test_settings(settings).spawn().await;
    // The shopper's browser trusts the CA too.
    let ca_certificate = reqwest::Certificate::from_pem(&std::fs::read(&ca.ca).unwrap()).unwrap();
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(ca_certificate)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let shopper = TestApp::with_client(&app, browser);
    assert_eq!(shopper.sign_in("shopper", "/").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(shopper.current_user().await["name"], "Sam Shopper");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_ca_file_that_holds_no_certificate_stops_the_start_and_is_named() {
    let file = std::env::temp_dir().join(format!("cartograph-not-a-ca-{}.pem", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, "not a certificate\n").unwrap();
    let mut settings = test_settings().await;
    settings.oidc.ca_file = Some(file.display().to_string());
    let refused = format!("{:#}", Application::build(settings).await.err().expect("refused"));
    assert!(refused.contains("CARTOGRAPH_OIDC_CA_FILE") && refused.contains(&file.display().to_string()), "{refused}");
    let _ = std::fs::remove_file(&file);
}
