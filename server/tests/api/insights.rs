//! Admin insights computed from real journeys: scripted visits post through the real endpoint, the broker carries
//! them, the worker keeps the aggregates, and the numbers match a hand-computed expectation.

use crate::helpers::{
    shopper::{FIREFOX, SUCCEEDS},
    TestApp,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const TENT: &str = "/product/ridgeline-2-tent";

/// A new browser's visit posting `events` (JSON objects; each gets the id `e<n>`) as one batch with
/// `user_agent`; returns the browser.
async fn visit_posting(app: &TestApp, events: Vec<Value>, user_agent: &str) -> TestApp {
    let browser = app.another_browser();
    browser.visit().await;
    let batch = json!({"v": 2, "events": with_ids(events)}).to_string();
    let response = browser.post_events_as(&batch, user_agent).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED, "{}", response.text().await.unwrap_or_default());
    browser
}

/// The events, the `n`th with the tracker's id `e<n>` (a batch sent again keeps its ids).
fn with_ids(events: Vec<Value>) -> Vec<Value> {
    events
        .into_iter()
        .enumerate()
        .map(|(n, mut event)| {
            event["id"] = json!(format!("e{n}"));
            event
        })
        .collect()
}

fn page_view(path: &str) -> Value {
    json!({"type": "page_view", "path": path, "referrer": null, "title": "Shop"})
}

fn search(query: &str, results: i64) -> Value {
    json!({"type": "search", "path": format!("/products?q={query}"), "query": query, "results": results})
}

