//! Transactional email against the real app, worker and a real SMTP server (maildev, a sink of the test's own):
//! the confirmation when an order is paid, a message per parcel, the cancellation and the refund, each once, with
//! its content in a plain-text and an HTML part; with the SMTP server stopped a message waits, retried with backoff,
//! and goes out once when the server is back.

use crate::helpers::{shopper::SUCCEEDS, smtp::SmtpSink, TestApp};
use serde_json::Value;
use std::time::Duration;
use uuid::Uuid;

async fn app_mailing_to(sink: &SmtpSink) -> TestApp {
    let url = sink.url();
    TestApp::builder()
        .with_settings(move |settings| {
            settings.email.smtp_url = Some(url.into());
            settings.email.retry_base = Duration::from_secs(1);
        })
        .with_worker()
        .spawn()
        .await
}

/// The messages' (kind, status, attempts) for an order, oldest first.
async fn emails(app: &TestApp, order: &str) -> Vec<(String, String, i32)> {
    sqlx::query_as("SELECT kind, status, attempts FROM emails WHERE order_id = $1::uuid ORDER BY id")
        .bind(order)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

fn text(message: &Value, part: &str) -> String {
    message[part].as_str().unwrap_or_else(|| panic!("no {part} part: {message}")).to_string()
}

fn recipient(message: &Value) -> &str {
    message["to"][0]["address"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_shipped_and_cancelled_order_each_send_their_message_once_with_their_content() {
    let sink = SmtpSink::start_private();
    let app = app_mailing_to(&sink).await;
    let shopper = app.another_browser();
    shopper.sign_in("mail-buyer", "/").await;
    let (notebook, _, _) = app.product("dot-grid-notebook-a5").await; // €19.00
    let (towels, _, _) = app.product("linen-tea-towels").await; // €19.00
    assert_eq!(shopper.add_to_cart(notebook, 1).await.status(), 200);
    assert_eq!(shopper.add_to_cart(towels, 2).await.status(), 200);
    let standard: i64 = sqlx::query_scalar(
        "SELECT m.id FROM shipping_methods m JOIN shipping_zones z ON z.id = m.zone_id
         WHERE z.name = 'Germany' AND m.name = 'Standard delivery'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let order: String =
        shopper.checkout_with(&[("shipping_method", &standard.to_string())]).await.json().await.unwrap();
    let short = &order[..8];
    assert!(emails(&app, &order).await.is_empty(), "an order awaiting payment writes nobody");
    assert_eq!(shopper.pay(&order, SUCCEEDS, &Uuid::new_v4().to_string()).await.status(), 200);

    // The confirmation: both parts list the order, its delivery (free over €50) and its VAT.
    let confirmation = sink.wait_for(1).await.remove(0);
    assert_eq!(confirmation["subject"], format!("Your order {short} is confirmed"));
    assert_eq!(recipient(&confirmation), "mail-buyer@cartograph.test");
    assert_eq!(confirmation["from"][0]["address"], "shop@cartograph.test");
    for part in ["text", "html"] {
        let body = text(&confirmation, part);
        for expected in [
            "1 × Dot Grid Notebook A5",
            "2 × Linen Tea Towels",
            "€38.00",
            "Standard delivery",
            "Free",
            "€57.00",
            "incl. VAT 19 %",
            "Sam Shopper",
            "10115 Berlin",
        ] {
            assert!(body.contains(expected), "{part} lacks {expected}: {body}");
        }
    }
    let link = app.url(&format!("/orders/{order}"));
    assert!(text(&confirmation, "text").contains(&link), "the text part links to the order");

    // An admin ships the towels, then the notebook: a message per parcel, with its carrier and tracking number.
    let admin = app.another_browser();
    admin.sign_in("admin", "/").await;
    let line = |product: i64| {
        let (app, order) = (&app, &order);
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT variant_id FROM order_lines WHERE order_id = $1::uuid AND product_id = $2",
            )
            .bind(order)
            .bind(product)
            .fetch_one(&app.pool)
            .await
            .unwrap()
        }
    };
    let page = format!("/admin/orders/{order}");
    let ship = |variant: i64, quantity: &str, tracking: &str| {
        vec![
            ("order_id".to_string(), order.clone()),
            ("carrier".into(), "DHL".into()),
            ("tracking".into(), tracking.into()),
            ("lines[0][variant_id]".into(), variant.to_string()),
            ("lines[0][quantity]".into(), quantity.into()),
        ]
    };
    let towel_line = line(towels).await;
    admin.post_form("admin/ship_order", &page, &ship(towel_line, "2", "JD0146 0001")).await.unwrap();
    let parcel = sink.wait_for(2).await.remove(1);
    assert_eq!(parcel["subject"], format!("Part of your order {short} has shipped"));
    for part in ["text", "html"] {
        let body = text(&parcel, part);
        assert!(
            body.contains("2 × Linen Tea Towels") && body.contains("DHL") && body.contains("JD0146 0001"),
            "{body}"
        );
        assert!(!body.contains("Dot Grid Notebook"), "only what is in the parcel: {body}");
    }
    let notebook_line = line(notebook).await;
    admin.post_form("admin/ship_order", &page, &ship(notebook_line, "1", "JD0146 0002")).await.unwrap();
    let last = sink.wait_for(3).await.remove(2);
    assert_eq!(last["subject"], format!("Your order {short} has shipped"));

    // A second order, paid then cancelled by the shopper: the cancellation, then the refund the gateway confirmed.
    assert_eq!(shopper.add_to_cart(notebook, 1).await.status(), 200);
    let second: String = shopper.checkout().await.json().await.unwrap();
    assert_eq!(shopper.pay(&second, SUCCEEDS, &Uuid::new_v4().to_string()).await.status(), 200);
    assert_eq!(shopper.call("cancel_order", &[("order_id", &second)]).await.status(), 200);
    let messages = sink.wait_for(6).await;
    let subjects: Vec<&str> = messages[3..].iter().map(|m| m["subject"].as_str().unwrap()).collect();
    let short = &second[..8];
    assert!(subjects.contains(&format!("Your order {short} is confirmed").as_str()), "{subjects:?}");
    assert!(subjects.contains(&format!("Your order {short} is cancelled").as_str()), "{subjects:?}");
    assert!(subjects.contains(&format!("We refunded €19.00 for your order {short}").as_str()), "{subjects:?}");
    let refund = messages.iter().find(|m| m["subject"].as_str().unwrap().starts_with("We refunded")).unwrap();
    assert!(text(refund, "text").contains("card ending 4242"));
    let cancelled = messages.iter().find(|m| m["subject"].as_str().unwrap().ends_with("is cancelled")).unwrap();
    assert!(text(cancelled, "text").contains("cancelled by the shopper"), "{cancelled}");

    // Each once: nothing more arrives, and every row says sent after one attempt.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.messages().await.len(), 6);
    let sent = |kind: &str| (kind.to_string(), "sent".to_string(), 1);
    assert_eq!(emails(&app, &order).await, [sent("order_confirmation"), sent("shipment"), sent("shipment")]);
    assert_eq!(emails(&app, &second).await, [sent("order_confirmation"), sent("cancellation"), sent("refund")]);
    // The admin's order page lists them with where each stands.
    let page = admin.client.get(app.url(&format!("/admin/orders/{order}"))).send().await.unwrap().text().await.unwrap();
    let confirmed =
        format!("Your order {} is confirmed · to mail-buyer@cartograph.test · sent (1 attempt)", &order[..8]);
    assert!(page.contains("Emails to the shopper") && page.contains(&confirmed), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_smtp_server_down_a_message_waits_and_goes_out_once_when_it_is_back() {
    let sink = SmtpSink::start_private();
    let app = app_mailing_to(&sink).await;
    sink.stop();
    let shopper = app.another_browser();
    shopper.sign_in("patient-buyer", "/").await;
    let (notebook, _, _) = app.product("dot-grid-notebook-a5").await;
    assert_eq!(shopper.add_to_cart(notebook, 1).await.status(), 200);
    let order = shopper.checked_out().await;
    assert_eq!(shopper.pay(&order, SUCCEEDS, &Uuid::new_v4().to_string()).await.status(), 200);

    // Two attempts fail (the server refuses connections); the message waits with the error, retried with backoff.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let (attempts, error) = loop {
        let row: (i32, Option<String>, String) =
            sqlx::query_as("SELECT attempts, last_error, status FROM emails WHERE order_id = $1::uuid")
                .bind(&order)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(row.2, "pending", "a connection refused is worth another try");
        if row.0 >= 2 {
            break (row.0, row.1);
        }
        assert!(std::time::Instant::now() < deadline, "no attempt recorded: {row:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(attempts >= 2 && error.is_some(), "{attempts} {error:?}");

    // Back up: the message goes out once.
    sink.start();
    let messages = sink.wait_for(1).await;
    assert_eq!(messages[0]["subject"], format!("Your order {} is confirmed", &order[..8]));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.messages().await.len(), 1, "sent once");
    let (status, sent_after): (String, i32) =
        sqlx::query_as("SELECT status, attempts FROM emails WHERE order_id = $1::uuid")
            .bind(&order)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(status, "sent");
    assert!(sent_after > attempts, "{sent_after} attempts");

    // And the next order's confirmation goes out as usual.
    assert_eq!(shopper.add_to_cart(notebook, 1).await.status(), 200);
    let next = shopper.checked_out().await;
    assert_eq!(shopper.pay(&next, SUCCEEDS, &Uuid::new_v4().to_string()).await.status(), 200);
    let messages = sink.wait_for(2).await;
    assert_eq!(messages[1]["subject"], format!("Your order {} is confirmed", &next[..8]));
    assert_eq!(recipient(&messages[1]), "patient-buyer@cartograph.test");
}
