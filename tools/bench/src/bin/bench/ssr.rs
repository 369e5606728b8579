//! Server-side rendering: three real pages from the app (router, middleware, sessions, the database, Leptos
//! SSR) against two ceilings, with the same client and concurrency: the same bytes served from memory by a bare
//! axum handler (what HTTP alone costs), and the same pages written by hand with the same queries ([`ceiling`]:
//! what the database work costs). Then as a browser asks (`Accept-Encoding: gzip, br`), the memory ceiling
//! serving the compressed bytes the app sent. Last, what each gzip level costs a page in CPU and on a slow link.

use crate::{
    ceiling,
    driver::{closed_loop, Run, Shape},
    report::{Better, Report, Row},
};
use anyhow::Context;
use axum::{body::Bytes, extract::State, http::Uri, response::IntoResponse, Router};
use std::{collections::HashMap, sync::Arc, time::Duration};

const SHAPE: Shape = Shape { concurrency: 8, warmup: Duration::from_secs(1), window: Duration::from_secs(4) };

/// What a browser sends, and so what the compressed rows ask for.
const BROWSER_ENCODINGS: &str = "gzip, deflate, br, zstd";
/// A slow mobile link (the WASM budget's too): what a byte costs a shopper on the wire.
const SLOW_LINK_BITS_PER_SEC: f64 = 4_000_000.0;

/// A captured response: content type, content encoding (when compressed) and body.
#[derive(Clone)]
struct Page {
    content_type: String,
    encoding: Option<String>,
    body: Bytes,
}

/// Captured responses by path and query.
type Pages = Arc<HashMap<String, Page>>;

async fn serve_from_memory(State(pages): State<Pages>, uri: Uri) -> axum::response::Response {
    let key = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    match pages.get(key) {
        Some(page) => {
            let mut response =
                ([(http::header::CONTENT_TYPE, page.content_type.clone())], page.body.clone()).into_response();
            if let Some(encoding) = page.encoding.as_deref().and_then(|e| http::HeaderValue::from_str(e).ok()) {
                response.headers_mut().insert(http::header::CONTENT_ENCODING, encoding);
            }
            response
        }
        None => http::StatusCode::NOT_FOUND.into_response(),
    }
}

/// Fetches a page as `client` asks for it, keeping its bytes as sent.
async fn capture(client: &reqwest::Client, url: &str) -> anyhow::Result<Page> {
    let response = client.get(url).send().await?;
    anyhow::ensure!(response.status() == 200, "{url} answered {}", response.status());
    let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let content_type = header(http::header::CONTENT_TYPE).unwrap_or_else(|| "text/html".into());
    let encoding = header(http::header::CONTENT_ENCODING);
    let body = response.bytes().await.with_context(|| format!("reading {url}"))?;
    Ok(Page { content_type, encoding, body })
}

/// Every page of `paths` from `base`, as `client` asks for it.
async fn capture_all(client: &reqwest::Client, base: &str, paths: &[(&str, String)]) -> anyhow::Result<Pages> {
    let mut pages = HashMap::new();
    for (_, path) in paths {
        pages.insert(path.clone(), capture(client, &format!("{base}{path}")).await?);
    }
    Ok(Arc::new(pages))
}

/// "home / 17 KiB, …", with the encoding when `encoded`.
fn sizes(paths: &[(&str, String)], pages: &Pages, encoded: bool) -> String {
    let size = |(label, path): &(&str, String)| {
        let page = &pages[path];
        let encoding = page.encoding.as_deref().unwrap_or("identity");
        let encoding = if encoded { format!(" {encoding}") } else { String::new() };
        format!("{label}{encoding} {} KiB", page.body.len() / 1024)
    };
    paths.iter().map(size).collect::<Vec<_>>().join(", ")
}

/// Microseconds to gzip `html` at `level` (the median of repeated runs) and the bytes it makes.
fn gzip_cost(html: &[u8], level: u32) -> (f64, usize) {
    use std::io::Write;
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..41 {
        let start = std::time::Instant::now();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        encoder.write_all(html).expect("writing to memory");
        size = encoder.finish().expect("writing to memory").len();
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], size)
}

/// Microseconds that `bytes` take on the slow link.
fn wire_us(bytes: usize) -> f64 {
    bytes as f64 * 8.0 / SLOW_LINK_BITS_PER_SEC * 1e6
}

/// Starts the bare server on a random loopback port and returns its base URL.
async fn bare_server(pages: Pages) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let router = Router::new().fallback(serve_from_memory).with_state(pages);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(base)
}

