//! Signed webhooks against the real app: an admin registers an endpoint, a product change and a paid order become
//! deliveries in their own transactions, the worker's deliverer posts them signed to a real local receiver,
//! retries after a 500 and records every attempt, never follows a redirect, turns off an endpoint that keeps
//! failing, replays on request; and hostile URLs are refused at registration and at connection time.

use crate::helpers::{
    shopper::{refusal, SUCCEEDS},
    TestApp,
};
use app::webhooks::TargetRules;
use axum::{extract::State, http::HeaderMap, routing::post, Router};
use cartograph::webhooks::{signature, Deliverer, RetryRules};
use reqwest::StatusCode;
use serde_json::Value;
use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};
use uuid::Uuid;

/// What a receiver got: the headers that matter and the raw body.
#[derive(Clone, Debug)]
struct Received {
    signature: String,
    event: String,
    event_id: String,
    delivery: String,
    body: String,
}

#[derive(Default)]
struct Script {
    /// Answers to give, in order; 200 once they run out.
    answers: VecDeque<(u16, Option<String>)>,
    received: Vec<Received>,
}

/// A local HTTP server standing in for a partner's endpoint.
struct Receiver {
    url: String,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    async fn start() -> Self {
        let script = Arc::new(Mutex::new(Script::default()));
        let router = Router::new().route("/hook", post(receive)).with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self { url, script }
    }

    /// Answers the next requests with these statuses (a redirect's `Location` beside it).
    fn answer(&self, answers: &[(u16, Option<&str>)]) {
        let mut script = self.script.lock().unwrap();
        script.answers.extend(answers.iter().map(|(status, to)| (*status, to.map(str::to_string))));
    }

    fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }
}

async fn receive(
    State(script): State<Arc<Mutex<Script>>>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let mut script = script.lock().unwrap();
    script.received.push(Received {
        signature: header("cartograph-signature"),
        event: header("cartograph-event"),
        event_id: header("cartograph-event-id"),
        delivery: header("cartograph-delivery"),
        body,
    });
    let (status, location) = script.answers.pop_front().unwrap_or((200, None));
    let mut response = axum::response::Response::new(axum::body::Body::from("ok"));
    *response.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
    if let Some(location) = location {
        response.headers_mut().insert(axum::http::header::LOCATION, location.parse().unwrap());
    }
    response
}

const DEV: TargetRules = TargetRules { https_only: false, allow_loopback: true, allow_private: false };

/// A deliverer under dev rules whose retries come a second apart.
fn deliverer(app: &TestApp, disable_after: i32) -> Deliverer {
    deliverer_under(app, DEV, disable_after)
}

fn deliverer_under(app: &TestApp, targets: TargetRules, disable_after: i32) -> Deliverer {
    let rules = RetryRules {
        timeout: Duration::from_secs(5),
        retry_base: Duration::from_secs(1),
        retry_for: Duration::from_secs(600),
        disable_after,
    };
    Deliverer::new(app.pool.clone(), targets, rules).unwrap()
}

/// Registers an endpoint through the back office's plain form; returns its id (from the redirect to its page).
async fn register(app: &TestApp, url: &str, events: &[&str]) -> Uuid {
    let response = register_form(app, url, events).await;
    assert_eq!(response.status(), StatusCode::FOUND, "{:?}", response.headers());
    let page = response.headers()["location"].to_str().unwrap().to_string();
    page.strip_prefix("/admin/webhooks/").unwrap().parse().unwrap()
}

