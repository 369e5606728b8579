//! Recommendations computed from real journeys: scripted visits post their product views through the real
//! endpoint, the broker carries them, the worker counts them, and the pages show the result.

use crate::helpers::{
    shopper::{DECLINED, FIREFOX, SUCCEEDS},
    TestApp,
};
use reqwest::StatusCode;
use serde_json::json;

// Demo products (stock in brackets): A is viewed with B twice and with C once; P is viewed in every visit.
const A: &str = "ridgeline-2-tent"; // (7)
const B: &str = "summit-down-sleeping-bag"; // (12)
const C: &str = "trailhead-30-l-daypack"; // (25)
const P: &str = "lumen-400-headlamp"; // (40)
const SOLD_OUT: &str = "pathfinder-compass"; // (0)

/// The ids of `slugs`, in order.
async fn ids(app: &TestApp, slugs: &[&str]) -> Vec<i64> {
    let mut ids = Vec::new();
    for slug in slugs {
        ids.push(app.product(slug).await.0);
    }
    ids
}

/// A new browser's visit that views `slugs` in order, as its tracker reports them (`user_agent` decides whether
/// it is a shopper's or a bot's); returns the browser.
async fn journey_as(app: &TestApp, slugs: &[&str], user_agent: &str) -> TestApp {
    let browser = app.another_browser();
    browser.visit().await;
    let mut events = Vec::new();
    for (n, slug) in slugs.iter().enumerate() {
        let id = app.product(slug).await.0;
        events.push(json!({"type": "product_view", "product_id": id, "slug": slug, "path": format!("/product/{slug}"), "id": format!("view-{n}")}));
    }
    let batch = json!({"v": 1, "events": events}).to_string();
    let response = browser.post_events_as(&batch, user_agent).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED, "{}", response.text().await.unwrap_or_default());
    browser
}

async fn journey(app: &TestApp, slugs: &[&str]) -> TestApp {
    journey_as(app, slugs, FIREFOX).await
}

/// Waits until the worker has stored `events` product views in all.
async fn views_stored(app: &TestApp, events: i64) {
    let query = "SELECT count(*) FROM clickstream_events WHERE event_type = 'product_view'";
    assert_eq!(app.wait_for_count(query, events).await, events, "the views were stored");
}

