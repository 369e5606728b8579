//! `cartograph serve` (the web process), `cartograph worker` (the Kafka consumer group),
//! `cartograph migrate` (apply migrations and seed, then exit), `cartograph check-config`,
//! `cartograph read-topic TOPIC [KEY]` (print a topic's records as JSON lines, for inspection),
//! `cartograph probe URL` (exit 0 when a plain-HTTP GET of URL answers 2xx: a container's healthcheck, where no
//! curl is installed), `cartograph graphql-schema` (print the GraphQL schema, as `docs/schema.graphql` holds it),
//! `cartograph graphql-manifest FILE…` (print the persisted-query manifest of these operations, one per file, for
//! `CARTOGRAPH_GRAPHQL_ALLOWLIST`).

use cartograph::{config::Settings, db, shutdown, startup, telemetry, worker};
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: measured in `docs/benchmarks.md` (the SSR section's allocator rows).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str =
    "usage: cartograph [serve|worker|migrate|check-config|read-topic TOPIC [KEY]|probe URL|graphql-schema|graphql-manifest FILE…]";

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".to_string());
    // Before the settings: a healthcheck needs none, and must not log or refuse to start.
    if command == "graphql-schema" {
        print!("{}", cartograph::graphql::sdl());
        return ExitCode::SUCCESS;
    }
    if command == "graphql-manifest" {
        return match graphql_manifest(std::env::args().skip(2)) {
            Ok(manifest) => {
                println!("{manifest}");
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        };
    }
    if command == "probe" {
        return match probe(std::env::args().nth(2).as_deref().unwrap_or_default()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(&format!("{error:#}")),
        };
    }
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => return fail(&error.to_string()),
    };
    let service = if command == "worker" { "cartograph-worker" } else { "cartograph" };
    let telemetry = match telemetry::init(settings.log_format, settings.telemetry.otlp_endpoint.as_deref(), service) {
        Ok(telemetry) => telemetry,
        Err(error) => return fail(&format!("{error:#}")),
    };
    // The processes say how they were configured; the inspection commands print only what was asked for.
    if matches!(command.as_str(), "serve" | "worker" | "migrate") {
        tracing::info!(
            mode = settings.mode.as_str(),
            config_file = settings.config_file.as_deref().unwrap_or("none"),
            "settings loaded"
        );
        if !settings.unknown_env.is_empty() {
            tracing::warn!(
                variables = settings.unknown_env.join(", "),
                "environment variables that set nothing, ignored (a typo? the README's configuration table lists every setting)"
            );
        }
        if settings.payments.test_payments() {
            tracing::warn!(
                "payments go to the built-in test gateway: no money is taken (CARTOGRAPH_PAYMENT_GATEWAY=test)"
            );
        }
        if settings.kafka.crosses_the_network_in_plaintext() {
            tracing::warn!(
                brokers = settings.kafka.brokers(),
                "Kafka traffic leaves this machine unencrypted and unauthenticated: set CARTOGRAPH_KAFKA__SECURITY_PROTOCOL=SASL_SSL (and the SASL settings)"
            );
        }
    }
    let result = match command.as_str() {
        "serve" => serve(settings).await,
        "worker" => worker(settings).await,
        "migrate" => db::prepare(&settings).await.map(|_| ()),
        "check-config" => {
            if !settings.unknown_env.is_empty() {
                eprintln!("cartograph: warning: {} set nothing (a typo?)", settings.unknown_env.join(", "));
            }
            println!("{}", serde_json::to_string_pretty(&settings.redacted()).unwrap_or_default());
            Ok(())
        }
        "read-topic" => read_topic(&settings).await,
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => return fail(&format!("unknown command {other:?}; {USAGE}")),
    };
    // After a graceful stop: export the spans still buffered.
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&format!("{error:#}")),
    }
}

/// GETs `url` (`http://HOST:PORT/PATH`) within 3 s; an error unless the answer is 2xx.
async fn probe(url: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").context("probe takes an http:// URL")?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(host, path)| (host, format!("/{path}")));
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(host).await.with_context(|| format!("connecting to {host}"))?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.context("reading the status line")?;
        let status = std::str::from_utf8(&head[9..12]).unwrap_or_default().to_string();
        anyhow::ensure!(status.starts_with('2'), "{url} answered {status}");
        anyhow::Ok(())
    };
    tokio::time::timeout(std::time::Duration::from_secs(3), check).await.context("no answer within 3 s")?
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = startup::Application::build(settings).await?;
    app.run_until(shutdown::signal()).await
}

async fn worker(settings: Settings) -> anyhow::Result<()> {
    let stop = shutdown::Shutdown::default();
    let trigger = stop.clone();
    tokio::spawn(async move {
        shutdown::signal().await;
        trigger.trigger();
    });
    worker::run(settings, stop).await
}

/// Prints the records of a topic (with the configured prefix), optionally only those with one key.
async fn read_topic(settings: &Settings) -> anyhow::Result<()> {
    let mut args = std::env::args().skip(2);
    let topic = args.next().ok_or_else(|| anyhow::anyhow!("{USAGE}"))?;
    let key = args.next();
    let topic = format!("{}{topic}", settings.kafka.topic_prefix);
    let records =
        cartograph::kafka::read_topic(&settings.kafka.connection(), &topic, std::time::Duration::from_secs(10)).await?;
    for record in records.iter().filter(|r| key.is_none() || r.key == key) {
        let payload: serde_json::Value =
            serde_json::from_str(&record.payload).unwrap_or(serde_json::Value::String(record.payload.clone()));
        let line = serde_json::json!({ "partition": record.partition, "offset": record.offset, "key": record.key, "value": payload });
        println!("{line}");
    }
    Ok(())
}

/// One line on stderr and a non-zero exit: no panic trace for a missing service.
fn fail(message: &str) -> ExitCode {
    eprintln!("cartograph: error: {}", message.replace('\n', " "));
    ExitCode::FAILURE
}

/// The persisted-query manifest of the operations in `files`.
fn graphql_manifest(files: impl Iterator<Item = String>) -> Result<String, String> {
    let documents = files
        .map(|file| std::fs::read_to_string(&file).map(|body| (file.clone(), body)).map_err(|e| format!("{file}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if documents.is_empty() {
        return Err("name the .graphql files, one operation each".into());
    }
    let manifest = cartograph::graphql::allowlist::manifest_of(&documents)?;
    serde_json::to_string_pretty(&manifest).map_err(|error| error.to_string())
}
