//! Journeys: events → worker → visit summary → closed visit → PDF for its owner, 404 for anyone else.

use crate::helpers::{set_cookie, sign_in, spawn_app_with, test_settings, TestApp};
use cartograph::worker::visits::{close_due_visits, ClosingRules};
use std::time::Duration;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";

fn visit_cookie(response: &reqwest::Response) -> Option<String> {
    set_cookie(response, "cg_visit").and_then(|c| c.split(['=', ';']).nth(1)).map(str::to_owned)
}

async fn post(app: &TestApp, events: &[&str]) {
    let body = format!(r#"{{"v":1,"events":[{}]}}"#, events.join(","));
    let response = app
        .client
        .post(app.url("/api/events"))
        .header("user-agent", FIREFOX)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
}

fn pdf_text(pdf: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("journey-{}.pdf", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext").arg(&path).arg("-").output().expect("pdftotext (poppler-utils)");
    let _ = std::fs::remove_file(&path);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn app_with_fast_closing() -> TestApp {
    let mut settings = test_settings().await;
    settings.visit_sweep_secs = 1;
    let app = spawn_app_with(settings).await;
    app.spawn_worker();
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_out_visit_is_closed_and_its_journey_is_the_owners_alone() {
    let app = app_with_fast_closing().await;
    let home = app.client.get(app.url("/")).send().await.unwrap();
    let visit = visit_cookie(&home).unwrap();
    post(&app, &[
        r#"{"type":"page_view","path":"/","id":"j1"}"#,
        r#"{"type":"search","path":"/products?q=tent","query":"tent","results":1,"id":"j2"}"#,
        r#"{"type":"page_view","path":"/products?q=tent","referrer":"/","id":"j3"}"#,
        r#"{"type":"page_view","path":"/product/ridgeline-2-tent","referrer":"/products?q=tent","id":"j4"}"#,
        r#"{"type":"cart_add","path":"/product/ridgeline-2-tent","product_id":1,"quantity":1,"id":"j5"}"#,
        r#"{"type":"page_view","path":"/cart","id":"j6"}"#,
    ])
    .await;
    // Signing in links this anonymous visit to the account.
    sign_in(&app, "journey-owner", "/").await;
    let stored = app.wait_for_count(&format!("SELECT count(*) FROM clickstream_events WHERE visit_id = '{visit}'"), 6).await;
    assert_eq!(stored, 6);
    let summary: (i32, i32, bool) = sqlx::query_as(&format!("SELECT page_views, cart_adds, paid FROM visits WHERE visit_id = '{visit}'"))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(summary, (4, 1, false));

    // While the visit is open, its owner gets it rendered on demand, marked in progress.
    let open = app.client.get(app.url(&format!("/journeys/{visit}.pdf"))).send().await.unwrap();
    assert_eq!(open.status(), 200);
    assert_eq!(open.headers()["cache-control"], "private, no-store");

    // Sign-out closes the visit and starts a new one.
    let logout = app.client.post(app.url("/auth/logout")).send().await.unwrap();
    let next_visit = visit_cookie(&logout).expect("a new visit after sign-out");
    assert_ne!(next_visit, visit);
    let closed = app.wait_for_count(&format!("SELECT count(*) FROM journey_pdfs WHERE visit_id = '{visit}'"), 1).await;
    assert_eq!(closed, 1, "the worker closed the visit and stored its journey");

    sign_in(&app, "journey-owner", "/").await;
    let response = app.client.get(app.url(&format!("/journeys/{visit}.pdf"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(disposition.starts_with("attachment; filename=\"cartograph-journey-") && disposition.ends_with(".pdf\""), "{disposition}");
    assert_eq!(response.headers()["cache-control"], "private, max-age=3600");
    let text = pdf_text(&response.bytes().await.unwrap());
    let positions: Vec<usize> = ["Home", "Catalog", "Product", "Cart"]
        .iter()
        .map(|label| text.find(label).unwrap_or_else(|| panic!("{label} missing from the journey text")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "pages appear in visit order: {positions:?}");

    let mine: serde_json::Value = app.call("my_journeys", &[]).await.json().await.unwrap();
    assert!(mine.as_array().unwrap().iter().any(|j| j["visit_id"] == visit.as_str() && j["closed"] == true));

    let stranger = app.another_browser();
    assert_eq!(stranger.client.get(app.url(&format!("/journeys/{visit}.pdf"))).send().await.unwrap().status(), 404);
    sign_in(&stranger, "someone-else", "/").await;
    assert_eq!(stranger.client.get(app.url(&format!("/journeys/{visit}.pdf"))).send().await.unwrap().status(), 404);
    let unknown = uuid::Uuid::new_v4();
    assert_eq!(stranger.client.get(app.url(&format!("/journeys/{unknown}.pdf"))).send().await.unwrap().status(), 404);
    assert_eq!(stranger.call("admin_visits", &[("outcome", "")]).await.status(), 403);

    let admin = app.another_browser();
    sign_in(&admin, "admin", "/").await;
    assert_eq!(admin.client.get(app.url(&format!("/journeys/{visit}.pdf"))).send().await.unwrap().status(), 200);
    let all: serde_json::Value = admin.call("admin_visits", &[("outcome", "abandoned cart")]).await.json().await.unwrap();
    assert!(all.as_array().unwrap().iter().any(|j| j["visit_id"] == visit.as_str()), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_visit_is_closed_by_the_sweep() {
    let app = crate::helpers::spawn_app().await;
    app.spawn_worker();
    let home = app.client.get(app.url("/")).send().await.unwrap();
    let visit = visit_cookie(&home).unwrap();
    post(&app, &[r#"{"type":"page_view","path":"/","id":"idle-1"}"#]).await;
    app.wait_for_count(&format!("SELECT count(*) FROM visits WHERE visit_id = '{visit}' AND events = 1"), 1).await;
    let not_yet = ClosingRules { idle: Duration::from_secs(1800), sign_out_grace: Duration::from_secs(5), every: Duration::from_secs(1) };
    assert_eq!(close_due_visits(&app.pool, not_yet).await.unwrap(), 0, "a fresh visit stays open");
    sqlx::query(&format!("UPDATE visits SET last_event_at = now() - interval '31 minutes' WHERE visit_id = '{visit}'"))
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(close_due_visits(&app.pool, not_yet).await.unwrap(), 1);
    let pdf: Vec<u8> = sqlx::query_scalar(&format!("SELECT pdf FROM journey_pdfs WHERE visit_id = '{visit}'"))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_worker_mid_stream_loses_and_duplicates_nothing() {
    let settings = test_settings().await;
    let app = spawn_app_with(settings.clone()).await;
    app.client.get(app.url("/")).send().await.unwrap();
    for batch in 0..30 {
        let events: Vec<String> =
            (0..10).map(|i| format!(r#"{{"type":"page_view","path":"/k/{batch}/{i}","id":"k-{batch}-{i}"}}"#)).collect();
        let refs: Vec<&str> = events.iter().map(String::as_str).collect();
        post(&app, &refs).await;
    }
    // A first worker is killed part-way through the stream…
    let first_stop = cartograph::shutdown::Shutdown::default();
    let first = tokio::spawn(cartograph::startup::run_worker(settings.clone(), first_stop.clone()));
    app.wait_for_count("SELECT count(*) FROM clickstream_events", 40).await;
    first.abort();
    let _ = first.await;
    let partial: i64 = sqlx::query_scalar("SELECT count(*) FROM clickstream_events").fetch_one(&app.pool).await.unwrap();
    // …and a replacement in the same group picks up from the last stored offset.
    app.spawn_worker();
    let total = app.wait_for_count("SELECT count(*) FROM clickstream_events", 300).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let total_after: i64 = sqlx::query_scalar("SELECT count(*) FROM clickstream_events").fetch_one(&app.pool).await.unwrap();
    let counted: i64 = sqlx::query_scalar("SELECT sum(events)::bigint FROM visits").fetch_one(&app.pool).await.unwrap();
    println!("worker killed after {partial} of 300 events; {total_after} stored in the end");
    assert_eq!((total, total_after), (300, 300), "nothing lost, nothing stored twice");
    assert_eq!(counted, 300, "the visit summary counted every event exactly once");
}
