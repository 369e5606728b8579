//! The search that forgives typing (`app::catalog::spelling`) against the same search spelt right, through the
//! server function the catalog page calls (`search_products`), with the same client and concurrency: what looking
//! up the corrections and matching them costs over the search as typed.

use crate::{
    driver::{closed_loop, Shape},
    report::{Better, Report, Row},
};
use std::time::Duration;

const SHAPE: Shape = Shape { concurrency: 8, warmup: Duration::from_secs(1), window: Duration::from_secs(4) };
/// Misspelt, and spelt right: each pair finds the same first product.
const PAIRS: [(&str, &str); 3] = [("tnet", "tent"), ("jakcet", "jacket"), ("hedphnoes", "headphones")];

/// Adds the rows: misspelt searches' requests/s and p99 against the same searches spelt right.
pub async fn run(base: &str, report: &mut Report) -> anyhow::Result<()> {
    eprintln!("search: {PAIRS:?} misspelt against spelt right ({} s each)", SHAPE.window.as_secs());
    let client = reqwest::Client::new();
    let url = format!("{base}/api/search_products");
    for (typed, meant) in PAIRS {
        let first = |q: &str| {
            let (client, url) = (client.clone(), url.clone());
            let body = serde_json::json!({ "query": { "q": q } });
            async move {
                let page: serde_json::Value = client.post(url).json(&body).send().await?.json().await?;
                anyhow::Ok(page["products"][0]["slug"].as_str().map(str::to_string))
            }
        };
        let (misspelt, right) = (first(typed).await?, first(meant).await?);
        anyhow::ensure!(misspelt.is_some() && misspelt == right, "{typed:?} and {meant:?} find different products");
    }
    let searches = |misspelt: bool| {
        let (client, url) = (client.clone(), url.clone());
        move |worker: usize, n: usize| {
            let (typed, meant) = PAIRS[(worker + n) % PAIRS.len()];
            let body = serde_json::json!({ "query": { "q": if misspelt { typed } else { meant } } });
            let (client, url) = (client.clone(), url.clone());
            async move {
                let response = client.post(url).json(&body).send().await?;
                anyhow::ensure!(response.status() == 200, "answered {}", response.status());
                Ok(())
            }
        }
    };
    let mut typo = closed_loop(SHAPE, searches(true)).await?;
    let mut right = closed_loop(SHAPE, searches(false)).await?;
    let ceiling = "the same searches spelt right";
    report.add(Row::new("search", "misspelt search req/s", typo.rate(), right.rate(), ceiling, Better::Higher));
    report.add(Row::new("search", "misspelt search p99 ms", typo.p99_ms(), right.p99_ms(), ceiling, Better::Lower));
    report.note(format!(
        "search: {} concurrent clients, `search_products` for {:?} (each corrected through the catalog's words) \
         against {:?}, {} s each after 1 s of warm-up.",
        SHAPE.concurrency,
        PAIRS.map(|(typed, _)| typed),
        PAIRS.map(|(_, meant)| meant),
        SHAPE.window.as_secs()
    ));
    Ok(())
}