async fn hammer(client: &reqwest::Client, url: String) -> anyhow::Result<Run> {
    let client = client.clone();
    closed_loop(SHAPE, move |_, _| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let response = client.get(&url).send().await?;
            anyhow::ensure!(response.status() == 200, "{url} answered {}", response.status());
            response.bytes().await?;
            Ok(())
        }
    })
    .await
}

/// A server the app's pages are measured against, and what it is.
struct Ceiling<'a> {
    base: String,
    is: &'a str,
}

const FROM_MEMORY: &str = "same bytes from a bare axum handler";
const SAME_QUERIES: &str = "hand-written maud page, same queries";

/// Adds requests/s and p99 of each page from the app (`base`) and from `ceiling`, asked for by `client`.
async fn compare(
    client: &reqwest::Client,
    base: &str,
    ceiling: &Ceiling<'_>,
    paths: &[(&str, String)],
    suffix: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    for (label, path) in paths {
        eprintln!(
            "ssr: {path}{suffix}, from the app, then from the ceiling: {} ({} s each)",
            ceiling.is,
            SHAPE.window.as_secs()
        );
        let mut app = hammer(client, format!("{base}{path}")).await?;
        let mut top = hammer(client, format!("{}{path}", ceiling.base)).await?;
        let rate = format!("{label} req/s ({path}){suffix}");
        report.add(Row::new("SSR", &rate, app.rate(), top.rate(), ceiling.is, Better::Higher));
        let p99 = format!("{label} p99 ms{suffix}");
        report.add(Row::new("SSR", &p99, app.p99_ms(), top.p99_ms(), ceiling.is, Better::Lower));
    }
    Ok(())
}

/// Adds requests/s and p99 for the home page, a search and a product page.
pub async fn run(base: &str, pool: &sqlx::PgPool, product_slug: &str, report: &mut Report) -> anyhow::Result<()> {
    // No cookie jar: every request is a first visit, the same for the app and the bare server.
    let client = reqwest::Client::builder().build()?;
    let paths = [
        ("home /", "/".to_string()),
        ("search", "/products?q=tent".to_string()),
        ("product", format!("/product/{product_slug}")),
    ];
    let pages = capture_all(&client, base, &paths).await?;
    let html: Vec<(&str, Bytes)> = paths.iter().map(|(label, path)| (*label, pages[path].body.clone())).collect();
    let memory = Ceiling { base: bare_server(pages.clone()).await?, is: FROM_MEMORY };
    compare(&client, base, &memory, &paths, "", report).await?;
    let hand_written = Ceiling { base: ceiling::serve(pool.clone()).await?, is: SAME_QUERIES };
    let hand_written_pages = capture_all(&client, &hand_written.base, &paths).await?;
    compare(&client, base, &hand_written, &paths, "", report).await?;

    // As a browser asks: the app compresses each response; the ceiling sends the bytes it compressed.
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::ACCEPT_ENCODING, http::HeaderValue::from_static(BROWSER_ENCODINGS));
    let browser = reqwest::Client::builder().default_headers(headers).build()?;
    let compressed = capture_all(&browser, base, &paths).await?;
    let memory = Ceiling { base: bare_server(compressed.clone()).await?, is: FROM_MEMORY };
    compare(&browser, base, &memory, &paths, ", compressed", report).await?;

    // A level is worth its CPU when compressing and sending the page takes less than sending it as it is.
    for (label, body) in &html {
        for level in [1, 4, 6, 9] {
            let (cpu_us, size) = gzip_cost(body, level);
            report.add(Row::new(
                "SSR",
                &format!("{label} gzip -{level}: µs to compress + send ({} KiB)", size / 1024),
                cpu_us + wire_us(size),
                wire_us(body.len()),
                "µs to send it uncompressed at 4 Mbit/s",
                Better::Lower,
            ));
        }
    }
    report.note(format!(
        "SSR: {} concurrent requests over loopback (reqwest, keep-alive, no cookies), 1 s warm-up then {} s per \
         target; client and servers share one tokio runtime (a worker thread per core). Page sizes: {}; the \
         hand-written pages (same queries, same markup, no framework): {}; asked for with `Accept-Encoding: \
         {BROWSER_ENCODINGS}`: {}.",
        SHAPE.concurrency,
        SHAPE.window.as_secs(),
        sizes(&paths, &pages, false),
        sizes(&paths, &hand_written_pages, false),
        sizes(&paths, &compressed, true)
    ));
    Ok(())
}
