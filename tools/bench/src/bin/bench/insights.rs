//! Journey intelligence: what the worker's aggregates (insights, recommendations, paths, slots) cost its store
//! step, and what the insights page costs once 100,000 events are stored.
//!
//! The worker stores each event in one transaction (`cartograph::clickstream::store::insert_event`), and since
//! the insights that transaction also keeps the aggregates. Its ceiling here is the same events stored as the
//! worker stored them before (the event and its visit's summary, nothing else), on the same database, with the
//! same concurrency. Both read the same shopper journeys; Kafka is left out, as it is the same for both. A worker
//! stores one event after another; several workers (scale-out) store at once and meet on the aggregates'
//! busiest rows (today's home page, say), so that is measured too. Then the insights page for the day, rendered for a signed-in admin, against the same
//! queries alone (`app::insights::store::insights`).

use crate::{
    driver::{closed_loop, Run, Shape},
    report::{Better, Report, Row},
};
use app::{
    insights::DayRange,
    tracking::schema::{ClickstreamRecord, EventKind, EventOrigin, SCHEMA_VERSION},
};
use cartograph::clickstream::store::insert_event;
use cartograph_tools::common::sign_in::sign_in;
use sqlx::PgPool;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Events the aggregated store writes: the page is then measured over this many.
const STORED: usize = 100_000;
/// Events the ceiling writes, half before and half after (the tables grow under both alike).
const CEILING_EVENTS: usize = 20_000;
/// Workers storing at once in the second comparison (several copies of the worker, each on its partitions).
const WORKERS: usize = 4;
/// Events each way in that comparison.
const CONTENDED_EVENTS: usize = 20_000;
const PAGE_SHAPE: Shape = Shape { concurrency: 2, warmup: Duration::from_millis(500), window: Duration::from_secs(4) };

/// One shopper's visit as the tracker and the server record it: the home page and its slot, a search, products
/// (one opened from the slot), web vitals, a click, a cart add, a page leave; `n` varies the pages and
/// products, so paths and pairs spread as a shop's do.
fn journey(n: usize, products: &[(i64, String)]) -> Vec<ClickstreamRecord> {
    let visit = Uuid::new_v4();
    let (first, second) = (&products[n % products.len()], &products[(n * 7 + 3) % products.len()]);
    let at = chrono::Utc::now();
    let queries = ["tent", "stove", "jakcet", "mug", "lamp"];
    let query = queries[n % queries.len()];
    let opened = format!("/product/{}?rec=popular", second.1);
    let events = vec![
        ("/".to_string(), EventKind::PageView { referrer: None, title: Some("Cartograph".into()) }),
        ("/".into(), EventKind::RecImpression { slot: "popular".into(), products: 4 }),
        (format!("/products?q={query}"), EventKind::PageView { referrer: Some("/".into()), title: None }),
        (format!("/products?q={query}"), EventKind::Search { query: query.into(), results: (n % 3) as i64 }),
        (format!("/product/{}", first.1), EventKind::PageView { referrer: None, title: None }),
        (format!("/product/{}", first.1), EventKind::ProductView { product_id: first.0, slug: first.1.clone() }),
        (
            format!("/product/{}", first.1),
            EventKind::Click { element: "a".into(), label: "rec-popular".into(), href: Some(opened.clone()) },
        ),
        (opened.clone(), EventKind::PageView { referrer: None, title: None }),
        (opened.clone(), EventKind::ProductView { product_id: second.0, slug: second.1.clone() }),
        (opened.clone(), EventKind::CartAdd { product_id: second.0, quantity: 1 }),
        (
            opened.clone(),
            EventKind::WebVitals { lcp_ms: Some(900 + (n % 40) as i64 * 50), cls_milli: Some(12), inp_ms: None },
        ),
        (opened, EventKind::PageLeave { duration_ms: 8_000, scroll_depth_pct: 60 }),
    ];
    events
        .into_iter()
        .enumerate()
        .map(|(seq, (path, event))| ClickstreamRecord {
            schema_version: SCHEMA_VERSION,
            event_id: Uuid::new_v4(),
            visit_id: visit,
            user_id: None,
            received_at: at,
            client_ts: None,
            seq: seq as u32,
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0".into()),
            bot: false,
            origin: EventOrigin::Client,
            path,
            event,
        })
        .collect()
}

