//! The WASM bundle is served as the brotli or gzip copy written at build time; plain names are revalidated on every
//! use, content-hashed ones kept for a year.

use crate::helpers::TestApp;
use reqwest::StatusCode;

#[tokio::test]
async fn the_bundle_is_served_precompressed_and_revalidated() {
    let site = std::env::temp_dir().join(format!("cartograph-site-{}", uuid::Uuid::new_v4().simple()));
    let pkg = site.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("cartograph.wasm"), b"\0asm raw bytes").unwrap();
    std::fs::write(pkg.join("cartograph.wasm.br"), b"brotli bytes").unwrap();
    std::fs::write(pkg.join("cartograph.wasm.gz"), b"gzip bytes").unwrap();
    let app =
        TestApp::builder().with_settings(|settings| settings.site_root = site.display().to_string()).spawn().await;
    // A client that decodes nothing itself, to see the bytes as sent.
    let raw = reqwest::Client::builder().no_gzip().no_brotli().build().unwrap();
    let fetch =
        |encoding: &'static str| raw.get(app.url("/pkg/cartograph.wasm")).header("accept-encoding", encoding).send();

    let brotli = fetch("gzip, deflate, br").await.unwrap();
    assert_eq!(brotli.status(), StatusCode::OK);
    assert_eq!(brotli.headers()["content-encoding"], "br");
    assert_eq!(brotli.headers()["content-type"], "application/wasm");
    assert_eq!(brotli.headers()["cache-control"], "no-cache");
    assert_eq!(brotli.bytes().await.unwrap().as_ref(), b"brotli bytes");

    let gzip = fetch("gzip").await.unwrap();
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    assert_eq!(gzip.bytes().await.unwrap().as_ref(), b"gzip bytes");

    let plain = fetch("identity").await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let modified = plain.headers()["last-modified"].clone();
    assert_eq!(plain.bytes().await.unwrap().as_ref(), b"\0asm raw bytes");

    let unchanged =
        raw.get(app.url("/pkg/cartograph.wasm")).header("if-modified-since", modified).send().await.unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED, "a revalidation costs no bytes");
    let missing = raw.get(app.url("/pkg/nothing.js")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    std::fs::remove_dir_all(site).unwrap();
}

#[tokio::test]
async fn pages_name_the_content_hashed_bundle_which_browsers_keep_for_a_year() {
    let site = std::env::temp_dir().join(format!("cartograph-site-{}", uuid::Uuid::new_v4().simple()));
    let pkg = site.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let (js, wasm, css) = ("0123456789abcdef", "fedcba9876543210", "00112233aabbccdd");
    std::fs::write(pkg.join(format!("cartograph.{wasm}.wasm")), b"\0asm hashed").unwrap();
    std::fs::write(pkg.join("cartograph.wasm"), b"\0asm plain").unwrap();
    let (office_js, office_wasm) = ("1111222233334444", "5555666677778888");
    let (account_js, account_wasm) = ("9999aaaabbbbcccc", "ddddeeeeffff0000");
    std::fs::write(
        pkg.join("hash.txt"),
        format!(
            "js: {js}\nwasm: {wasm}\ncss: {css}\naccount-js: {account_js}\naccount-wasm: {account_wasm}\n\
             back-office-js: {office_js}\nback-office-wasm: {office_wasm}\n"
        ),
    )
    .unwrap();
    let app =
        TestApp::builder().with_settings(|settings| settings.site_root = site.display().to_string()).spawn().await;

    let page = app.client.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    // The stylesheet is linked; the islands' loader fetches `/pkg/<js>.js` and `/pkg/<wasm>.wasm` once idle.
    assert!(page.contains(&format!("/pkg/cartograph.{css}.css")), "the page links the hashed stylesheet");
    assert!(
        page.contains(&format!(r#""pkg", "cartograph.{js}", "cartograph.{wasm}""#)),
        "the loader names the hashed glue and WASM"
    );
    // Nothing competes with the first paint for bandwidth: the bundle is not preloaded.
    assert!(!page.contains("modulepreload") && !page.contains(r#"rel="preload""#), "no preload in {page}");
    // The back office's pages, and only they, load the back office's bundle (with its forms).
    let office = app.client.get(app.url("/admin/products")).send().await.unwrap().text().await.unwrap();
    let office_loader =
        format!(r#""pkg", "cartograph-back-office.{office_js}", "cartograph-back-office.{office_wasm}""#);
    assert!(office.contains(&office_loader), "the back office loads its own bundle");
    assert!(!page.contains("cartograph-back-office"), "a shop page never names the back office's bundle");
    // The cart's page, and every page once the visitor has a session (who may be signed in: the bell), load the
    // account's bundle, with the cart's, checkout's, orders' and notifications' islands.
    let account_loader = format!(r#""pkg", "cartograph-account.{account_js}", "cartograph-account.{account_wasm}""#);
    let cart = app.client.get(app.url("/cart")).send().await.unwrap().text().await.unwrap();
    assert!(cart.contains(&account_loader), "the cart loads the account's bundle");
    assert!(!page.contains("cartograph-account"), "an anonymous visitor's home page loads the shop's bundle only");
    app.sign_in("shopper", "/").await;
    let signed_in = app.client.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(signed_in.contains("notification-bell") && signed_in.contains(&account_loader), "the bell's bundle");

    let hashed = app.client.get(app.url(&format!("/pkg/cartograph.{wasm}.wasm"))).send().await.unwrap();
    assert_eq!(hashed.status(), StatusCode::OK);
    assert_eq!(hashed.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(hashed.bytes().await.unwrap().as_ref(), b"\0asm hashed");
    let plain = app.client.get(app.url("/pkg/cartograph.wasm")).send().await.unwrap();
    assert_eq!(plain.headers()["cache-control"], "no-cache", "a plain name is revalidated");
    let missing = app.client.get(app.url("/pkg/cartograph.0000000000000000.js")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers()["cache-control"], "no-cache", "a miss is never cached for a year");
    std::fs::remove_dir_all(site).unwrap();
}
