//! Server-side rendering: three real pages from the app (router, middleware, sessions, the database, Leptos
//! SSR) next to the same bytes served from memory by a bare axum handler, with the same client and concurrency.

use crate::{
    driver::{closed_loop, Run, Shape},
    report::{Better, Report, Row},
};
use anyhow::Context;
use axum::{body::Bytes, extract::State, http::Uri, response::IntoResponse, Router};
use std::{collections::HashMap, sync::Arc, time::Duration};

const SHAPE: Shape = Shape { concurrency: 8, warmup: Duration::from_secs(1), window: Duration::from_secs(4) };

/// Captured responses by path and query.
type Pages = Arc<HashMap<String, (String, Bytes)>>;

async fn serve_from_memory(State(pages): State<Pages>, uri: Uri) -> axum::response::Response {
    let key = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    match pages.get(key) {
        Some((content_type, body)) => {
            ([(http::header::CONTENT_TYPE, content_type.clone())], body.clone()).into_response()
        }
        None => http::StatusCode::NOT_FOUND.into_response(),
    }
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

/// Adds requests/s and p99 for the home page, a search and a product page.
pub async fn run(base: &str, product_slug: &str, report: &mut Report) -> anyhow::Result<()> {
    // No cookie jar: every request is a first visit, the same for the app and the bare server.
    let client = reqwest::Client::builder().build()?;
    let paths = [
        ("home /", "/".to_string()),
        ("search", "/products?q=tent".to_string()),
        ("product", format!("/product/{product_slug}")),
    ];
    let mut pages = HashMap::new();
    for (_, path) in &paths {
        let response = client.get(format!("{base}{path}")).send().await?;
        anyhow::ensure!(response.status() == 200, "{path} answered {}", response.status());
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("text/html")
            .to_string();
        let body = response.bytes().await.with_context(|| format!("reading {path}"))?;
        pages.insert(path.clone(), (content_type, body));
    }
    let sizes: Vec<String> =
        paths.iter().map(|(label, path)| format!("{label} {} KiB", pages[path].1.len() / 1024)).collect();
    let bare = bare_server(Arc::new(pages)).await?;
    for (label, path) in &paths {
        eprintln!("ssr: {path} from the app, then from memory ({} s each)", SHAPE.window.as_secs());
        let mut app = hammer(&client, format!("{base}{path}")).await?;
        let mut memory = hammer(&client, format!("{bare}{path}")).await?;
        let ceiling = "same bytes from a bare axum handler";
        report.add(Row::new(
            "SSR",
            &format!("{label} req/s ({path})"),
            app.rate(),
            memory.rate(),
            ceiling,
            Better::Higher,
        ));
        report.add(Row::new("SSR", &format!("{label} p99 ms"), app.p99_ms(), memory.p99_ms(), ceiling, Better::Lower));
    }
    report.note(format!(
        "SSR: {} concurrent requests over loopback (reqwest, keep-alive, no cookies, no compression), 1 s warm-up \
         then {} s per target; client and servers share one tokio runtime (a worker thread per core). Page sizes: {}.",
        SHAPE.concurrency,
        SHAPE.window.as_secs(),
        sizes.join(", ")
    ));
    Ok(())
}
