//! The WASM bundle is served as the brotli or gzip copy written at build time, and revalidated on every use.

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
