//! Browse: the home page is rendered on the server from PostgreSQL.

use crate::helpers::spawn_app;

#[tokio::test]
async fn home_page_is_server_rendered_from_the_database() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    for expected in ["Trail &amp; Camp", "Ridgeline 2 Tent", "Kitchen", "€289.00", "/pkg/cartograph.js"] {
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
