//! The GraphQL API's product search against the same search through the server function the pages call
//! (`search_products`), with the same client and concurrency: what parsing, validating and executing a GraphQL
//! query adds to the same database work (`app::catalog::store`).

use crate::{
    driver::{closed_loop, Shape},
    report::{Better, Report, Row},
};
use std::time::Duration;

const SHAPE: Shape = Shape { concurrency: 8, warmup: Duration::from_secs(1), window: Duration::from_secs(4) };
const QUERY: &str = "tent";

/// Adds the rows: GraphQL search requests/s and p99 against the server function's.
pub async fn run(base: &str, report: &mut Report) -> anyhow::Result<()> {
    eprintln!("graphql: products(query: \"{QUERY}\") against search_products ({} s each)", SHAPE.window.as_secs());
    let client = reqwest::Client::new();
    let graphql = serde_json::json!({
        "query": "query($q: String!) { products(query: $q, first: 12) { totalCount nodes { id slug name priceCents currency stock } } }",
        "variables": { "q": QUERY },
    });
    let function = serde_json::json!({ "query": { "q": QUERY } });
    // Both answer the same products first: the comparison is of the same work.
    let through_graphql: serde_json::Value =
        client.post(format!("{base}/graphql")).json(&graphql).send().await?.json().await?;
    let through_function: serde_json::Value =
        client.post(format!("{base}/api/search_products")).json(&function).send().await?.json().await?;
    let total = through_graphql["data"]["products"]["totalCount"].as_i64();
    anyhow::ensure!(total.is_some() && total == through_function["total"].as_i64(), "the two searches differ");
    let post = |url: String, body: serde_json::Value| {
        let client = client.clone();
        move |_, _| {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            async move {
                let response = client.post(url).json(&body).send().await?;
                anyhow::ensure!(response.status() == 200, "answered {}", response.status());
                let text = response.text().await?;
                anyhow::ensure!(!text.contains("\"errors\""), "answered an error: {text}");
                Ok(())
            }
        }
    };
    let mut api = closed_loop(SHAPE, post(format!("{base}/graphql"), graphql)).await?;
    let mut function = closed_loop(SHAPE, post(format!("{base}/api/search_products"), function)).await?;
    let ceiling = "the same search through its server function";
    report.add(Row::new("graphql", "product search req/s", api.rate(), function.rate(), ceiling, Better::Higher));
    report.add(Row::new("graphql", "product search p99 ms", api.p99_ms(), function.p99_ms(), ceiling, Better::Lower));
    report.note(format!(
        "graphql: {} concurrent anonymous clients, a search for {QUERY:?} (12 products with six fields each) as \
         a GraphQL query and as the `search_products` server function (JSON), {} s each after 1 s of warm-up.",
        SHAPE.concurrency,
        SHAPE.window.as_secs()
    ));
    Ok(())
}
