//! `cartograph-bench`: one table of figures, each next to a ceiling measured in the same run, with their ratio
//! (these machines are noisy: the ratios are what to compare between runs). Run it through `scripts/bench.sh`,
//! which starts the services and builds the WASM bundle.
//!
//! ```text
//! cartograph-bench [ingest] [ssr] [functions] [graphql] [search] [insights] [journey] [wasm] [--wasm FILE] [--write FILE]
//! ```
//! Without section names it runs all of them. `--write docs/benchmarks.md` replaces the generated block of that
//! file. The app runs in this process on a random loopback port against a fresh `cartograph_bench` database.

mod ceiling;
mod driver;
mod functions;
mod graphql;
mod ingest;
mod insights;
mod journey;
mod memory;
mod report;
mod search;
mod ssr;
mod wasm;

use anyhow::{bail, Context};
use cartograph::{config::Settings, shutdown::Shutdown, startup::Application};
use cartograph_tools::common::exit;
use figment::{providers::Serialized, Figment};
use sqlx::{Connection, PgConnection};
use std::path::PathBuf;
use uuid::Uuid;

const SECTIONS: [&str; 8] = ["ingest", "ssr", "functions", "graphql", "search", "insights", "journey", "wasm"];
const USAGE: &str =
    "usage: cartograph-bench [ingest] [ssr] [functions] [graphql] [search] [insights] [journey] [wasm] [--wasm FILE] [--write FILE]";

struct Options {
    sections: Vec<String>,
    wasm: PathBuf,
    write: Option<PathBuf>,
}

fn options() -> anyhow::Result<Options> {
    let site_root = std::env::var("CARTOGRAPH_SITE_ROOT").unwrap_or_else(|_| "target/site".into());
    let mut options =
        Options { sections: Vec::new(), wasm: PathBuf::from(site_root).join("pkg/cartograph.wasm"), write: None };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--wasm" => options.wasm = args.next().context(USAGE)?.into(),
            "--write" => options.write = Some(args.next().context(USAGE)?.into()),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            section if SECTIONS.contains(&section) => options.sections.push(arg),
            other => bail!("unknown argument {other:?}; {USAGE}"),
        }
    }
    if options.sections.is_empty() {
        options.sections = SECTIONS.map(String::from).to_vec();
    }
    Ok(options)
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// Dev settings on a random port, a fresh database with the demo catalog, a private topic prefix, and rate
/// limits and per-shopper caps out of the way (the sections measure throughput, not the limiters).
async fn bench_settings() -> anyhow::Result<Settings> {
    let admin = env_or("CARTOGRAPH_TEST_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres");
    let mut conn = PgConnection::connect(&admin).await.context("connecting to PostgreSQL")?;
    sqlx::query("DROP DATABASE IF EXISTS cartograph_bench WITH (FORCE)").execute(&mut conn).await?;
    sqlx::query("CREATE DATABASE cartograph_bench").execute(&mut conn).await?;
    let (base, _) = admin.rsplit_once('/').unwrap_or((&admin, ""));
    let run = Uuid::new_v4().simple().to_string();
    let figment = Figment::from(Serialized::defaults(Settings::default()))
        .merge(("mode", "dev"))
        .merge(("listen_addr", "127.0.0.1:0"))
        .merge(("database.url", format!("{base}/cartograph_bench")))
        .merge(("kafka.brokers", env_or("CARTOGRAPH_KAFKA_BROKERS", "127.0.0.1:9092")))
        .merge(("kafka.topic_prefix", format!("bench-{run}.")))
        .merge(("oidc.issuer_url", env_or("CARTOGRAPH_OIDC_ISSUER_URL", "http://127.0.0.1:9400")))
        .merge(("collect.rate_per_visit", 1e9))
        .merge(("collect.rate_per_ip", 1e9))
        // The functions section checks out over and over as the same shoppers: it measures checkout, not the caps
        // on what one shopper may hold unpaid (tested in server/tests).
        .merge(("orders.max_unpaid_orders", 1_000_000))
        .merge(("orders.max_reserved_per_product", 1_000_000))
        .merge(("seed_demo_catalog", true))
        // A running scripts/run.sh holds the default ports of these; the bench needs neither.
        .merge(("telemetry.internal_addr", "off"))
        .merge(("telemetry.worker_metrics_addr", "off"));
    Ok(Settings::from_figment(figment)?)
}

/// The sections that need the running app.
async fn against_the_app(options: &Options, report: &mut report::Report) -> anyhow::Result<()> {
    let settings = bench_settings().await?;
    let app = Application::build(settings.clone()).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    // The app's own pool settings: the same-queries ceiling pays what the app pays for a connection.
    let pool = cartograph::db::connect(&settings.database, std::time::Duration::from_secs(10)).await?;
    let stop = Shutdown::default();
    let stopped = stop.clone();
    let server = tokio::spawn(app.run_until(async move { stopped.wait().await }));
    let wants = |section: &str| options.sections.iter().any(|s| s == section);

    let result = async {
        if wants("ingest") {
            let topic = format!("{}clickstream.v1", settings.kafka.topic_prefix);
            ingest::run(&base, &settings.kafka.connection(), &topic, report).await.context("ingest")?;
        }
        if wants("ssr") {
            let slug: String =
                sqlx::query_scalar("SELECT slug FROM products ORDER BY id LIMIT 1").fetch_one(&pool).await?;
            ssr::run(&base, &pool, &slug, report).await.context("SSR")?;
        }
        if wants("functions") {
            functions::run(&base, &pool, report).await.context("server functions")?;
        }
        if wants("graphql") {
            graphql::run(&base, report).await.context("GraphQL")?;
        }
        if wants("search") {
            search::run(&base, report).await.context("search")?;
        }
        if wants("insights") {
            insights::run(&base, &pool, report).await.context("insights")?;
        }
        anyhow::Ok(())
    }
    .await;
    stop.trigger();
    let _ = server.await;
    pool.close().await;
    result
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    exit::exit_code("cartograph-bench", run().await)
}

async fn run() -> anyhow::Result<()> {
    let options = options()?;
    let mut report = report::Report::default();
    if options
        .sections
        .iter()
        .any(|s| ["ingest", "ssr", "functions", "graphql", "search", "insights"].contains(&s.as_str()))
    {
        against_the_app(&options, &mut report).await?;
    }
    if options.sections.iter().any(|s| s == "journey") {
        journey::run(&mut report)?;
    }
    if options.sections.iter().any(|s| s == "wasm") {
        wasm::run(&options.wasm, &mut report)?;
    }
    println!("{}", report.table());
    for note in &report.notes {
        println!("- {note}");
    }
    println!("\nratio: 1.00 = at the ceiling, lower is worse (for times and sizes: ceiling ÷ measured); ⚠ below 0.5");
    if let Some(path) = &options.write {
        report::write_into(path, &report.markdown())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