/// The product ids of the recommendation slot `slot` on `html`, in the order shown; `None` without the slot.
fn shelf(html: &str, slot: &str) -> Option<Vec<i64>> {
    let start = html.find(&format!("data-slot=\"{slot}\""))?;
    let section = &html[start..start + html[start..].find("</section>")?];
    let ids = section
        .split("data-product-id=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect();
    Some(ids)
}

async fn page(browser: &TestApp, path: &str) -> String {
    let response = browser.client.get(browser.url(path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.text().await.unwrap()
}

/// Three visits view A with others, five view only P: A's list, hand-computed. Cosine similarity (the pair's
/// visits over the geometric mean of the two products' visits): B 2/√(3·2) = 0.82, P 3/√(3·8) = 0.61,
/// C 1/√(3·1) = 0.58. Counted raw, P (3 visits with A) would top A's list; it tops none.
async fn scripted_views(app: &TestApp) {
    journey(app, &[A, B, P]).await;
    journey(app, &[B, A, P]).await;
    journey(app, &[A, C, P]).await;
    for _ in 0..5 {
        journey(app, &[P]).await;
    }
    views_stored(app, 14).await;
}

#[tokio::test]
async fn scripted_journeys_give_a_known_ranking_where_a_popular_product_tops_no_list() {
    let app = TestApp::builder().with_worker().spawn().await;
    let [a, b, c, p] = ids(&app, &[A, B, C, P]).await[..] else { unreachable!() };
    scripted_views(&app).await;

    let shopper = app.another_browser();
    assert_eq!(shelf(&page(&shopper, &format!("/product/{A}")).await, "viewed-together"), Some(vec![b, p, c]));
    assert_eq!(shelf(&page(&shopper, &format!("/product/{B}")).await, "viewed-together"), Some(vec![a, p]));
    assert_eq!(shelf(&page(&shopper, &format!("/product/{C}")).await, "viewed-together"), Some(vec![a, p]));
    assert_eq!(shelf(&page(&shopper, &format!("/product/{P}")).await, "viewed-together"), Some(vec![a, b, c]));

    // Each link carries its slot, and names it for the tracker's click event.
    let html = page(&shopper, &format!("/product/{A}")).await;
    assert!(html.contains(&format!("href=\"/product/{B}?rec=viewed-together\"")), "{html}");
    assert!(html.contains("data-track=\"rec-viewed-together\""));
    assert!(html.contains(">Often viewed together</h2>"));

    // What is in the shopper's cart is never recommended to them.
    assert_eq!(shopper.add_to_cart(b, 1).await.status(), StatusCode::OK);
    assert_eq!(shelf(&page(&shopper, &format!("/product/{A}")).await, "viewed-together"), Some(vec![p, c]));

    // A redelivered batch and a bot's views count nothing: the lists and the counts stay as they were.
    let before: Vec<(String, i64, i64, i32)> =
        sqlx::query_as("SELECT kind, product_id, other_id, count FROM product_pairs ORDER BY 1, 2, 3")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let repeat = journey(&app, &[C, B]).await;
    views_stored(&app, 16).await;
    // The same two views again (the tracker's retry: same ids), then a page view behind them in the same visit,
    // which the worker stores after them.
    let batch = json!({"v": 1, "events": [
        {"type": "product_view", "product_id": c, "slug": C, "path": format!("/product/{C}"), "id": "view-0"},
        {"type": "product_view", "product_id": b, "slug": B, "path": format!("/product/{B}"), "id": "view-1"},
        {"type": "page_view", "path": "/after-the-retry", "referrer": null, "title": "Shop", "id": "after"}]});
    assert_eq!(repeat.post_events(&batch.to_string()).await.status(), StatusCode::ACCEPTED);
    let after_retry = "SELECT count(*) FROM clickstream_events WHERE path = '/after-the-retry'";
    assert_eq!(app.wait_for_count(after_retry, 1).await, 1);
    journey_as(&app, &[C, B, C, B], "Googlebot/2.1 (+http://www.google.com/bot.html)").await;
    views_stored(&app, 20).await;
    let pair = |rows: &[(String, i64, i64, i32)], x: i64, y: i64| {
        rows.iter().find(|row| row.0 == "viewed" && row.1 == x && row.2 == y).map_or(0, |row| row.3)
    };
    let after: Vec<(String, i64, i64, i32)> =
        sqlx::query_as("SELECT kind, product_id, other_id, count FROM product_pairs ORDER BY 1, 2, 3")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!((pair(&before, c, b), pair(&after, c, b)), (0, 1), "one visit viewed C and B, however often sent");
    assert_eq!(pair(&after, b, c), 1, "pairs are kept both ways");
    assert_eq!(after.len(), before.len() + 2);
}

#[tokio::test]
async fn an_archived_or_sold_out_product_leaves_every_list_and_comes_back_in_stock() {
    let app = TestApp::builder().with_worker().spawn().await;
    let [_, b, c, p, sold_out] = ids(&app, &[A, B, C, P, SOLD_OUT]).await[..] else { unreachable!() };
    scripted_views(&app).await;
    // A product without stock is viewed with A in two visits more: it would rank first, and is never shown.
    journey(&app, &[SOLD_OUT, A]).await;
    journey(&app, &[A, SOLD_OUT]).await;
    views_stored(&app, 18).await;
    let shopper = app.another_browser();
    let list = || async { shelf(&page(&shopper, &format!("/product/{A}")).await, "viewed-together") };
    assert_eq!(list().await, Some(vec![b, p, c]));

    // B is archived by an admin: gone from the list at once (the list is read live, not cached).
    let admin = app.another_browser();
    admin.sign_in("admin", "/").await;
    let archive = admin.call("admin/archive_product", &[("id", &b.to_string()), ("archived", "true")]).await;
    assert_eq!(archive.status(), StatusCode::OK);
    assert_eq!(list().await, Some(vec![p, c]));

    // C sells out: gone; restocked: back in its place.
    sqlx::query("UPDATE variants SET stock = 0 WHERE product_id = $1").bind(c).execute(&app.pool).await.unwrap();
    assert_eq!(list().await, Some(vec![p]));
    let restocked = sqlx::query("UPDATE variants SET stock = 5 WHERE product_id = $1").bind(c);
    restocked.execute(&app.pool).await.unwrap();
    assert_eq!(list().await, Some(vec![p, c]));

    // With nothing left to show, the slot is not on the page at all.
    sqlx::query("UPDATE variants SET stock = 0 WHERE product_id = ANY($1)")
        .bind(vec![c, p])
        .execute(&app.pool)
        .await
        .unwrap();
    let html = page(&shopper, &format!("/product/{A}")).await;
    assert_eq!(shelf(&html, "viewed-together"), None, "an empty slot is left out");
    assert!(!html.contains(&format!("data-product-id=\"{sold_out}\"")), "the sold-out product is never shown");
}

#[tokio::test]
async fn the_home_page_picks_from_a_shoppers_views_and_shows_the_popular_ones_to_a_new_visitor() {
    let app = TestApp::builder().with_worker().spawn().await;
    let [a, b, c, p] = ids(&app, &[A, B, C, P]).await[..] else { unreachable!() };

    // An empty shop has nothing to recommend: no slot, and the page renders its shelves.
    let html = page(&app.another_browser(), "/").await;
    assert_eq!(shelf(&html, "popular"), None);
    assert!(html.contains("class=\"shelf\""), "the home page's shelves render");

    scripted_views(&app).await;
    // A first visit: the most viewed products, most viewed first.
    let html = page(&app.another_browser(), "/").await;
    assert_eq!(shelf(&html, "popular"), Some(vec![p, a, b, c]));
    assert!(html.contains(">Popular right now</h2>"));

    // A shopper who viewed C: what visits viewed with C (A, then P), topped up with the popular ones; never C.
    let shopper = journey(&app, &[C]).await;
    views_stored(&app, 15).await;
    let html = page(&shopper, "/").await;
    assert_eq!(shelf(&html, "picked-for-you"), Some(vec![a, p, b]), "C's partners first, then the popular");
    assert!(html.contains(&format!("href=\"/product/{A}?rec=picked-for-you\"")));
    // And with A in the cart: A leaves the list, and A's partners join C's.
    assert_eq!(shopper.add_to_cart(a, 1).await.status(), StatusCode::OK);
    assert_eq!(shelf(&page(&shopper, "/").await, "picked-for-you"), Some(vec![p, b]));
}

#[tokio::test]
async fn the_cart_shows_what_paid_orders_held_with_its_products_and_nothing_from_unpaid_ones() {
    let app = TestApp::builder().with_worker().spawn().await;
    let [a, b, c, p] = ids(&app, &[A, B, C, P]).await[..] else { unreachable!() };
    let buyer = app.another_browser();
    buyer.sign_in("shopper", "/").await;
    // Paid: A with B, then A with P. Declined: A with C.
    for (other, card) in [(b, SUCCEEDS), (p, SUCCEEDS), (c, DECLINED)] {
        assert_eq!(buyer.add_to_cart(a, 1).await.status(), StatusCode::OK);
        assert_eq!(buyer.add_to_cart(other, 1).await.status(), StatusCode::OK);
        let checkout = buyer.checkout().await;
        assert_eq!(checkout.status(), StatusCode::OK);
        let order: String = checkout.json().await.unwrap();
        buyer.pay(&order, card, &format!("pay-{order}")).await;
    }
    // The payments' events reach the worker through the clickstream outbox and the broker.
    let paid = "SELECT count(*) FROM counted_orders";
    assert_eq!(app.wait_for_count(paid, 2).await, 2, "the two paid orders were counted");

    let shopper = app.another_browser();
    assert_eq!(shopper.add_to_cart(a, 1).await.status(), StatusCode::OK);
    let html = page(&shopper, "/cart").await;
    let mut shown = shelf(&html, "bought-together").expect("the cart shows the slot");
    shown.sort_unstable();
    let mut expected = vec![b, p];
    expected.sort_unstable();
    assert_eq!(shown, expected, "B and P were paid for with A; C was declined");
    assert!(html.contains(">Bought together</h2>"));
    // An empty cart recommends nothing.
    assert_eq!(shelf(&page(&app.another_browser(), "/cart").await, "bought-together"), None);
}
