//! Browsing the catalog: the home page rendered on the server from PostgreSQL, product pages and images, search
//! with ranking and typo tolerance, filters, sort and paging, and the page's content security policy.

use crate::helpers::{spawn_app, TestApp};
use serde_json::{json, Value};

#[tokio::test]
async fn home_page_is_server_rendered_from_the_database() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    // The catalog is in the HTML; the islands' loader names the bundle, and the stock checks are islands.
    let loader = r#""pkg", "cartograph", "cartograph""#;
    for expected in ["Trail &amp; Camp", "Ridgeline 2 Tent", "Kitchen", "€289.00", loader, "<leptos-island"] {
        assert!(html.contains(expected), "the home page should contain {expected:?}");
    }
}

#[tokio::test]
async fn a_product_renamed_in_the_database_is_rendered_with_its_new_name() {
    let app = spawn_app().await;
    sqlx::query("UPDATE products SET name = 'Renamed Test Tent' WHERE slug = 'ridgeline-2-tent'")
        .execute(&app.pool)
        .await
        .unwrap();
    let html = app.client.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Renamed Test Tent"));
}

#[tokio::test]
async fn the_demo_catalog_has_at_least_forty_products_with_images() {
    let app = spawn_app().await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM products WHERE image_svg LIKE '<svg%'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(count >= 40, "{count} products with images");
    let image = app.client.get(app.url("/images/products/ridgeline-2-tent.svg")).send().await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/svg+xml");
    assert!(image.text().await.unwrap().starts_with("<svg"));
}

#[tokio::test]
async fn the_stock_server_function_answers_over_http() {
    let app = spawn_app().await;
    let (id, stock): (i64, i32) = sqlx::query_as("SELECT id, stock FROM products WHERE slug = 'ridgeline-2-tent'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let response =
        app.client.post(app.url("/api/product_stock")).form(&[("product_id", id.to_string())]).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["stock"], stock);
}

#[tokio::test]
async fn unknown_products_and_pages_are_not_found() {
    let app = spawn_app().await;
    let stock = app.client.post(app.url("/api/product_stock")).form(&[("product_id", "999999")]).send().await.unwrap();
    assert_eq!(stock.status(), 404);
    let body = stock.text().await.unwrap();
    assert!(body.contains("NotFound"), "{body}");
    let page = app.client.get(app.url("/no-such-page")).send().await.unwrap();
    assert_eq!(page.status(), 404);
    let image = app.client.get(app.url("/images/products/nope.svg")).send().await.unwrap();
    assert_eq!(image.status(), 404);
}

#[tokio::test]
async fn pages_carry_a_content_security_policy_matching_their_script_nonce() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    let policy = response.headers()["content-security-policy"].to_str().unwrap().to_string();
    let html = response.text().await.unwrap();
    let nonce = policy.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a nonce in the policy");
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the bootstrap script carries the policy's nonce");
    for directive in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "form-action 'self' http://127.0.0.1:9400",
    ] {
        assert!(policy.contains(directive), "{directive} missing from {policy}");
    }
}

// Search, filters, sort and paging, and product pages.

async fn search(app: &TestApp, query: Value) -> Value {
    let response =
        app.client.post(app.url("/api/search_products")).json(&json!({ "query": query })).send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

fn names(page: &Value) -> Vec<String> {
    page["products"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn search_ranks_the_best_match_first_and_forgives_typos() {
    let app = spawn_app().await;
    let tent = search(&app, json!({ "q": "tent" })).await;
    assert_eq!(names(&tent)[0], "Ridgeline 2 Tent");
    let typo = search(&app, json!({ "q": "ridgline" })).await;
    assert!(names(&typo).contains(&"Ridgeline 2 Tent".to_string()), "{typo}");
    let prefix = search(&app, json!({ "q": "head" })).await;
    assert!(names(&prefix).iter().any(|n| n.contains("Headphones") || n.contains("Headlamp")), "{prefix}");
    let nothing = search(&app, json!({ "q": "zzzzqqq" })).await;
    assert_eq!(nothing["total"], 0);
}

#[tokio::test]
async fn filters_sort_and_paging_combine() {
    let app = spawn_app().await;
    let audio = search(&app, json!({ "category": "audio", "sort": "price_asc" })).await;
    let prices: Vec<i64> =
        audio["products"].as_array().unwrap().iter().map(|p| p["price_cents"].as_i64().unwrap()).collect();
    assert_eq!(audio["total"], 8);
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");

    let in_stock = search(&app, json!({ "category": "audio", "in_stock": true })).await;
    assert_eq!(in_stock["total"], 7, "the out-of-stock DAC is filtered out");

    let range = search(&app, json!({ "min_price": 100, "max_price": 150 })).await;
    for product in range["products"].as_array().unwrap() {
        let price = product["price_cents"].as_i64().unwrap();
        assert!((10_000..=15_099).contains(&price), "{product}");
    }

    let page_one = search(&app, json!({})).await;
    let page_five = search(&app, json!({ "page": 4 })).await;
    assert_eq!(page_one["page_count"], 4);
    assert_eq!(names(&page_one).len(), 12);
    assert!(names(&page_five).iter().all(|n| !names(&page_one).contains(n)));
}

#[tokio::test]
async fn nonsense_catalog_queries_get_a_clear_error() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/search_products"))
        .json(&json!({ "query": { "min_price": 50, "max_price": 10 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("minimum price is above"));
}

#[tokio::test]
async fn a_product_page_is_server_rendered_with_live_stock() {
    let app = spawn_app().await;
    let html = app.client.get(app.url("/product/ridgeline-2-tent")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Ridgeline 2 Tent") && html.contains("pitches in four minutes"));
    assert!(html.contains("7 in stock"), "live stock label");
    sqlx::query("UPDATE products SET stock = 2 WHERE slug = 'ridgeline-2-tent'").execute(&app.pool).await.unwrap();
    let html = app.client.get(app.url("/product/ridgeline-2-tent")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Only 2 left"));
    let missing = app.client.get(app.url("/product/no-such-thing")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_catalog_page_keeps_its_state_in_the_url() {
    let app = spawn_app().await;
    let html = app.client.get(app.url("/products?q=knife&sort=price_desc")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Chef&#x27;s Knife 20 cm") || html.contains("Chef's Knife 20 cm"), "server-rendered results");
    assert!(html.contains("value=\"knife\"") || html.contains("knife"));
}
