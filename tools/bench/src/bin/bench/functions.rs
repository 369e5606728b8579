//! Server functions over HTTP, with signed-in shoppers: add to cart and checkout with plenty of stock, then
//! shoppers racing for a few units. The ceiling is `current_user`, the cheapest server function: the same
//! router, middleware, session lookup and server-function plumbing with no work of its own.

use crate::{
    driver::{closed_loop, Run, Shape},
    report::{Better, Report, Row},
};
use anyhow::{bail, ensure, Context};
use cartograph_tools::common::{latency::Latencies, sign_in::sign_in};
use futures::{stream, StreamExt};
use reqwest::{cookie::CookieStore, header::HeaderValue, StatusCode};
use sqlx::PgPool;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

const SHAPE: Shape = Shape { concurrency: 8, warmup: Duration::from_secs(1), window: Duration::from_secs(4) };
/// As many shoppers as the demo catalog has products, so each can check out its own product.
const SHOPPERS: usize = 48;
const SCARCE_UNITS: i64 = 10;
const ROUNDS: usize = 10;
const PLENTY: i32 = 1_000_000;

/// One signed-in shopper: the cookies its browser would send.
#[derive(Clone)]
struct Shopper {
    cookies: HeaderValue,
}

#[derive(Clone)]
struct Shop {
    base: String,
    client: reqwest::Client,
    shoppers: Arc<Vec<Shopper>>,
    products: Arc<Vec<i64>>,
}

impl Shop {
    async fn call(&self, shopper: usize, function: &str, form: &[(&str, String)]) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .post(format!("{}/api/{function}", self.base))
            .header(reqwest::header::COOKIE, self.shoppers[shopper].cookies.clone())
            .form(form)
            .send()
            .await?)
    }

    async fn expect_ok(&self, shopper: usize, function: &str, form: &[(&str, String)]) -> anyhow::Result<()> {
        let response = self.call(shopper, function, form).await?;
        let status = response.status();
        if status != StatusCode::OK {
            bail!("{function} answered {status}: {}", response.text().await.unwrap_or_default());
        }
        response.bytes().await?;
        Ok(())
    }

    async fn add(&self, shopper: usize, product: i64) -> anyhow::Result<()> {
        self.expect_ok(shopper, "cart_add", &[("product_id", product.to_string()), ("quantity", "1".into())]).await
    }

    async fn checkout(&self, shopper: usize) -> anyhow::Result<reqwest::Response> {
        let address = [
            ("name", "Bench Shopper"),
            ("line1", "1 Loop Rd"),
            ("line2", ""),
            ("city", "Berlin"),
            ("postcode", "10115"),
            ("country", "DE"),
        ];
        let form: Vec<(&str, String)> = address.iter().map(|(k, v)| (*k, v.to_string())).collect();
        self.call(shopper, "checkout", &form).await
    }

    /// The shoppers worker `worker` owns in a closed loop: no two workers touch one cart at once.
    fn owned(worker: usize, n: usize) -> usize {
        worker + SHAPE.concurrency * (n % (SHOPPERS / SHAPE.concurrency))
    }
}

async fn sign_in_shoppers(base: &str) -> anyhow::Result<Vec<Shopper>> {
    let url: reqwest::Url = base.parse()?;
    let signed_in = stream::iter(0..SHOPPERS)
        .map(|index| {
            let url = url.clone();
            async move {
                let jar = Arc::new(reqwest::cookie::Jar::default());
                let client = reqwest::Client::builder()
                    .cookie_provider(jar.clone())
                    .redirect(reqwest::redirect::Policy::none())
                    .build()?;
                sign_in(&client, base, &format!("bench-{index}"), false)
                    .await
                    .with_context(|| format!("signing in bench-{index}"))?;
                let cookies = jar.cookies(&url).context("no cookies after sign-in")?;
                anyhow::Ok(Shopper { cookies })
            }
        })
        .buffered(8)
        .collect::<Vec<_>>()
        .await;
    signed_in.into_iter().collect()
}

async fn empty_carts(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM order_lines WHERE order_id IN (SELECT id FROM orders WHERE status = 'cart')")
        .execute(pool)
        .await?;
    Ok(())
}

/// Every shopper checks out at the same instant; returns the wall time and the answers.
async fn race(shop: &Shop) -> anyhow::Result<(Duration, Vec<(StatusCode, String)>)> {
    let started = Instant::now();
    let answers = futures::future::join_all((0..SHOPPERS).map(|shopper| async move {
        let response = shop.checkout(shopper).await?;
        anyhow::Ok((response.status(), response.text().await?))
    }))
    .await;
    let elapsed = started.elapsed();
    Ok((elapsed, answers.into_iter().collect::<anyhow::Result<_>>()?))
}

