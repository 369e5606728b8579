//! PostgreSQL over TLS: a private cluster that refuses plaintext, with a certificate from a CA this test makes.
//! `sslmode=verify-full` with the CA file connects (and the connection is encrypted); without the CA the app
//! refuses to start, naming the database.

use crate::helpers::{postgres::PrivatePostgres, test_settings, TestApp};
use cartograph::startup::Application;
use sqlx::{postgres::PgConnectOptions, ConnectOptions, Connection, PgConnection};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_is_reached_over_verified_tls_with_a_private_ca() {
    let (postgres, ca) = PrivatePostgres::start_with_tls();
    let plaintext = PgConnection::connect(&format!("{}?sslmode=disable", postgres.url("postgres"))).await;
    assert!(plaintext.is_err(), "the server turns plaintext away");
    let verified = |database: &str| format!("{}?sslmode=verify-full", postgres.url(database));
    let admin_options: PgConnectOptions = verified("postgres").parse().unwrap();
    let mut admin = admin_options.ssl_root_cert(&ca).connect().await.expect("a TLS connection with the test CA");
    sqlx::query("CREATE DATABASE cartograph").execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();

    let mut settings = test_settings().await;
    settings.database.url = Some(verified("cartograph").into());
    settings.startup_timeout = std::time::Duration::from_secs(5);
    let refused = Application::build(settings.clone()).await.err().expect("an unknown CA is refused");
    let refused = format!("{refused:#}");
    println!("without the CA file: {refused}");
    assert!(refused.starts_with(&format!("database unreachable at {}", verified("cartograph"))), "{refused}");
    assert!(refused.to_lowercase().contains("certificate") || refused.contains("UnknownIssuer"), "{refused}");

    settings.database.ca_file = Some(ca.display().to_string());
    let app = TestApp::builder().with_test_settings(settings).spawn().await;
    let encrypted: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(encrypted, "the connection is TLS");
    // An ordinary request through the whole path: the cart line lands in the TLS-only database.
    let (pen, _, _) = app.product("brass-fountain-pen").await;
    assert_eq!(app.add_to_cart(pen, 2).await.status(), 200);
    assert_eq!(app.count("SELECT COALESCE(sum(quantity), 0)::bigint FROM order_lines").await, 2);
}
