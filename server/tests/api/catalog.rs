//! Browsing the catalog: the home page rendered on the server from PostgreSQL, product pages and images, search
//! with ranking and typo tolerance, filters, sort and paging, and the page's content security policy.

use crate::helpers::{spawn_app, TestApp};
use app::catalog::spelling::Spelled;
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
    sqlx::query("UPDATE variants SET stock = 2 WHERE sku = 'RIDGELINE-2-TENT'").execute(&app.pool).await.unwrap();
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

/// Thirty misspellings a shopper might type, each with the product it was meant to find (the demo catalog).
const MISSPELT: [(&str, &str); 30] = [
    ("tnet", "ridgeline-2-tent"),
    ("sleping bag", "summit-down-sleeping-bag"),
    ("dyapack", "trailhead-30-l-daypack"),
    ("trekkign poles", "kestrel-trekking-poles"),
    ("stvoe", "ember-camp-stove"),
    ("hedlamp", "lumen-400-headlamp"),
    ("insualted bottle", "glacier-insulated-bottle"),
    ("compsas", "pathfinder-compass"),
    ("skilet", "cast-iron-skillet-26-cm"),
    ("grinedr", "burr-coffee-grinder"),
    ("cuttign board", "oak-cutting-board"),
    ("mixign bowls", "stoneware-mixing-bowls"),
    ("dutch ovne", "enamel-dutch-oven"),
    ("blnaket", "wool-throw-blanket"),
    ("duvet covre", "linen-duvet-cover"),
    ("candel", "scented-soy-candle"),
    ("rattna basket", "rattan-storage-basket"),
    ("terracota planter", "terracotta-planter"),
    ("headphnoes", "aria-wireless-headphones"),
    ("bluetoth speaker", "pocket-bluetooth-speaker"),
    ("turntabel", "turntable-classic"),
    ("microphnoe", "usb-condenser-microphone"),
    ("notebok", "dot-grid-notebook-a5"),
    ("fountian pen", "brass-fountain-pen"),
    ("watercolur", "watercolour-travel-kit"),
    ("envelpoe", "kraft-envelope-set"),
    ("merino bsae layer", "merino-base-layer"),
    ("jakcet", "packable-rain-jacket"),
    ("beanei", "wool-beanie"),
    ("hikign socks", "hiking-socks-three-pack"),
];

/// Whether the product turns up first, and in the first five, for each misspelling: with the corrections, or
/// as typed only (how search worked before it forgave typing).
async fn hits(app: &TestApp, forgiving: bool) -> (usize, usize, Vec<&'static str>) {
    use app::catalog::{store, CatalogQuery};
    let (mut at_1, mut at_5, mut missed) = (0, 0, Vec::new());
    for (typed, slug) in MISSPELT {
        let query = CatalogQuery { q: typed.into(), ..CatalogQuery::default() };
        let spelled = if forgiving { store::spell(&app.pool, typed).await.unwrap() } else { Spelled::as_typed(typed) };
        let found = store::search_with(&app.pool, &query, &spelled, 0, 5).await.unwrap();
        let rank = found.products.iter().position(|product| product.slug == slug);
        at_1 += usize::from(rank == Some(0));
        at_5 += usize::from(rank.is_some());
        if rank.is_none() {
            missed.push(typed);
        }
    }
    (at_1, at_5, missed)
}

#[tokio::test]
async fn thirty_misspelt_queries_find_what_was_meant() {
    let app = spawn_app().await;
    let (before_1, before_5, _) = hits(&app, false).await;
    let (after_1, after_5, missed) = hits(&app, true).await;
    println!("30 misspelt queries: hits@1 {before_1} → {after_1}, hits@5 {before_5} → {after_5}; missed: {missed:?}");
    assert!(after_5 >= 29, "hits@5 {after_5}/30; missed {missed:?}");
    assert!(after_1 >= 27, "hits@1 {after_1}/30");
    assert!(after_5 > before_5, "the corrections find more than the query as typed ({before_5})");
}

