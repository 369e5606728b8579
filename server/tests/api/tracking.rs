//! Clickstream: the producer endpoint and the worker that stores what it produced.

use crate::helpers::{set_cookie, spawn_app};

#[tokio::test]
async fn the_visit_cookie_is_http_only_and_same_site() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    let cookie = set_cookie(&response, "cg_visit").expect("a visit cookie").to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Max-Age=1800"), "{cookie}");
}

#[tokio::test]
async fn a_page_view_reaches_the_workers_table_under_the_cookie_visit() {
    let app = spawn_app().await;
    app.spawn_worker();
    let home = app.client.get(app.url("/")).send().await.unwrap();
    let visit = set_cookie(&home, "cg_visit").unwrap().split(['=', ';']).nth(1).unwrap().to_string();

    let batch = serde_json::json!({
        "v": 1,
        // A visit id in the body is ignored: the cookie decides.
        "visit_id": "00000000-0000-0000-0000-000000000000",
        "events": [
            { "type": "page_view", "path": "/", "referrer": null, "title": "Cartograph", "client_ts": 1_700_000_000_000i64 },
            { "type": "page_view", "path": "/?page=2", "referrer": "/", "title": "Cartograph" }
        ]
    });
    let response = app
        .client
        .post(app.url("/api/events"))
        .header("content-type", "text/plain;charset=UTF-8")
        .body(batch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["accepted"], 2);

    let stored = app
        .wait_for_count(&format!("SELECT count(*) FROM clickstream_events WHERE visit_id = '{visit}'"), 2)
        .await;
    assert_eq!(stored, 2, "both page views are stored under the cookie's visit");
    let paths: Vec<String> =
        sqlx::query_scalar("SELECT path FROM clickstream_events ORDER BY received_at, seq").fetch_all(&app.pool).await.unwrap();
    assert_eq!(paths, ["/", "/?page=2"]);
}

#[tokio::test]
async fn a_malformed_batch_is_refused_with_its_reason() {
    let app = spawn_app().await;
    let response = app.client.post(app.url("/api/events")).body("{not json").send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("not JSON"));
}

#[tokio::test]
async fn a_batch_over_64_kib_is_refused() {
    let app = spawn_app().await;
    let response = app.client.post(app.url("/api/events")).body(vec![b' '; 65 * 1024]).send().await.unwrap();
    assert_eq!(response.status(), 413);
}