/// The text of a PDF response (`pdftotext -layout`), once `qpdf --check` has found the document valid.
async fn checked_pdf_text(report: reqwest::Response) -> String {
    let path = std::env::temp_dir().join(format!("insights-{}.pdf", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, report.bytes().await.unwrap()).unwrap();
    let check = std::process::Command::new("qpdf").arg("--check").arg(&path).output().expect("qpdf");
    assert!(check.status.success(), "qpdf --check: {}", String::from_utf8_lossy(&check.stdout));
    let text = std::process::Command::new("pdftotext").arg("-layout").arg(&path).arg("-").output().expect("pdftotext");
    let _ = std::fs::remove_file(&path);
    String::from_utf8_lossy(&text.stdout).into_owned()
}

async fn insights(admin: &TestApp, from: &str, to: &str) -> Value {
    let response = admin.call("admin/insights", &[("from", from), ("to", to)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_insights_match_a_hand_computed_expectation_and_link_to_the_visits_behind_them() {
    let app = TestApp::builder()
        .with_settings(|settings| settings.visits.sweep = Duration::from_secs(1))
        .with_worker()
        .spawn()
        .await;
    let tent = app.product("ridgeline-2-tent").await.0;
    let view_tent = json!({"type": "product_view", "path": TENT, "product_id": tent, "slug": "ridgeline-2-tent"});

    // 1. Searches "tent", views the tent (the search led to it), adds it, rages at the photo, and leaves unpaid.
    let first = visit_posting(
        &app,
        vec![
            page_view("/"),
            search("tent", 1),
            page_view("/products?q=tent"),
            page_view(TENT),
            view_tent.clone(),
            json!({"type": "cart_add", "path": TENT, "product_id": tent, "quantity": 1}),
            json!({"type": "rage_click", "path": TENT, "element": "img", "label": "Ridgeline 2 Tent", "clicks": 4}),
            json!({"type": "web_vitals", "path": TENT, "lcp_ms": 1200, "cls_milli": 20, "inp_ms": 80}),
        ],
        FIREFOX,
    )
    .await;
    // 2. Searches "jakcet" (nothing found) and clicks something dead on the results.
    let second = vec![
        page_view("/"),
        search("jakcet", 0),
        page_view("/products?q=jakcet"),
        json!({"type": "dead_click", "path": "/products?q=jakcet", "element": "span", "label": ""}),
    ];
    let retried = visit_posting(&app, second.clone(), FIREFOX).await;
    // 3. Views the tent straight away, then searches " Tent " (found) and views nothing after.
    visit_posting(
        &app,
        vec![
            page_view(TENT),
            view_tent.clone(),
            json!({"type": "web_vitals", "path": TENT, "lcp_ms": 3100, "cls_milli": null, "inp_ms": null}),
            search(" Tent ", 2),
        ],
        FIREFOX,
    )
    .await;
    // 4. A bot: counts in nothing.
    visit_posting(
        &app,
        vec![
            page_view("/"),
            search("zzz", 0),
            json!({"type": "rage_click", "path": "/", "element": "a", "label": "x", "clicks": 9}),
        ],
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
    )
    .await;
    // 5. A purchase through checkout and payment (the server records those events).
    let buyer = app.another_browser();
    let order = buyer.pending_order("ember-camp-stove", 1).await;
    assert_eq!(buyer.pay(&order, SUCCEEDS, "insights-pay").await.status(), StatusCode::OK);
    // The second visit's batch again (a retry: the same ids) counts nothing twice; a new page view behind it in
    // the same batch is stored after it.
    let mut again = with_ids(second);
    again.push(json!({"type": "page_view", "path": "/after-the-retry", "referrer": null, "title": "Shop", "id": "e9"}));
    let again = json!({"v": 2, "events": again}).to_string();
    assert_eq!(retried.post_events(&again).await.status(), StatusCode::ACCEPTED);
    let stored = "SELECT count(*) FROM clickstream_events";
    // The purchase's are the server's three: checkout_begin, shipping_selected and payment_result.
    assert_eq!(app.wait_for_count(stored, 8 + 4 + 4 + 3 + 3 + 1).await, 23, "every event once");
    let after = "SELECT count(*) FROM clickstream_events WHERE path = '/after-the-retry'";
    assert_eq!(app.wait_for_count(after, 1).await, 1);
    // The first visit signs in and out: its visit closes, an abandoned cart.
    first.sign_in("wanderer", "/").await;
    first.client.post(app.url("/auth/logout")).send().await.unwrap();
    let closed = "SELECT count(*) FROM visits WHERE closed_at IS NOT NULL AND cart_adds > 0 AND NOT paid";
    assert_eq!(app.wait_for_count(closed, 1).await, 1);

    let admin = app.another_browser();
    admin.sign_in("admin", "/").await;
    let today = chrono::Utc::now().date_naive().to_string();
    let found = insights(&admin, &today, &today).await;
    // Browse: visits 1, 2, 3 and 5; a product: 1, 3 and 5 (paying implies it); the cart: 1 and 5; checkout and
    // paid: 5. The bot is in none.
    assert_eq!(found["funnel"]["reached"], json!([4, 3, 2, 1, 1]), "{found:#}");
    assert_eq!(
        found["trouble"],
        json!([
            {"page": TENT, "page_views": 2, "rage_clicks": 1, "dead_clicks": 0, "quick_backs": 0, "errors": 0},
            {"page": "/products", "page_views": 2, "rage_clicks": 0, "dead_clicks": 1, "quick_backs": 0, "errors": 0},
        ])
    );
    // LCP 1200 and 3100: the 75th percentile is the second; one CLS (0.02) and one INP (80 ms, in the 50 ms bucket).
    assert_eq!(found["vitals"], json!([{"page": TENT, "lcp_ms": 3100, "cls_milli": 20, "inp_ms": 50, "samples": 2}]));
    assert_eq!(found["no_results"], json!([{"query": "jakcet", "searches": 1, "count": 1}]));
    // "tent" twice, both found it; the first led to the tent, the second to nothing.
    assert_eq!(found["no_click"], json!([{"query": "tent", "searches": 2, "count": 1}]));
    let abandoned = found["abandoned"].as_array().unwrap();
    assert_eq!(abandoned.len(), 1);
    assert_eq!(abandoned[0]["last_page"], TENT);
    assert_eq!(abandoned[0]["shopper"], "wanderer");
    // Another range holds none of it.
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string();
    assert_eq!(insights(&admin, &yesterday, &yesterday).await["funnel"]["reached"], json!([0, 0, 0, 0, 0]));

    // The page renders it all on the server, and each number leads to its visits.
    let html = admin.client.get(app.url(&format!("/admin/insights?from={today}&to={today}"))).send().await.unwrap();
    assert_eq!(html.status(), StatusCode::OK);
    let html = html.text().await.unwrap();
    for shown in [
        "<svg",
        "Funnel: visits reaching each stage",
        "Where shoppers struggle",
        "Web Vitals",
        "jakcet",
        "Carts left unpaid",
    ] {
        assert!(html.contains(shown), "{shown:?} missing from the page");
    }
    let range = format!("from={today}&amp;to={today}");
    assert!(html.contains(&format!("/admin/visits?{range}&amp;reached=cart")), "{html}");
    let behind = |filter: String| {
        let admin = &admin;
        async move {
            let form: Vec<(String, String)> = filter
                .split('&')
                .map(|pair| pair.split_once('=').unwrap())
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect();
            let mut form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            form.push(("outcome", ""));
            let listed: Value = admin.call("admin_visits", &form).await.json().await.unwrap();
            listed.as_array().unwrap().len()
        }
    };
    let range = format!("from={today}&to={today}");
    assert_eq!(behind(format!("{range}&reached=cart")).await, 2, "the cart's 2 visits");
    assert_eq!(behind(format!("{range}&reached=browse")).await, 4);
    assert_eq!(behind(format!("{range}&page={TENT}&signal=rage_click")).await, 1, "the bot's rage is left out");
    assert_eq!(behind(format!("{range}&search=jakcet")).await, 1);

    // The same numbers as a PDF: a valid document with every section.
    let report =
        admin.client.get(app.url(&format!("/admin/insights.pdf?from={today}&to={today}"))).send().await.unwrap();
    assert_eq!(report.status(), StatusCode::OK);
    assert_eq!(report.headers()["content-type"], "application/pdf");
    let disposition = report.headers()["content-disposition"].to_str().unwrap().to_string();
    assert_eq!(disposition, format!("attachment; filename=\"cartograph-insights-{today}-{today}.pdf\""));
    let text = checked_pdf_text(report).await;
    for shown in [
        "Insights",
        "Funnel",
        "50.0% of the stage before",
        "Searches that found nothing",
        "jakcet",
        "Searches that led to no product",
        "Where shoppers struggle",
        "Web Vitals (75th percentile)",
        "3100 ms \u{b7} to improve",
        "Carts left unpaid",
        "wanderer",
        "page 1 of",
    ] {
        assert!(text.contains(shown), "{shown:?} missing from the insights PDF:\n{text}");
    }

    // A shopper gets none of it.
    let shopper = app.another_browser();
    shopper.sign_in("curious", "/").await;
    let refused = shopper.client.get(app.url("/admin/insights.pdf")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert_eq!(shopper.call("admin/insights", &[("from", ""), ("to", "")]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        admin.call("admin/insights", &[("from", "2026-12-07"), ("to", "2026-01-01")]).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

/// Posts `events` (with the tracker's ids) as one version 3 batch from `browser`.
async fn post_v3(browser: &TestApp, events: Vec<Value>, user_agent: &str) {
    let body = json!({"v": 3, "events": with_ids(events)}).to_string();
    let response = browser.post_events_as(&body, user_agent).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED, "{}", response.text().await.unwrap_or_default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_top_paths_and_each_recommendation_slot_are_counted_from_real_journeys() {
    let app = TestApp::builder().with_worker().spawn().await;
    let (tent, tent_price, _) = app.product("ridgeline-2-tent").await;
    let stove = app.product("ember-camp-stove").await.0;
    let shown = |slot: &str, path: &str| json!({"type": "rec_impression", "path": path, "slot": slot, "products": 4});
    let from_slot = |slot: &str, path: &str, href: &str| json!({"type": "click", "path": path, "element": "a", "label": format!("rec-{slot}"), "href": href});

    // A: sees "Popular right now" on the home page, opens the tent from it, and buys it.
    let opened = format!("{TENT}?rec=popular");
    let a_events = vec![
        page_view("/"),
        shown("popular", "/"),
        from_slot("popular", "/", &opened),
        page_view(&opened),
        json!({"type": "product_view", "path": opened, "product_id": tent, "slug": "ridgeline-2-tent"}),
        page_view("/cart"),
    ];
    let buyer = app.another_browser();
    buyer.visit().await;
    post_v3(&buyer, a_events.clone(), FIREFOX).await;
    let order = buyer.pending_order("ridgeline-2-tent", 1).await;
    assert_eq!(buyer.pay(&order, SUCCEEDS, "slot-pay").await.status(), StatusCode::OK);
    // B: home (twice: one step), the catalog, the stove, and a click in "Often viewed together" below it.
    let stove_page = "/product/ember-camp-stove";
    let b = app.another_browser();
    b.visit().await;
    post_v3(
        &b,
        vec![
            page_view("/"),
            page_view("/"),
            page_view("/products"),
            page_view(stove_page),
            json!({"type": "product_view", "path": stove_page, "product_id": stove, "slug": "ember-camp-stove"}),
            shown("viewed-together", stove_page),
            from_slot("viewed-together", stove_page, &format!("{TENT}?rec=viewed-together")),
        ],
        FIREFOX,
    )
    .await;
    // C and F: the home page and its slot, nothing more. D: a bot doing the same counts nowhere.
    for user_agent in [FIREFOX, FIREFOX, "Googlebot/2.1 (+http://www.google.com/bot.html)"] {
        let browser = app.another_browser();
        browser.visit().await;
        post_v3(&browser, vec![page_view("/"), shown("popular", "/")], user_agent).await;
    }
    // E: seven pages; its path keeps the first five.
    let e = app.another_browser();
    e.visit().await;
    post_v3(&e, ["/", "/a", "/b", "/c", "/d", "/e", "/f"].map(page_view).to_vec(), FIREFOX).await;
    // A's batch and payment again (a retry, a replayed payment): nothing counts twice.
    post_v3(&buyer, a_events, FIREFOX).await;
    assert_eq!(buyer.pay(&order, SUCCEEDS, "slot-pay").await.status(), StatusCode::OK);
    // A's 6 and the server's 3, B's 7, C's, F's and D's 2 each, E's 7.
    assert_eq!(app.wait_for_count("SELECT count(*) FROM clickstream_events", 29).await, 29);
    let paid = "SELECT count(*) FROM rec_slot_revenue";
    assert_eq!(app.wait_for_count(paid, 1).await, 1);

    let admin = app.another_browser();
    admin.sign_in("admin", "/").await;
    let today = chrono::Utc::now().date_naive().to_string();
    let found = insights(&admin, &today, &today).await;
    let slot = |name: &str| found["slots"].as_array().unwrap().iter().find(|row| row["slot"] == name).unwrap().clone();
    assert_eq!(
        slot("popular"),
        json!({"slot": "popular", "impressions": 3, "clicks": 1, "orders": 1, "revenue": [["EUR", tent_price]]}),
        "{found:#}"
    );
    assert_eq!(
        slot("viewed-together"),
        json!({"slot": "viewed-together", "impressions": 1, "clicks": 1, "orders": 0, "revenue": []})
    );
    assert_eq!(slot("bought-together")["impressions"], 0);
    // Paths: C and F made "/" alone; A, B and E one path each.
    let paths: Vec<(Vec<String>, i64)> = found["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|path| (serde_json::from_value(path["pages"].clone()).unwrap(), path["visits"].as_i64().unwrap()))
        .collect();
    let path = |pages: &[&str], visits: i64| (pages.iter().map(|page| page.to_string()).collect::<Vec<_>>(), visits);
    assert_eq!(
        paths,
        vec![
            path(&["/"], 2),
            path(&["/", "/a", "/b", "/c", "/d"], 1),
            path(&["/", "/product/ridgeline-2-tent", "/cart"], 1),
            path(&["/", "/products", "/product/ember-camp-stove"], 1),
        ]
    );
    // The flow: five visits start at "/", three go on (to the tent, the catalog, "/a"), five steps in all.
    let columns = found["flow"]["columns"].as_array().unwrap();
    assert_eq!(columns.len(), 5);
    assert_eq!(columns[0], json!([{"page": "/", "visits": 5}]));
    assert_eq!(columns[1].as_array().unwrap().len(), 3);
    assert_eq!(found["flow"]["bands"].as_array().unwrap().iter().filter(|band| band["column"] == 0).count(), 3);

    // The page draws the flow and the slots, and every number leads to its visits.
    let html = admin.client.get(app.url(&format!("/admin/insights?from={today}&to={today}"))).send().await.unwrap();
    let html = html.text().await.unwrap();
    for shown in ["Top paths", "class=\"flow-band\"", "/ → /products → /product/ember-camp-stove", "Popular right now"]
    {
        assert!(html.contains(shown), "{shown:?} missing from the page");
    }
    let listed = |filter: Vec<(&'static str, String)>| {
        let admin = &admin;
        let today = today.clone();
        async move {
            let mut form: Vec<(&str, String)> =
                vec![("outcome", String::new()), ("from", today.clone()), ("to", today)];
            form.extend(filter);
            let form: Vec<(&str, &str)> = form.iter().map(|(key, value)| (*key, value.as_str())).collect();
            let response = admin.call("admin_visits", &form).await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap().as_array().unwrap().len()
        }
    };
    let popular = || ("rec", "popular".to_string());
    assert_eq!(listed(vec![popular(), ("signal", "rec_impression".into())]).await, 3, "A, C and F; not the bot");
    assert_eq!(listed(vec![popular(), ("signal", "click".into())]).await, 1);
    assert_eq!(listed(vec![popular(), ("signal", "product_view".into()), ("reached", "paid".into())]).await, 1);
    assert_eq!(listed(vec![("path", "/ /products /product/ember-camp-stove".into())]).await, 1);
    assert_eq!(listed(vec![("path", "/".into())]).await, 2);
    let refused = admin.call("admin_visits", &[("outcome", ""), ("rec", "sponsored")]).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The PDF has both sections.
    let report =
        admin.client.get(app.url(&format!("/admin/insights.pdf?from={today}&to={today}"))).send().await.unwrap();
    assert_eq!(report.status(), StatusCode::OK);
    let text = checked_pdf_text(report).await;
    for shown in [
        "Top paths",
        "Paths most made",
        "/ > /products > /product/ember-camp-stove",
        "Recommendations",
        "Popular right now",
        "33.3%",
    ] {
        assert!(text.contains(shown), "{shown:?} missing from the insights PDF:\n{text}");
    }
}