#[tokio::test]
async fn a_typo_is_forgiven_ranked_below_exact_matches_and_offered_corrected() {
    let app = spawn_app().await;
    // A swapped pair of letters: the tent, and the corrected query offered, since nothing matched as typed.
    let tnet = search(&app, json!({ "q": "tnet" })).await;
    assert_eq!(names(&tnet)[0], "Ridgeline 2 Tent", "{tnet}");
    assert_eq!(tnet["did_you_mean"], "tent");
    let jakcet = search(&app, json!({ "q": "jakcet" })).await;
    let mut jackets = names(&jakcet);
    jackets.sort();
    assert_eq!(jackets, ["Canvas Field Jacket", "Packable Rain Jacket"], "{jakcet}");
    // Two edits in a long word; none in a short one (too many words are one edit from a short one).
    assert_eq!(names(&search(&app, json!({ "q": "hedphnoes" })).await)[0], "Aria Wireless Headphones");
    assert_eq!(search(&app, json!({ "q": "tne" })).await["total"], 0);
    // A word that matches as typed ranks above one that matches only through a correction: "oven" is a word of
    // the catalog and gets no correction; "ovne" (a typo for "oven") finds the Dutch oven, offered as "oven".
    let exact = search(&app, json!({ "q": "oven" })).await;
    assert_eq!(names(&exact)[0], "Enamel Dutch Oven");
    assert!(exact["did_you_mean"].is_null(), "{exact}");
    // As-typed matches rank first: with "lmap" both a product's name and a correction to "lamp", the product
    // named as typed comes before the lamp found through the correction.
    sqlx::query("UPDATE products SET name = 'Lmap Shade', description = 'A shade.' WHERE slug = 'wool-beanie'")
        .execute(&app.pool)
        .await
        .unwrap();
    let query = app::catalog::CatalogQuery { q: "lmap".into(), ..Default::default() };
    let spelled = Spelled { words: vec!["lmap".into()], corrections: vec![vec!["lamp".into()]] };
    let mixed = app::catalog::store::search_with(&app.pool, &query, &spelled, 0, 5).await.unwrap();
    let mixed: Vec<&str> = mixed.products.iter().map(|product| product.name.as_str()).collect();
    assert_eq!(mixed, ["Lmap Shade", "Ceramic Table Lamp"]);
    let as_typed = search(&app, json!({ "q": "lmap" })).await;
    assert_eq!(names(&as_typed), ["Lmap Shade"], "a word of the catalog is not corrected");
    // A new product's words are learnt at once: its misspelling finds it.
    sqlx::query("UPDATE products SET name = 'Kayak Paddle' WHERE slug = 'down-vest'").execute(&app.pool).await.unwrap();
    assert_eq!(names(&search(&app, json!({ "q": "kyaak" })).await), ["Kayak Paddle"]);
    // Hostile input still cannot reach tsquery syntax, and an ordinary search works after it.
    for hostile in ["tnet' | !(drop)", "jakcet:* & (", "&&&||", "ǎǎǎǎǎǎǎǎǎǎ"] {
        let page = search(&app, json!({ "q": hostile })).await;
        assert!(page["total"].as_i64().is_some(), "{hostile}: {page}");
    }
    assert_eq!(names(&search(&app, json!({ "q": "tent" })).await)[0], "Ridgeline 2 Tent");
}