/// Every shopper checks out its own product, each with plenty of stock: the race without the scarcity.
async fn uncontended_races(shop: &Shop, pool: &PgPool) -> anyhow::Result<Duration> {
    empty_carts(pool).await?;
    let mut total = Duration::ZERO;
    for _ in 0..ROUNDS {
        for shopper in 0..SHOPPERS {
            shop.add(shopper, shop.products[shopper]).await?;
        }
        let (elapsed, answers) = race(shop).await?;
        if let Some((status, body)) = answers.iter().find(|(status, _)| *status != StatusCode::OK) {
            bail!("an uncontended checkout answered {status}: {body}");
        }
        total += elapsed;
    }
    Ok(total)
}

/// Units of a product held by orders past the cart (reserved, paid or later).
async fn reserved_units(pool: &PgPool, product: i64) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(SUM(l.quantity), 0)::bigint FROM order_lines l JOIN orders o ON o.id = l.order_id
         WHERE l.product_id = $1 AND o.status <> 'cart'",
    )
    .bind(product)
    .fetch_one(pool)
    .await?)
}

/// What the scarce-stock races sold, checked against what was offered.
struct Contention {
    elapsed: Duration,
    sold: i64,
    lowest_stock: i64,
}

/// Every shopper wants one of the same `SCARCE_UNITS` units; exactly that many must win each round.
async fn contended_races(shop: &Shop, pool: &PgPool) -> anyhow::Result<Contention> {
    empty_carts(pool).await?;
    let scarce = shop.products[0];
    // The earlier phases ordered this product too.
    let reserved_before = reserved_units(pool, scarce).await?;
    let mut outcome = Contention { elapsed: Duration::ZERO, sold: 0, lowest_stock: i64::MAX };
    let mut in_cart = [false; SHOPPERS];
    for round in 0..ROUNDS {
        sqlx::query("UPDATE variants SET stock = $2 WHERE product_id = $1")
            .bind(scarce)
            .bind(SCARCE_UNITS as i32)
            .execute(pool)
            .await?;
        for (shopper, has) in in_cart.iter_mut().enumerate() {
            if !*has {
                shop.add(shopper, scarce).await?;
                *has = true;
            }
        }
        let (elapsed, answers) = race(shop).await?;
        outcome.elapsed += elapsed;
        let mut winners = 0;
        for (shopper, (status, body)) in answers.iter().enumerate() {
            match *status {
                StatusCode::OK => {
                    winners += 1;
                    in_cart[shopper] = false;
                }
                StatusCode::UNPROCESSABLE_ENTITY if body.contains("out of stock") => {}
                other => bail!("a contended checkout answered {other}: {body}"),
            }
        }
        let stock: i32 =
            sqlx::query_scalar("SELECT stock FROM products WHERE id = $1").bind(scarce).fetch_one(pool).await?;
        ensure!(stock >= 0, "round {round}: stock went negative ({stock})");
        ensure!(winners == SCARCE_UNITS, "round {round}: {winners} checkouts won {SCARCE_UNITS} units");
        ensure!(
            i64::from(stock) == SCARCE_UNITS - winners,
            "round {round}: {winners} won but {stock} of {SCARCE_UNITS} remain"
        );
        outcome.sold += winners;
        outcome.lowest_stock = outcome.lowest_stock.min(i64::from(stock));
    }
    let reserved = reserved_units(pool, scarce).await? - reserved_before;
    let offered = SCARCE_UNITS * ROUNDS as i64;
    ensure!(
        reserved == outcome.sold && reserved <= offered,
        "orders hold {reserved} units; {} were sold of {offered} offered",
        outcome.sold
    );
    Ok(outcome)
}