/// The worker's store step as it was before the aggregates: the event, once, and its visit's summary.
async fn store_bare(pool: &PgPool, record: &ClickstreamRecord) -> anyhow::Result<()> {
    let payload = serde_json::to_value(record)?;
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT events FROM visits WHERE visit_id = $1 FOR UPDATE")
        .bind(record.visit_id)
        .fetch_optional(&mut *tx)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO clickstream_events
             (event_id, visit_id, user_id, event_type, path, received_at, client_ts, seq, user_agent, payload)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(record.event_id)
    .bind(record.visit_id)
    .bind(record.user_id)
    .bind(record.event.name())
    .bind(&record.path)
    .bind(record.received_at)
    .bind(record.client_ts)
    .bind(record.seq as i32)
    .bind(&record.user_agent)
    .bind(payload)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        let kind = record.event.name();
        let count = |of: &str| i32::from(kind == of);
        sqlx::query(
            "INSERT INTO visits (visit_id, user_id, started_at, last_event_at, events, page_views, clicks, cart_adds,
                                 checkouts, paid, user_agent, bot)
             VALUES ($1, $2, $3, $3, 1, $4, $5, $6, 0, false, $7, $8)
             ON CONFLICT (visit_id) DO UPDATE SET
                 user_id = COALESCE(visits.user_id, EXCLUDED.user_id),
                 started_at = LEAST(visits.started_at, EXCLUDED.started_at),
                 last_event_at = GREATEST(visits.last_event_at, EXCLUDED.last_event_at),
                 events = visits.events + 1,
                 page_views = visits.page_views + EXCLUDED.page_views,
                 clicks = visits.clicks + EXCLUDED.clicks,
                 cart_adds = visits.cart_adds + EXCLUDED.cart_adds,
                 user_agent = COALESCE(visits.user_agent, EXCLUDED.user_agent),
                 bot = CASE WHEN visits.user_agent IS NULL THEN EXCLUDED.bot ELSE visits.bot END,
                 closed_at = NULL",
        )
        .bind(record.visit_id)
        .bind(record.user_id)
        .bind(record.received_at)
        .bind(count("page_view"))
        .bind(count("click"))
        .bind(count("cart_add"))
        .bind(&record.user_agent)
        .bind(record.bot)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Stores `journeys` on `workers` tasks (each its own visits, one event after another, as a worker stores
/// them), with the worker's store step or the bare one; returns the time it took.
async fn store_all(
    pool: &PgPool,
    journeys: Vec<Vec<ClickstreamRecord>>,
    aggregated: bool,
    workers: usize,
) -> anyhow::Result<Duration> {
    let mut shares: Vec<Vec<Vec<ClickstreamRecord>>> = (0..workers).map(|_| Vec::new()).collect();
    for (n, journey) in journeys.into_iter().enumerate() {
        shares[n % workers].push(journey);
    }
    let began = Instant::now();
    let tasks = shares.into_iter().map(|share| {
        let pool = pool.clone();
        tokio::spawn(async move {
            for record in share.iter().flatten() {
                if aggregated {
                    insert_event(&pool, record, 10_000).await?;
                } else {
                    store_bare(&pool, record).await?;
                }
            }
            anyhow::Ok(())
        })
    });
    for task in futures::future::join_all(tasks).await {
        task??;
    }
    Ok(began.elapsed())
}

fn journeys(events: usize, from: usize, products: &[(i64, String)]) -> Vec<Vec<ClickstreamRecord>> {
    let per_visit = journey(0, products).len();
    (from..from + events / per_visit).map(|n| journey(n, products)).collect()
}

/// Adds the rows: events stored per second with the aggregates against the bare store, and the insights page
/// over [`STORED`] events against its queries alone.
pub async fn run(base: &str, pool: &PgPool, report: &mut Report) -> anyhow::Result<()> {
    let products: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, slug FROM products WHERE archived_at IS NULL ORDER BY id").fetch_all(pool).await?;
    anyhow::ensure!(!products.is_empty(), "the bench database has no products");
    let per_visit = journey(0, &products).len();
    eprintln!("insights: storing {STORED} events with the aggregates, {CEILING_EVENTS} without, one at a time");
    let half = CEILING_EVENTS / 2;
    let mut bare = store_all(pool, journeys(half, 1_000_000, &products), false, 1).await?;
    let aggregated = store_all(pool, journeys(STORED, 0, &products), true, 1).await?;
    bare += store_all(pool, journeys(half, 2_000_000, &products), false, 1).await?;
    let rate = |events: usize, took: Duration| (events / per_visit * per_visit) as f64 / took.as_secs_f64();
    let ceiling = "the same journeys stored without aggregates (event + visit summary)";
    report.add(Row::new(
        "insights",
        "events/s stored by a worker (with every aggregate)",
        rate(STORED, aggregated),
        rate(CEILING_EVENTS, bare),
        ceiling,
        Better::Higher,
    ));
    eprintln!("insights: {CONTENDED_EVENTS} events each way, {WORKERS} workers at once");
    let bare = store_all(pool, journeys(CONTENDED_EVENTS, 3_000_000, &products), false, WORKERS).await?;
    let aggregated = store_all(pool, journeys(CONTENDED_EVENTS, 4_000_000, &products), true, WORKERS).await?;
    report.add(Row::new(
        "insights",
        &format!("events/s stored by {WORKERS} workers at once (with every aggregate)"),
        rate(CONTENDED_EVENTS, aggregated),
        rate(CONTENDED_EVENTS, bare),
        ceiling,
        Better::Higher,
    ));

    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM clickstream_events").fetch_one(pool).await?;
    let today = chrono::Utc::now().date_naive();
    let range = DayRange { from: today - chrono::Days::new(6), to: today };
    let client = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build()?;
    sign_in(&client, base, "admin", false).await?;
    let url = format!("{base}/admin/insights?{}", range.query());
    let first = client.get(&url).send().await?;
    anyhow::ensure!(first.status() == 200, "the insights page answered {}", first.status());
    let html = first.text().await?;
    anyhow::ensure!(
        html.contains("Top paths") && html.contains("Popular right now"),
        "the insights page is incomplete"
    );
    let mut page = closed_loop(PAGE_SHAPE, move |_, _| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let response = client.get(url).send().await?;
            anyhow::ensure!(response.status() == 200, "the insights page answered {}", response.status());
            response.bytes().await?;
            Ok(())
        }
    })
    .await?;
    let pool = pool.clone();
    let mut queries: Run = closed_loop(PAGE_SHAPE, move |_, _| {
        let pool = pool.clone();
        async move {
            app::insights::store::insights(&pool, range).await?;
            Ok(())
        }
    })
    .await?;
    report.add(Row::new(
        "insights",
        &format!("p50 ms per /admin/insights, {}k events stored", stored / 1000),
        page.latencies.percentile_ms(0.5),
        queries.latencies.percentile_ms(0.5),
        "the page's queries alone",
        Better::Lower,
    ));
    report.note(format!(
        "insights: {per_visit}-event shopper journeys (home and its slot, a search, two products, one opened from \
         the slot, a click in it, a cart add, web vitals, a page leave), each event in its own transaction as the \
         worker stores it; the one-worker ceiling stored {CEILING_EVENTS} of them, half before and half after the \
         {STORED}; the page covers the last 7 days, {} KiB of HTML, {} at once.",
        html.len() / 1024,
        PAGE_SHAPE.concurrency
    ));
    Ok(())
}
