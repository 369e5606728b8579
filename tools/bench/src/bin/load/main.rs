//! `cartograph-load`: shoppers against a running Cartograph, for a bounded time, then a report of throughput,
//! latency percentiles per step and errors by kind. Run it through `scripts/load.sh`.
//!
//! ```text
//! cartograph-load [--url URL] [--duration SECS] [--users N] [--think-ms MS] [--seed N] [--no-assets] [--as-browsers] [--allow-remote]
//!                 [--live-file PATH --drill AT:NAME=VALUE ...]
//! ```
//! `--drill` turns a drill flag on or off AT seconds into the run by writing the web servers' live file
//! (`drills`), e.g. `--drill 10:payment_failure_rate=0.3 --drill 40:payment_failure_rate=0`; the report then
//! shows what the shoppers met meanwhile.
//! Each user plays one visit after another, each visit a new browser with its own cookie jar. Checking out signs
//! the shopper in at the dev OpenID provider (any login is accepted there) as `load-RUN-N`, so the run leaves
//! accounts, orders and reserved stock behind: point it at a development stack, never at a shop with real
//! customers. It refuses any host but this machine unless `--allow-remote` is given.

mod drills;
mod shopper;
mod stats;
mod tracker;

use anyhow::{bail, ensure, Context};
use app::catalog::{Category, ProductDetail, ProductPage};
use cartograph_tools::common::{exit, sign_in};
use shopper::{Catalog, Shopper};
use stats::Stats;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

const USAGE: &str = "usage: cartograph-load [--url URL] [--duration SECS] [--users N] [--think-ms MS] [--seed N] [--no-assets] [--as-browsers] [--allow-remote] [--live-file PATH --drill AT:NAME=VALUE ...]";
/// How long shoppers get after the deadline to finish the request in flight and send their last events.
const GRACE: Duration = Duration::from_secs(15);

/// The run's settings, shared by every shopper.
pub struct Options {
    pub base: String,
    pub duration: Duration,
    pub users: u64,
    pub think: Duration,
    pub seed: u64,
    pub assets: bool,
    /// Play shoppers with an ordinary browser's user agent, so their visits count in the insights (a demo shop's
    /// pictures); without it the traffic says it is a load test, and counts as a bot's.
    pub as_browsers: bool,
    pub allow_remote: bool,
    /// The web servers' live file, which `--drill` steps write.
    pub live_file: Option<std::path::PathBuf>,
    pub drills: Vec<drills::Step>,
    /// Part of every sign-in name, so two runs never share accounts.
    pub run_id: String,
}

fn parse_options() -> anyhow::Result<Options> {
    let mut options = Options {
        base: "http://127.0.0.1:3000".into(),
        duration: Duration::from_secs(60),
        users: 20,
        think: Duration::from_millis(1000),
        seed: rand::random(),
        assets: true,
        as_browsers: false,
        allow_remote: false,
        live_file: None,
        drills: Vec::new(),
        run_id: uuid::Uuid::new_v4().simple().to_string()[..8].to_string(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value; {USAGE}"));
        match arg.as_str() {
            "--url" => options.base = value()?.trim_end_matches('/').to_string(),
            "--duration" => {
                options.duration = Duration::from_secs(value()?.parse().context("--duration: whole seconds")?)
            }
            "--users" => options.users = value()?.parse().context("--users: a number")?,
            "--think-ms" => {
                options.think = Duration::from_millis(value()?.parse().context("--think-ms: milliseconds")?)
            }
            "--seed" => options.seed = value()?.parse().context("--seed: a number")?,
            "--no-assets" => options.assets = false,
            "--as-browsers" => options.as_browsers = true,
            "--allow-remote" => options.allow_remote = true,
            "--live-file" => options.live_file = Some(value()?.into()),
            "--drill" => options.drills.push(drills::Step::parse(&value()?)?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}; {USAGE}"),
        }
    }
    ensure!(options.users >= 1 && options.users <= 5_000, "--users must be 1 to 5000");
    ensure!(
        options.drills.is_empty() || options.live_file.is_some(),
        "--drill needs --live-file (the web servers' live file)"
    );
    ensure!(
        !options.duration.is_zero() && options.duration <= Duration::from_secs(3600),
        "--duration must be 1 to 3600 s"
    );
    let url: reqwest::Url = options.base.parse().with_context(|| format!("--url {:?} is not a URL", options.base))?;
    if !options.allow_remote && !sign_in::is_loopback(&url) {
        bail!("{} is not this machine; a load test against another host needs --allow-remote", options.base);
    }
    Ok(options)
}

/// Reads the categories and every product through the same server functions the app calls.
async fn read_catalog(base: &str) -> anyhow::Result<Catalog> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let reachable = client.get(format!("{base}/healthz")).send().await;
    let healthy = reachable.with_context(|| format!("cannot reach Cartograph at {base}"))?;
    ensure!(healthy.status().is_success(), "{base}/healthz answered {}", healthy.status());
    let categories: Vec<Category> =
        client.post(format!("{base}/api/categories")).send().await?.error_for_status()?.json().await?;
    let mut products = Vec::new();
    for page in 1.. {
        let body = serde_json::json!({ "query": { "page": page } });
        let found: ProductPage = client
            .post(format!("{base}/api/search_products"))
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        products.extend(found.products);
        if page >= found.page_count {
            break;
        }
    }
    ensure!(!products.is_empty(), "the shop at {base} has no products to browse");
    let mut variants = std::collections::HashMap::new();
    for product in &products {
        let detail: ProductDetail = client
            .post(format!("{base}/api/product_detail"))
            .form(&[("slug", product.slug.as_str())])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if !detail.options.is_empty() {
            let on_sale = detail.variants.iter().filter(|variant| variant.stock > 0).map(|variant| variant.id);
            variants.insert(product.id, on_sale.collect());
        }
    }
    Ok(Catalog { categories, products, variants })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    exit::exit_code("cartograph-load", run().await)
}