/// Adds the rows for `current_user`, add to cart, the checkout cycle and the scarce-stock race.
pub async fn run(base: &str, pool: &PgPool, report: &mut Report) -> anyhow::Result<()> {
    eprintln!("server functions: signing in {SHOPPERS} shoppers at the dev provider");
    // Products sold as one variant: the bench adds them without choosing a size.
    let products: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM products p WHERE NOT EXISTS (SELECT 1 FROM product_options o WHERE o.product_id = p.id) ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    ensure!(products.len() >= SHOPPERS, "the bench needs {SHOPPERS} products; the catalog has {}", products.len());
    sqlx::query("UPDATE variants SET stock = $1").bind(PLENTY).execute(pool).await?;
    let shop = Shop {
        base: base.to_string(),
        client: reqwest::Client::builder().build()?,
        shoppers: Arc::new(sign_in_shoppers(base).await?),
        products: Arc::new(products),
    };

    eprintln!("server functions: current_user, cart_add, add + checkout ({} s each)", SHAPE.window.as_secs());
    let mut trivial = closed_loop(SHAPE, {
        let shop = shop.clone();
        move |worker, n| {
            let shop = shop.clone();
            async move {
                let response = shop.call(Shop::owned(worker, n), "current_user", &[]).await?;
                ensure!(response.status() == StatusCode::OK, "current_user answered {}", response.status());
                ensure!(response.text().await?.contains("bench-"), "current_user does not see the signed-in shopper");
                Ok(())
            }
        }
    })
    .await?;
    let mut adds = closed_loop(SHAPE, {
        let shop = shop.clone();
        // Eight products per shopper, in turn: carts of a realistic size, and every line far under the 99-unit
        // limit (that would take over 7,000 adds a second).
        move |worker, n| {
            let shop = shop.clone();
            async move {
                let shopper = Shop::owned(worker, n);
                let turn = n / (SHOPPERS / SHAPE.concurrency);
                shop.add(shopper, shop.products[(shopper + 6 * (turn % 8)) % SHOPPERS]).await
            }
        }
    })
    .await?;
    empty_carts(pool).await?;
    let checkout_latencies = Arc::new(std::sync::Mutex::new(Latencies::default()));
    let cycles: Run = closed_loop(SHAPE, {
        let (shop, checkout_latencies) = (shop.clone(), checkout_latencies.clone());
        move |worker, n| {
            let (shop, checkout_latencies) = (shop.clone(), checkout_latencies.clone());
            async move {
                let shopper = Shop::owned(worker, n);
                shop.add(shopper, shop.products[shopper]).await?;
                let began = Instant::now();
                let response = shop.checkout(shopper).await?;
                ensure!(
                    response.status() == StatusCode::OK,
                    "checkout answered {}: {}",
                    response.status(),
                    response.text().await?
                );
                checkout_latencies.lock().expect("latencies").record(began.elapsed());
                Ok(())
            }
        }
    })
    .await?;
    let mut checkout_latencies = std::mem::take(&mut *checkout_latencies.lock().expect("latencies"));

    eprintln!(
        "server functions: {ROUNDS} checkout races of {SHOPPERS} shoppers, plenty of stock, then {SCARCE_UNITS} units"
    );
    let uncontended = uncontended_races(&shop, pool).await?;
    let contended = contended_races(&shop, pool).await?;

    let ceiling = "current_user, same stack and concurrency";
    report.add(Row::new(
        "server fn",
        "current_user calls/s",
        trivial.rate(),
        trivial.rate(),
        "itself (the ceiling below)",
        Better::Higher,
    ));
    report.add(Row::new("server fn", "add to cart calls/s", adds.rate(), trivial.rate(), ceiling, Better::Higher));
    report.add(Row::new("server fn", "add to cart p99 ms", adds.p99_ms(), trivial.p99_ms(), ceiling, Better::Lower));
    report.add(Row::new(
        "server fn",
        "add + checkout cycles/s",
        cycles.rate(),
        trivial.rate() / 2.0,
        "two current_user calls per cycle",
        Better::Higher,
    ));
    report.add(Row::new(
        "server fn",
        "checkout p99 ms",
        checkout_latencies.percentile_ms(0.99),
        trivial.p99_ms(),
        ceiling,
        Better::Lower,
    ));
    let attempts = (SHOPPERS * ROUNDS) as f64;
    report.add(Row::new(
        "server fn",
        &format!("checkouts/s, {SHOPPERS} racing for {SCARCE_UNITS} units"),
        attempts / contended.elapsed.as_secs_f64(),
        attempts / uncontended.as_secs_f64(),
        &format!("the same race, {SHOPPERS} products with plenty of stock"),
        Better::Higher,
    ));
    report.note(format!(
        "server functions: {} signed-in shoppers as {} concurrent workers (each owns its shoppers' carts), 1 s warm-up \
         then {} s per figure; checkout reserves stock in one transaction (`UPDATE … WHERE stock >= n`). Latencies of \
         `current_user`: p50 {:.2} ms.",
        SHOPPERS,
        SHAPE.concurrency,
        SHAPE.window.as_secs(),
        trivial.latencies.percentile_ms(0.5),
    ));
    report.note(format!(
        "contention: {ROUNDS} rounds of {SHOPPERS} simultaneous checkouts for {SCARCE_UNITS} units: exactly \
         {SCARCE_UNITS} won every round; sold {} of {} units offered, the orders hold exactly that many, stock never \
         below 0 (lowest seen: {}). Nothing oversold.",
        contended.sold,
        SCARCE_UNITS * ROUNDS as i64,
        contended.lowest_stock,
    ));
    Ok(())
}
