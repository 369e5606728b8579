//! Headers and surfaces: personal answers are never stored by a cache, every answer carries a
//! `Permissions-Policy`, HTML outside the app gets a strict CSP, and catalog text cannot break out of markup.

use crate::helpers::spawn_app;
use reqwest::StatusCode;

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|value| value.to_str().ok())
}

#[tokio::test]
async fn personal_answers_are_not_stored_and_every_answer_has_a_permissions_policy() {
    let app = spawn_app().await;
    let catalog = app.client.get(app.url("/products")).send().await.unwrap();
    assert_eq!(catalog.status(), StatusCode::OK);
    assert_ne!(header(&catalog, "cache-control"), Some("private, no-store"), "an anonymous catalog page may be cached");
    assert!(header(&catalog, "permissions-policy").unwrap().contains("camera=()"));
    for path in ["/cart", "/orders", "/account/journeys"] {
        let page = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(header(&page, "cache-control"), Some("private, no-store"), "{path}");
    }
    let function = app.call("current_user", &[]).await;
    assert_eq!(header(&function, "cache-control"), Some("private, no-store"));
    app.sign_in("shopper", "/").await;
    let signed_in = app.client.get(app.url("/products")).send().await.unwrap();
    assert_eq!(header(&signed_in, "cache-control"), Some("private, no-store"), "the header names the shopper");
}

#[tokio::test]
async fn sign_in_error_pages_carry_a_strict_content_security_policy() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/auth/callback?code=x&state=y")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let policy = header(&page, "content-security-policy").unwrap();
    assert!(policy.starts_with("default-src 'none'") && policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(header(&page, "cache-control"), Some("private, no-store"));
}

/// The security review's L1: an admin-entered product name must render as text everywhere, the `<title>`
/// included.
#[tokio::test]
async fn a_product_name_cannot_break_out_of_the_page_title() {
    let app = spawn_app().await;
    app.sign_in("admin", "/").await;
    let name = r#"x</title><meta http-equiv="refresh" content="0">"#;
    let form = [
        ("form[id]", "0"),
        ("form[name]", name),
        ("form[slug]", "title-probe"),
        ("form[description]", "Made for the test."),
        ("form[category_slug]", "trail-camp"),
        ("form[price]", "1.00"),
        ("form[stock]", "1"),
        ("form[stock_was]", "0"),
    ];
    assert_eq!(app.call("admin/save_product", &form).await.status(), StatusCode::OK);
    let page = app.client.get(app.url("/product/title-probe")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains(r#"<meta http-equiv="refresh""#), "the name broke out of the markup");
    let title = page.split("<title>").nth(1).and_then(|rest| rest.split("</title>").next()).unwrap_or_default();
    assert!(title.contains("x&lt;/title&gt;"), "the title shows the name as text: {title}");
}

#[tokio::test]
async fn a_client_cannot_choose_its_request_id() {
    let app = spawn_app().await;
    let response =
        app.client.get(app.url("/healthz")).header("x-request-id", "attacker-chosen-id").send().await.unwrap();
    let id = header(&response, "x-request-id").expect("a request id").to_string();
    assert_ne!(id, "attacker-chosen-id");
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "the server's own id: {id}");
}

#[tokio::test]
async fn the_back_office_shows_only_the_upload_errors_the_server_sends() {
    let app = spawn_app().await;
    app.sign_in("admin", "/").await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM products ORDER BY id LIMIT 1").fetch_one(&app.pool).await.unwrap();
    let page = |query: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url(&format!("/admin/products/{id}?{query}")))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let known = page("image_error=too-large".into()).await;
    assert!(known.contains("That image is larger than 1 MiB."), "a known code shows its message");
    let crafted = page("image_error=Your+account+is+locked%2C+call+%2B1+555+0100".into()).await;
    assert!(!crafted.contains("Your account is locked"), "crafted text never reaches the page");
    assert!(crafted.contains("The image was not saved."));
}

#[tokio::test]
async fn an_unreadable_origin_fails_closed_and_a_good_one_still_passes() {
    let app = spawn_app().await;
    let origin = reqwest::header::HeaderValue::from_bytes(b"https://\xe9vil.example").unwrap();
    let refused = app
        .client
        .post(app.url("/api/cart_add"))
        .header("origin", origin)
        .form(&[("product_id", "1"), ("quantity", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let accepted = app
        .client
        .post(app.url("/api/cart_add"))
        .header("origin", app.address.as_str())
        .form(&[("product_id", "1"), ("quantity", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::OK, "the shop's own origin writes as ever");
}