async fn run() -> anyhow::Result<()> {
    let options = Arc::new(parse_options()?);
    let catalog = Arc::new(read_catalog(&options.base).await?);
    println!(
        "cartograph-load: {} users for {} s against {} ({} products, {} categories, think {} ms, seed {})",
        options.users,
        options.duration.as_secs(),
        options.base,
        catalog.products.len(),
        catalog.categories.len(),
        options.think.as_millis(),
        options.seed
    );
    let stats = Arc::new(Stats::default());
    let plan = match &options.live_file {
        Some(file) if !options.drills.is_empty() => {
            Some(Arc::new(drills::Plan::new(file.clone(), options.drills.clone())?))
        }
        _ => None,
    };
    let started = Instant::now();
    let drilling = plan.clone().map(|plan| tokio::spawn(async move { plan.run(started).await }));
    let deadline = started + options.duration;
    // Users join evenly over the first quarter of the run (at most 10 s), as traffic ramps up.
    let ramp = (options.duration / 4).min(Duration::from_secs(10));
    let users: Vec<_> = (0..options.users)
        .map(|user| {
            let (options, catalog, stats) = (options.clone(), catalog.clone(), stats.clone());
            tokio::spawn(async move {
                tokio::time::sleep(ramp.mul_f64(user as f64 / options.users as f64)).await;
                let mut visit = 0;
                while Instant::now() < deadline {
                    let number = user * 1_000_000 + visit;
                    match Shopper::new(number, options.clone(), catalog.clone(), stats.clone(), deadline) {
                        Ok(shopper) => shopper.visit().await,
                        Err(error) => return eprintln!("user {user}: cannot start a browser: {error:#}"),
                    }
                    visit += 1;
                    // The next visitor arrives a moment later; a shop that fails every first page is not hammered.
                    let pause = options.think.min(deadline.saturating_duration_since(Instant::now()));
                    tokio::time::sleep(pause).await;
                }
            })
        })
        .collect();
    let hard_stop = tokio::time::Instant::from(deadline + GRACE);
    let mut stragglers = 0;
    for user in users {
        let abort = user.abort_handle();
        if tokio::time::timeout_at(hard_stop, user).await.is_err() {
            abort.abort();
            stragglers += 1;
        }
    }
    let elapsed = started.elapsed();
    if let (Some(plan), Some(drilling)) = (plan, drilling) {
        drilling.abort();
        match plan.restore() {
            Ok(()) => println!("drills: the live file is back as it was before the run"),
            Err(error) => eprintln!("drills: cannot put the live file back: {error}"),
        }
    }
    println!(
        "\nran {:.1} s: a {} s deadline, then the requests in flight and the last events (rates are over the whole run)\n",
        elapsed.as_secs_f64(),
        options.duration.as_secs()
    );
    print!("{}", stats.report(elapsed));
    if stragglers > 0 {
        println!("  users stopped after the {} s grace: {stragglers}", GRACE.as_secs());
    }
    Ok(())
}