async fn register_form(app: &TestApp, url: &str, events: &[&str]) -> reqwest::Response {
    let mut form = vec![("url".to_string(), url.to_string()), ("description".into(), "the warehouse".into())];
    form.extend(events.iter().map(|event| (format!("events[{event}]"), "on".to_string())));
    app.client
        .post(app.url("/api/admin_webhook_create"))
        .header("accept", "text/html")
        .header("referer", app.url("/admin/webhooks"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The endpoint's page data (`admin_webhook`): its secret, state and deliveries with their attempts.
async fn endpoint(app: &TestApp, id: Uuid) -> Value {
    let response = app.call("admin_webhook", &[("id", &id.to_string())]).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Runs delivery rounds until `done` holds (retries wait a second); fails after 20 s.
async fn deliver_until(deliverer: &Deliverer, what: &str, mut done: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        deliverer.deliver_due().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn verified(received: &Received, secret: &str) -> bool {
    signature::verify(secret, &received.signature, received.body.as_bytes(), chrono::Utc::now().timestamp(), 300)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_delivered_signed_retried_after_a_500_recorded_and_replayed() {
    let app = TestApp::builder().spawn().await;
    let receiver = Receiver::start().await;
    app.sign_in("admin", "/").await;
    let id = register(&app, &receiver.url, &["product.created", "order.paid", "order.fulfilled"]).await;
    let page = endpoint(&app, id).await;
    let secret = page["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{page}");
    assert_eq!(page["endpoint"]["events"], serde_json::json!(["product.created", "order.paid", "order.fulfilled"]));

    // A product created: one delivery, written with the change. The receiver fails the first attempt.
    receiver.answer(&[(500, None)]);
    let form = crate::admin::product_form("0", "Hook Lantern", "19.50", "7", "0");
    assert_eq!(crate::admin::save(&app, &form).await.status(), StatusCode::OK);
    let deliverer = deliverer(&app, 20);
    deliver_until(&deliverer, "the retry after the 500", || receiver.received().len() == 2).await;
    let [first, second] = <[Received; 2]>::try_from(receiver.received()).unwrap();
    for received in [&first, &second] {
        assert!(verified(received, &secret), "{received:?}");
        assert!(!verified(received, "whsec_someone-else-entirely-000000000000"));
        assert_eq!(received.event, "product.created");
    }
    assert_eq!((first.body.as_str(), first.delivery.as_str()), (second.body.as_str(), second.delivery.as_str()));
    let body: Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(body["type"], "product.created");
    assert_eq!(body["id"].as_str(), Some(first.event_id.as_str()));
    assert_eq!(body["data"]["after"]["name"], "Hook Lantern");
    assert_eq!(body["data"]["after"]["price_cents"], 1950);
    assert!(body["data"]["before"].is_null());
    assert!(body["data"].get("cart_holders").is_none(), "shoppers stay inside the shop");

    // Both attempts are recorded with their status and latency; the delivery is delivered.
    let page = endpoint(&app, id).await;
    let delivery = &page["deliveries"][0];
    assert_eq!(delivery["state"], "delivered");
    let attempts = delivery["attempts"].as_array().unwrap();
    let statuses: Vec<i64> = attempts.iter().map(|a| a["status_code"].as_i64().unwrap()).collect();
    assert_eq!(statuses, [500, 200]);
    assert!(attempts.iter().all(|a| a["latency_ms"].as_i64().unwrap() >= 0));
    assert_eq!(page["endpoint"]["failures_in_a_row"], 0, "a success starts the count again");

    // A paid order: `order.paid` with the order's lines; an event nobody asked for (cancel) sends nothing.
    let shopper = app.another_browser();
    let order = shopper.pending_order("ridgeline-2-tent", 2).await;
    assert_eq!(shopper.pay(&order, SUCCEEDS, &Uuid::new_v4().to_string()).await.status(), StatusCode::OK);
    deliver_until(&deliverer, "order.paid", || receiver.received().len() == 3).await;
    let paid = receiver.received().pop().unwrap();
    assert!(verified(&paid, &secret));
    let body: Value = serde_json::from_str(&paid.body).unwrap();
    assert_eq!(body["type"], "order.paid");
    assert_eq!(body["data"]["order"]["id"], order);
    assert_eq!(body["data"]["order"]["status"], "paid");
    assert_eq!(body["data"]["order"]["lines"][0]["slug"], "ridgeline-2-tent");
    assert_eq!(body["data"]["order"]["lines"][0]["quantity"], 2);
    assert_eq!(body["data"]["order"]["shipping"]["city"], "Berlin");

    // The admin ships it: `order.fulfilled`, signed the same way.
    let everything = app::admin::Parcel::parse("DHL", "JD0146", &[]).unwrap();
    let admin = app.user("webhook-admin").await;
    app::admin::store::ship(&app.pool, order.parse().unwrap(), admin, "the test", &everything).await.unwrap();
    deliver_until(&deliverer, "order.fulfilled", || receiver.received().len() == 4).await;
    let shipped = receiver.received().pop().unwrap();
    assert!(verified(&shipped, &secret));
    let body: Value = serde_json::from_str(&shipped.body).unwrap();
    assert_eq!(
        (body["type"].as_str(), body["data"]["order"]["status"].as_str()),
        (Some("order.fulfilled"), Some("fulfilled"))
    );

    // Replay the first delivery: the same event and body again, signed anew; its attempts go on in the list.
    let first_delivery = first.delivery.clone();
    let replay = app.call("admin_webhook_replay", &[("delivery", &first_delivery)]).await;
    assert_eq!(replay.status(), StatusCode::OK);
    deliver_until(&deliverer, "the replay", || receiver.received().len() == 5).await;
    let replayed = receiver.received().pop().unwrap();
    assert_eq!((replayed.body.as_str(), replayed.delivery.as_str()), (first.body.as_str(), first_delivery.as_str()));
    assert!(verified(&replayed, &secret));
    let page = endpoint(&app, id).await;
    let again = page["deliveries"].as_array().unwrap().iter().find(|d| d["id"] == first_delivery).unwrap().clone();
    assert_eq!(again["attempts"].as_array().unwrap().len(), 3);
    // A rotated secret signs every attempt from then on; the old one verifies nothing more.
    let rotate = app.call("admin_webhook_rotate", &[("id", &id.to_string())]).await;
    assert_eq!(rotate.status(), StatusCode::OK);
    let rotated = endpoint(&app, id).await["secret"].as_str().unwrap().to_string();
    assert!(rotated.starts_with("whsec_") && rotated != secret);
    assert_eq!(app.call("admin_webhook_replay", &[("delivery", &first_delivery)]).await.status(), StatusCode::OK);
    deliver_until(&deliverer, "the replay under the new secret", || receiver.received().len() == 6).await;
    let resigned = receiver.received().pop().unwrap();
    assert!(verified(&resigned, &rotated) && !verified(&resigned, &secret));
    // A delivery still waiting is not replayed twice; a shopper cannot replay anything.
    let shopper_replay = shopper.call("admin_webhook_replay", &[("delivery", &first_delivery)]).await;
    assert_eq!(shopper_replay.status(), StatusCode::FORBIDDEN);
    assert_eq!(shopper.call("admin_webhooks", &[]).await.status(), StatusCode::FORBIDDEN);
    let shopper_rotate = shopper.call("admin_webhook_rotate", &[("id", &id.to_string())]).await;
    assert_eq!(shopper_rotate.status(), StatusCode::FORBIDDEN);
    assert_eq!(endpoint(&app, id).await["secret"], rotated.as_str(), "the secret is the admin's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_a_failing_endpoint_is_turned_off_and_hostile_urls_are_refused() {
    let app = TestApp::builder().spawn().await;
    let receiver = Receiver::start().await;
    let elsewhere = Receiver::start().await;
    app.sign_in("admin", "/").await;

    // Refused at registration, with the reason: cloud metadata, a private range, not http(s), no events.
    for (url, reason) in [
        ("http://169.254.169.254/latest/meta-data/", "internal address"),
        ("http://10.0.0.8/hook", "internal address"),
        ("http://[::ffff:192.168.0.1]/hook", "internal address"),
        ("file:///etc/passwd", "https:// URLs"),
        ("https://user:secret@example.com/hook", "password"),
    ] {
        let refused = refusal(&register_form(&app, url, &["order.paid"]).await);
        assert!(refused.contains(reason), "{url}: {refused}");
    }
    let none_ticked = refusal(&register_form(&app, &receiver.url, &[]).await);
    assert!(none_ticked.contains("Choose at least one event"), "{none_ticked}");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_endpoints").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 0, "nothing refused was stored");

    // A redirect is an answer, not a hop: the attempt fails with where it pointed, and nothing reaches it.
    let id = register(&app, &receiver.url, &["product.updated"]).await;
    receiver.answer(&[(302, Some(&elsewhere.url)), (500, None), (500, None)]);
    let (product, _, _) = app.product("ridgeline-2-tent").await;
    let archive = app.call("admin/archive_product", &[("id", &product.to_string()), ("archived", "true")]).await;
    assert_eq!(archive.status(), StatusCode::OK);
    let deliverer = deliverer(&app, 3);
    deliver_until(&deliverer, "three failed attempts", || receiver.received().len() == 3).await;
    assert!(elsewhere.received().is_empty(), "the redirect was followed");

    // Three failures in a row turn the endpoint off, with the reason; its delivery waits, unsent.
    let page = endpoint(&app, id).await;
    assert_eq!(page["endpoint"]["enabled"], false, "{page}");
    assert_eq!(page["endpoint"]["disabled_reason"], "3 failed attempts in a row");
    let delivery = &page["deliveries"][0];
    assert_eq!(delivery["state"], "pending");
    let attempts = delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["status_code"], 302);
    assert!(attempts[0]["error"].as_str().unwrap().contains(&elsewhere.url), "{attempts:?}");
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(deliverer.deliver_due().await.unwrap(), 0, "an endpoint that is off gets nothing");
    let refused_replay = app.call("admin_webhook_replay", &[("delivery", delivery["id"].as_str().unwrap())]).await;
    assert!(refused_replay.status().is_client_error());

    // A URL that passed registration is checked again at every attempt (here: rules without loopback, as in
    // production); the resolver's own check is a unit test (`cartograph::webhooks`).
    let strict = TargetRules { https_only: false, allow_loopback: false, allow_private: false };
    let port = receiver.url.split(':').nth(2).unwrap().split('/').next().unwrap().to_string();
    sqlx::query("UPDATE webhook_endpoints SET url = $2, enabled = true, failures_in_a_row = 0 WHERE id = $1")
        .bind(id)
        .bind(format!("http://localhost:{port}/hook"))
        .execute(&app.pool)
        .await
        .unwrap();
    let strict = deliverer_under(&app, strict, 20);
    let before = receiver.received().len();
    sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = now()").execute(&app.pool).await.unwrap();
    assert_eq!(strict.deliver_due().await.unwrap(), 1);
    assert_eq!(receiver.received().len(), before, "an internal address was reached");
    let page = endpoint(&app, id).await;
    let last = page["deliveries"][0]["attempts"].as_array().unwrap().last().unwrap().clone();
    assert!(last["status_code"].is_null(), "{last}");
    assert!(last["error"].as_str().unwrap().starts_with("refused: localhost is this machine"), "{last}");

    // After all that, an ordinary delivery goes through: turned on again (through the back office), the
    // endpoint gets the waiting delivery, signed.
    sqlx::query("UPDATE webhook_endpoints SET url = $2 WHERE id = $1")
        .bind(id)
        .bind(&receiver.url)
        .execute(&app.pool)
        .await
        .unwrap();
    let on = app.call("admin_webhook_enable", &[("id", &id.to_string()), ("enabled", "true")]).await;
    assert_eq!(on.status(), StatusCode::OK);
    sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = now()").execute(&app.pool).await.unwrap();
    let secret = endpoint(&app, id).await["secret"].as_str().unwrap().to_string();
    deliver_until(&deliverer, "the delivery after turning on", || receiver.received().len() == before + 1).await;
    let delivered = receiver.received().pop().unwrap();
    assert!(verified(&delivered, &secret));
    let body: Value = serde_json::from_str(&delivered.body).unwrap();
    assert_eq!(
        (body["type"].as_str(), body["data"]["after"]["archived"].as_bool()),
        (Some("product.updated"), Some(true))
    );
    let page = endpoint(&app, id).await;
    assert_eq!(
        (page["endpoint"]["enabled"].as_bool(), page["deliveries"][0]["state"].as_str()),
        (Some(true), Some("delivered"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_visit_is_a_journey_closed_delivery_and_a_bots_is_none() {
    use cartograph::journey::closer::{close_due_visits, ClosingRules};
    let app = TestApp::builder().spawn().await;
    let receiver = Receiver::start().await;
    app.sign_in("admin", "/").await;
    let id = register(&app, &receiver.url, &["journey.closed"]).await;
    let (shopper, bot) = (Uuid::new_v4(), Uuid::new_v4());
    sqlx::query(
        "INSERT INTO visits (visit_id, started_at, last_event_at, events, page_views, bot)
         VALUES ($1, now() - interval '2 hours', now() - interval '1 hour', 3, 3, false),
                ($2, now() - interval '2 hours', now() - interval '1 hour', 3, 3, true)",
    )
    .bind(shopper)
    .bind(bot)
    .execute(&app.pool)
    .await
    .unwrap();
    let rules = ClosingRules {
        idle: Duration::from_secs(60),
        sign_out_grace: Duration::from_secs(5),
        every: Duration::from_secs(1),
    };
    assert_eq!(close_due_visits(&app.pool, rules).await.unwrap(), 2);
    let deliverer = deliverer(&app, 20);
    deliver_until(&deliverer, "journey.closed", || !receiver.received().is_empty()).await;
    deliverer.deliver_due().await.unwrap();
    let received = receiver.received();
    assert_eq!(received.len(), 1, "the bot's visit sends nothing");
    let secret = endpoint(&app, id).await["secret"].as_str().unwrap().to_string();
    assert!(verified(&received[0], &secret));
    let body: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(body["type"], "journey.closed");
    assert_eq!(body["data"]["journey"]["visit_id"], shopper.to_string());
    assert_eq!(
        (body["data"]["journey"]["page_views"].as_i64(), body["data"]["journey"]["paid"].as_bool()),
        (Some(3), Some(false))
    );
    assert!(!body["data"]["journey"]["closed_at"].is_null());
}
