//! Shipping in parts: an admin ships some units of a paid order with a carrier and a tracking number, the shopper
//! sees each parcel, the order is fulfilled when everything has shipped, and no unit ships twice (also when two
//! admins ship at once, and whatever writes the rows).

use crate::helpers::{shopper::SUCCEEDS, TestApp};
use app::admin::{store as admin_store, Parcel};
use futures::future::join_all;
use uuid::Uuid;

/// The shipping form as an admin submits it: (variant, units) per line, the carrier and the tracking number.
fn parcel(order: &str, units: &[(i64, &str)], carrier: &str, tracking: &str) -> Vec<(String, String)> {
    let mut form = vec![
        ("order_id".to_string(), order.to_string()),
        ("carrier".into(), carrier.into()),
        ("tracking".into(), tracking.into()),
    ];
    for (i, (variant, quantity)) in units.iter().enumerate() {
        form.push((format!("lines[{i}][variant_id]"), variant.to_string()));
        form.push((format!("lines[{i}][quantity]"), quantity.to_string()));
    }
    form
}

async fn variant_of(app: &TestApp, order: &str, product: i64) -> i64 {
    sqlx::query_scalar("SELECT variant_id FROM order_lines WHERE order_id = $1::uuid AND product_id = $2")
        .bind(order)
        .bind(product)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admin_ships_a_paid_order_in_parts_and_it_is_fulfilled_when_everything_has_shipped() {
    let app = TestApp::builder().spawn().await;
    let admin = app.another_browser();
    admin.sign_in("admin", "/").await;
    let shopper = app.another_browser();
    shopper.sign_in("parcel-shopper", "/").await;
    let (towels, _, _) = app.product("linen-tea-towels").await;
    let (candle, _, _) = app.product("scented-soy-candle").await;
    assert_eq!(shopper.add_to_cart(towels, 3).await.status(), 200);
    assert_eq!(shopper.add_to_cart(candle, 1).await.status(), 200);
    let order = shopper.checked_out().await;
    let (towel_line, candle_line) = (variant_of(&app, &order, towels).await, variant_of(&app, &order, candle).await);
    let page = format!("/admin/orders/{order}");
    let ship = |units: &[(i64, &str)], carrier: &str, tracking: &str| parcel(&order, units, carrier, tracking);

    let unpaid = admin.post_form("admin/ship_order", &page, &ship(&[(towel_line, "1")], "", "")).await.unwrap_err();
    assert!(unpaid.contains("only paid orders can be shipped"), "{unpaid}");
    assert_eq!(shopper.pay(&order, SUCCEEDS, &Uuid::new_v4().to_string()).await.status(), 200);
    let forbidden = shopper.post_form("admin/ship_order", &page, &ship(&[(towel_line, "1")], "", "")).await;
    assert!(forbidden.unwrap_err().contains("Forbidden"));
    let too_many = admin.post_form("admin/ship_order", &page, &ship(&[(towel_line, "4")], "", "")).await.unwrap_err();
    assert!(too_many.contains("Only 3 of Linen Tea Towels are left to ship"), "{too_many}");
    let bad = ship(&[(towel_line, "two")], "DHL", "<script>");
    let refused = admin.post_form("admin/ship_order", &page, &bad).await.unwrap_err();
    assert!(refused.contains("a tracking number") && refused.contains("“two” is not one"), "{refused}");
    let nothing = admin.post_form("admin/ship_order", &page, &ship(&[(towel_line, "0")], "", "")).await.unwrap_err();
    assert!(nothing.contains("at least one unit"), "{nothing}");
    assert_eq!(app.order_status(&order).await, "paid", "nothing refused shipped anything");

    // The first parcel: two of the three towels.
    let first = admin
        .post_form(
            "admin/ship_order",
            &page,
            &ship(&[(towel_line, "2"), (candle_line, "0")], "DHL", "JD0146 0001 2345"),
        )
        .await;
    assert_eq!(first.as_deref(), Ok(format!("/admin/orders/{order}?shipped=paid").as_str()));
    assert_eq!(app.order_status(&order).await, "paid");
    let mine = shopper.client.get(app.url(&format!("/orders/{order}"))).send().await.unwrap().text().await.unwrap();
    assert!(
        mine.contains("Shipments") && mine.contains("DHL, tracking JD0146 0001 2345: 2 × Linen Tea Towels"),
        "{mine}"
    );
    let form = admin.client.get(app.url(&page)).send().await.unwrap().text().await.unwrap();
    assert!(form.contains("Linen Tea Towels (1 of 3 left)") && form.contains("Scented Soy Candle (1 of 1 left)"));

    // The rest, without tracking: fulfilled, and the history says who shipped it.
    let rest =
        admin.post_form("admin/ship_order", &page, &ship(&[(towel_line, "1"), (candle_line, "1")], "", "")).await;
    assert_eq!(rest.as_deref(), Ok(format!("/admin/orders/{order}?shipped=fulfilled").as_str()));
    assert_eq!(app.order_status(&order).await, "fulfilled");
    let note: String = sqlx::query_scalar(
        "SELECT note FROM order_status_history WHERE order_id = $1::uuid AND to_status = 'fulfilled'",
    )
    .bind(&order)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(note.starts_with("shipped by"), "{note}");
    let again = admin.post_form("admin/ship_order", &page, &ship(&[(candle_line, "1")], "", "")).await.unwrap_err();
    assert!(again.contains("only paid orders can be shipped"), "{again}");

    // Whatever writes the rows, a line never ships more than was ordered.
    let shipment = Uuid::new_v4();
    sqlx::query("INSERT INTO shipments (id, order_id) VALUES ($1, $2::uuid)")
        .bind(shipment)
        .bind(&order)
        .execute(&app.pool)
        .await
        .unwrap();
    let extra = sqlx::query(
        "INSERT INTO shipment_lines (shipment_id, order_id, variant_id, quantity) VALUES ($1, $2::uuid, $3, 1)",
    )
    .bind(shipment)
    .bind(&order)
    .bind(candle_line)
    .execute(&app.pool)
    .await;
    let constraint = extra.unwrap_err().as_database_error().and_then(|e| e.constraint().map(str::to_string));
    assert_eq!(constraint.as_deref(), Some("shipment_within_order"));
}

#[tokio::test]
async fn two_admins_shipping_what_is_left_at_once_ship_it_once() {
    let app = TestApp::builder().spawn().await;
    let order = app.pending_order("wool-beanie", 2).await;
    assert_eq!(app.pay(&order, SUCCEEDS, &Uuid::new_v4().to_string()).await.status(), 200);
    let admin = app.user("racing-admin").await;
    let id: Uuid = order.parse().unwrap();
    let everything = Parcel::everything();
    let results = join_all((0..2).map(|_| admin_store::ship(&app.pool, id, admin, "Admin", &everything))).await;
    assert_eq!(results.iter().filter(|result| result.is_ok()).count(), 1, "{results:?}");
    let shipped: i64 = sqlx::query_scalar("SELECT sum(quantity) FROM shipment_lines WHERE order_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(shipped, 2);
    assert_eq!(app.order_status(&order).await, "fulfilled");
}