#[tokio::test]
async fn facets_count_each_refinement_with_the_other_filters_applied() {
    let app = spawn_app().await;
    let count = |facet: &Value, key: &str, value: &str| {
        facet.as_array().unwrap().iter().find(|f| f[key] == value).map(|f| f["count"].as_i64().unwrap())
    };
    // The whole catalog: the categories' counts add up to the total, and so do the price bands'.
    let all = search(&app, json!({})).await;
    let total = all["total"].as_i64().unwrap();
    let sum = |facet: &Value| facet.as_array().unwrap().iter().map(|f| f["count"].as_i64().unwrap()).sum::<i64>();
    assert_eq!(sum(&all["facets"]["categories"]), total, "{}", all["facets"]);
    assert_eq!(sum(&all["facets"]["prices"]), total);
    assert_eq!(count(&all["facets"]["categories"], "slug", "audio"), Some(8));
    let stocked: i64 = sqlx::query_scalar("SELECT count(*) FROM products WHERE stock > 0 AND archived_at IS NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(all["facets"]["in_stock"].as_i64(), Some(stocked));

    // Choosing a category narrows the other facets, never its own: every category still shows what it gives.
    let audio = search(&app, json!({ "category": "audio" })).await;
    assert_eq!(audio["total"], 8);
    assert_eq!(audio["facets"]["categories"], all["facets"]["categories"]);
    assert_eq!(sum(&audio["facets"]["prices"]), 8);
    assert_eq!(audio["facets"]["in_stock"], 7, "the out-of-stock DAC");
    // A price band's count is what following its link gives.
    let band = audio["facets"]["prices"][0].clone();
    let mut filtered = json!({ "category": "audio" });
    if let Some(min) = band["min"].as_i64() {
        filtered["min_price"] = json!(min);
    }
    if let Some(max) = band["max"].as_i64() {
        filtered["max_price"] = json!(max);
    }
    assert_eq!(search(&app, filtered).await["total"], band["count"], "{band}");

    // With a search: only what matches it, through its corrections too.
    let jackets = search(&app, json!({ "q": "jakcet" })).await;
    assert_eq!(sum(&jackets["facets"]["categories"]), 2, "{}", jackets["facets"]);
    // The page shows them as links that keep the search.
    let html = app.client.get(app.url("/products?q=jakcet")).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("data-testid=\"facets\"") && html.contains("In stock only (2)"),
        "the refinements are on the page"
    );
    assert!(html.contains("Did you mean") && html.contains("href=\"/products?q=jacket\""), "the correction is offered");
}

#[tokio::test]
async fn the_search_box_suggests_what_a_partial_query_finds_typos_forgiven() {
    let app = spawn_app().await;
    let suggest = |q: String| app.client.post(app.url("/api/suggest")).form(&[("q", q)]).send();
    // The pages the suggestions lead to, in order.
    let pages = |html: String| -> Vec<String> {
        html.split("data-href=\"/product/").skip(1).map(|rest| rest.split('"').next().unwrap().to_string()).collect()
    };
    let found: String = suggest("headl".into()).await.unwrap().json().await.unwrap();
    assert_eq!(pages(found.clone())[0], "lumen-400-headlamp", "{found}");
    assert!(found.starts_with(r#"<li id="search-suggestion-0" role="option""#), "{found}");
    let typo: String = suggest("tnet".into()).await.unwrap().json().await.unwrap();
    assert_eq!(pages(typo.clone())[0], "ridgeline-2-tent", "{typo}");
    let broad: String = suggest("ca".into()).await.unwrap().json().await.unwrap();
    assert!((1..=6).contains(&pages(broad.clone()).len()), "one to six: {broad}");
    let short: String = suggest("t".into()).await.unwrap().json().await.unwrap();
    assert_eq!(short, "", "one letter suggests nothing");
    assert_eq!(suggest("x".repeat(101)).await.unwrap().status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    for hostile in ["tnet' | !(drop)", "jakcet:* & (", "&&&||", "<script>alert(1)</script>"] {
        let answer = suggest(hostile.into()).await.unwrap();
        assert_eq!(answer.status(), reqwest::StatusCode::OK, "{hostile}");
        assert!(!answer.text().await.unwrap().contains("<script>"), "{hostile}");
    }
    // The box keeps working after them.
    let again: String = suggest("headl".into()).await.unwrap().json().await.unwrap();
    assert_eq!(pages(again)[0], "lumen-400-headlamp");
}
