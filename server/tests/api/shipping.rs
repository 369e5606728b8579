//! Shipping zones and methods against the real app: checkout's delivery step offers the address's zone's methods
//! with their prices, estimates and totals; the chosen one is a line of the order, taxed at the destination's
//! standard rate; free from a threshold; by weight; an address outside every zone is told so before anything is
//! taken; the back office edits zones and methods; a placed order keeps what it was charged.

use crate::helpers::{shopper::SUCCEEDS, TestApp};
use reqwest::StatusCode;
use uuid::Uuid;

/// A demo method's id, by zone and name.
async fn method(app: &TestApp, zone: &str, name: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT m.id FROM shipping_methods m JOIN shipping_zones z ON z.id = m.zone_id WHERE z.name = $1 AND m.name = $2",
    )
    .bind(zone)
    .bind(name)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// The order's delivery as stored: (method, cents, tax rate, tax).
async fn delivery(app: &TestApp, order: &str) -> (Option<String>, Option<i64>, Option<i32>, Option<i64>) {
    sqlx::query_as(
        "SELECT shipping_method, shipping_cents, shipping_tax_rate_bp, shipping_tax_cents FROM orders WHERE id = $1::uuid",
    )
    .bind(order)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// Posts a GraphQL request with the browser's session.
async fn gql(app: &TestApp, query: &str) -> serde_json::Value {
    let request = app.client.post(app.url("/graphql")).json(&serde_json::json!({ "query": query }));
    request.send().await.unwrap().json().await.unwrap()
}

async fn page(app: &TestApp, path: &str) -> String {
    app.client.get(app.url(path)).send().await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn the_delivery_step_offers_the_zones_methods_and_checkout_charges_the_chosen_one_with_its_tax() {
    let app = TestApp::builder().spawn().await;
    let visit = app.visit().await;
    app.sign_in("deliver-me", "/").await;
    let (notebook, price, _) = app.product("dot-grid-notebook-a5").await; // €19.00
    assert_eq!(app.add_to_cart(notebook, 1).await.status(), StatusCode::OK);
    assert_eq!(app.give_address("de").await.status(), StatusCode::OK);

    // Germany's three methods, cheapest first, each with its estimate and what the order then comes to.
    let step = page(&app, "/checkout/delivery").await;
    let offered: Vec<usize> = ["Click &amp; collect in Berlin", "Standard delivery", "Express"]
        .iter()
        .map(|name| step.find(name).unwrap_or_else(|| panic!("{name} is not offered: {step}")))
        .collect();
    assert!(offered.windows(2).all(|pair| pair[0] < pair[1]), "cheapest first");
    for shown in ["2–3 business days", "€4.90", "Order total €23.90 (incl. VAT €3.81)", "Order total €31.90"]
    {
        assert!(step.contains(shown), "{shown}: {step}");
    }

    // Standard delivery below its €50 threshold: €4.90 on the total, its VAT (19 % of it included) with the lines'.
    let standard = method(&app, "Germany", "Standard delivery").await;
    let order = app.checkout_with(&[("shipping_method", &standard.to_string())]).await;
    assert_eq!(order.status(), StatusCode::OK);
    let order: String = order.json().await.unwrap();
    assert_eq!(app.order_total(&order).await, price + 490);
    assert_eq!(delivery(&app, &order).await, (Some("Standard delivery".into()), Some(490), Some(1900), Some(78)));
    let placed = page(&app, &format!("/orders/{order}")).await;
    assert!(placed.contains("Standard delivery · 2–3 business days") && placed.contains("€4.90"), "{placed}");
    assert!(placed.contains("incl. VAT 19 %") && placed.contains("€3.81"), "303 + 78 cents of VAT: {placed}");

    // It is paid like any order, the delivery included; the method's later price change alters nothing.
    assert_eq!(app.pay(&order, SUCCEEDS, &Uuid::new_v4().to_string()).await.status(), StatusCode::OK);
    assert_eq!(app.payment_amount(&order, "succeeded").await, price + 490);
    sqlx::query("UPDATE shipping_methods SET price_cents = 990 WHERE id = $1")
        .bind(standard)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(delivery(&app, &order).await.1, Some(490));
    assert_eq!(app.order_total(&order).await, price + 490);

    // The clickstream has the tax shown for the destination and the delivery chosen.
    let events: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT payload->>'type', payload->>'country', payload->>'method' FROM clickstream_outbox
         WHERE visit_id = $1::uuid AND payload->>'type' IN ('tax_shown', 'shipping_selected') ORDER BY id",
    )
    .bind(&visit)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        events,
        [
            ("tax_shown".into(), Some("DE".into()), None),
            ("shipping_selected".into(), None, Some("Standard delivery".into())),
        ]
    );
}

#[tokio::test]
async fn free_delivery_starts_at_the_threshold_and_weight_based_rates_add_each_started_kilogram() {
    let app = TestApp::builder().spawn().await;
    let standard_de = method(&app, "Germany", "Standard delivery").await;
    let standard_eu = method(&app, "Europe", "Standard delivery").await;
    let (stove, stove_price, _) = app.product("ember-camp-stove").await; // €59.00, 1.6 kg
    let (towels, towels_price, _) = app.product("linen-tea-towels").await; // €19.00, 0.9 kg (kitchen)

    // Germany: €59.00 of goods is over the €50 threshold: standard delivery is free.
    let over = app.another_browser();
    over.sign_in("over-threshold", "/").await;
    assert_eq!(over.add_to_cart(stove, 1).await.status(), StatusCode::OK);
    let order: String =
        over.checkout_with(&[("shipping_method", &standard_de.to_string())]).await.json().await.unwrap();
    assert_eq!(app.order_total(&order).await, stove_price);
    assert_eq!(delivery(&app, &order).await.1, Some(0));
    assert!(page(&over, &format!("/orders/{order}")).await.contains("Free"));

    // The rest of Europe: €6.90 and €1.00 for each started kilogram: 3 × 0.9 kg is 2.7 kg, three started.
    let europe = app.another_browser();
    europe.sign_in("by-weight", "/").await;
    assert_eq!(europe.add_to_cart(towels, 3).await.status(), StatusCode::OK);
    assert_eq!(europe.give_address("FR").await.status(), StatusCode::OK);
    let order: String =
        europe.call("checkout", &[("shipping_method", &standard_eu.to_string())]).await.json().await.unwrap();
    assert_eq!(app.order_total(&order).await, 3 * towels_price + 690 + 3 * 100);
    // France's standard 20 % is in the delivery's price: 990 × 20/120 = 165 cents.
    assert_eq!(delivery(&app, &order).await, (Some("Standard delivery".into()), Some(990), Some(2000), Some(165)));
}

#[tokio::test]
async fn an_address_outside_every_zone_is_told_where_the_shop_delivers_and_nothing_is_taken() {
    let app = TestApp::builder().spawn().await;
    app.sign_in("far-away", "/").await;
    let (pen, _, stock) = app.product("brass-fountain-pen").await;
    assert_eq!(app.add_to_cart(pen, 1).await.status(), StatusCode::OK);
    assert_eq!(app.give_address("AU").await.status(), StatusCode::OK);
    let step = page(&app, "/checkout/delivery").await;
    assert!(step.contains("Sorry, we do not deliver to AU. We deliver to AT, BE, CA, CH"), "{step}");
    assert!(!step.contains("Reserve and continue to payment"), "no way to check out from there");

    let refused = app.call("checkout", &[]).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("we do not deliver to AU"));
    assert_eq!(app.product("brass-fountain-pen").await.2, stock, "nothing reserved");
    let orders: i64 =
        sqlx::query_scalar("SELECT count(*) FROM orders WHERE status <> 'cart'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(orders, 0);

    // A method of another zone, one switched off, or a made-up one cannot be forced on Germany either.
    assert_eq!(app.give_address("DE").await.status(), StatusCode::OK);
    let express_eu = method(&app, "Europe", "Express").await;
    let express_de = method(&app, "Germany", "Express").await;
    sqlx::query("UPDATE shipping_methods SET active = false WHERE id = $1")
        .bind(express_de)
        .execute(&app.pool)
        .await
        .unwrap();
    for forced in [express_eu.to_string(), express_de.to_string(), "999999".into()] {
        let refused = app.call("checkout", &[("shipping_method", forced.as_str())]).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{forced}");
        assert!(refused.text().await.unwrap().contains("does not deliver to DE"));
    }
    let garbage = app.call("checkout", &[("shipping_method", "'; DROP TABLE shipping_methods; --")]).await;
    assert!(garbage.status().is_client_error(), "{}", garbage.status());

    // The same cart, to Germany with a method it offers: the order is placed and the pen reserved.
    let order: String = app.checkout().await.json().await.unwrap();
    assert_eq!(delivery(&app, &order).await.0.as_deref(), Some("Click & collect in Berlin"));
    assert_eq!(app.product("brass-fountain-pen").await.2, stock - 1);
}

#[tokio::test]
async fn with_prices_excluding_tax_the_delivery_is_taxed_on_top_like_the_goods() {
    let app = TestApp::builder().with_settings(|settings| settings.orders.prices_include_tax = false).spawn().await;
    app.sign_in("net-delivery", "/").await;
    let express = method(&app, "Germany", "Express").await;
    let (notebook, _, _) = app.product("dot-grid-notebook-a5").await; // €19.00, standard rate here
    assert_eq!(app.add_to_cart(notebook, 1).await.status(), StatusCode::OK);
    let order: String = app.checkout_with(&[("shipping_method", &express.to_string())]).await.json().await.unwrap();
    // 19 % of €19.00 is 361 cents; of €12.90, 245.1 → 245.
    assert_eq!(app.order_total(&order).await, 1900 + 1290 + 361 + 245);
    assert_eq!(delivery(&app, &order).await, (Some("Express".into()), Some(1290), Some(1900), Some(245)));
    let placed = page(&app, &format!("/orders/{order}")).await;
    assert!(placed.contains("VAT 19 %") && placed.contains("€6.06") && placed.contains("€37.96"), "{placed}");
}

#[tokio::test]
async fn an_admin_defines_zones_and_methods_and_checkout_offers_them() {
    let app = TestApp::builder().spawn().await;
    let admin = app.another_browser();
    admin.sign_in("admin", "/").await;
    let form = |fields: &[(&str, &str)]| -> Vec<(String, String)> {
        fields.iter().map(|(k, v)| (format!("form[{k}]"), v.to_string())).collect()
    };

    // A country already in a zone is refused by name; bad fields are named at once.
    let taken = admin
        .post_form("admin_save_zone", "/admin/shipping", &form(&[("name", "Oceania"), ("countries", "AU, nz, DE")]))
        .await;
    assert!(taken.as_ref().unwrap_err().contains("DE is in Germany"), "{taken:?}");
    let bad =
        admin.post_form("admin_save_zone", "/admin/shipping", &form(&[("name", ""), ("countries", "Australia")])).await;
    let bad = bad.unwrap_err();
    assert!(bad.contains("a name") && bad.contains("Australia"), "{bad}");
    let saved = admin
        .post_form("admin_save_zone", "/admin/shipping", &form(&[("name", "Oceania"), ("countries", "AU, nz")]))
        .await;
    let location = saved.unwrap();
    let zone: i64 = location.trim_start_matches("/admin/shipping/").split('?').next().unwrap().parse().unwrap();

    let method_form = |price: &str, min: &str, max: &str| {
        let zone = zone.to_string();
        form(&[
            ("zone_id", zone.as_str()),
            ("name", "Airmail"),
            ("price", price),
            ("per_kg", "4"),
            ("min_days", min),
            ("max_days", max),
            ("active", "on"),
        ])
    };
    let refused = admin.post_form("admin_save_method", &location, &method_form("-3", "9", "4")).await.unwrap_err();
    assert!(refused.contains("a price from 0") && refused.contains("business days"), "{refused}");
    assert_eq!(
        admin.post_form("admin_save_method", &location, &method_form("24.90", "6", "12")).await.as_deref(),
        Ok(format!("/admin/shipping/{zone}?saved=1").as_str())
    );
    let listed = page(&admin, "/admin/shipping").await;
    assert!(
        listed.contains("Oceania") && listed.contains("AU, NZ") && listed.contains("€24.90 + €4.00 per started kg"),
        "{listed}"
    );

    // A shopper in New Zealand is offered it: €24.90 and €4.00 for the pen's started kilogram.
    let shopper = app.another_browser();
    shopper.sign_in("kiwi", "/").await;
    let (pen, price, _) = app.product("brass-fountain-pen").await;
    assert_eq!(shopper.add_to_cart(pen, 1).await.status(), StatusCode::OK);
    assert_eq!(shopper.give_address("NZ").await.status(), StatusCode::OK);
    let step = page(&shopper, "/checkout/delivery").await;
    assert!(step.contains("Airmail") && step.contains("6–12 business days") && step.contains("€28.90"), "{step}");
    let order: String = shopper.call("checkout", &[]).await.json().await.unwrap();
    assert_eq!(app.order_total(&order).await, price + 2890);

    // Deleted, the zone is gone for the next shopper; the placed order keeps its delivery.
    assert_eq!(
        admin.post_form("admin_delete_zone", &location, &[("id".into(), zone.to_string())]).await.as_deref(),
        Ok("/admin/shipping?deleted=1")
    );
    assert_eq!(delivery(&app, &order).await.1, Some(2890));
    assert_eq!(shopper.add_to_cart(pen, 1).await.status(), StatusCode::OK);
    assert_eq!(shopper.give_address("NZ").await.status(), StatusCode::OK);
    assert!(page(&shopper, "/checkout/delivery").await.contains("we do not deliver to NZ"));

    // A shopper cannot open or post the back office's shipping.
    assert!(shopper.post_form("admin_save_zone", "/", &form(&[("name", "Mine"), ("countries", "NZ")])).await.is_err());
    let zones: i64 = sqlx::query_scalar("SELECT count(*) FROM shipping_zones WHERE name = 'Mine'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(zones, 0);
}

#[tokio::test]
async fn graphql_lists_the_delivery_methods_for_a_country_and_checks_out_with_one() {
    let app = TestApp::builder().spawn().await;
    app.sign_in("api-delivery", "/").await;
    let (stove, price, _) = app.product("ember-camp-stove").await;
    assert_eq!(app.add_to_cart(stove, 1).await.status(), StatusCode::OK);
    let methods = gql(&app, r#"{ deliveryMethods(country: "at") { id name cents minDays maxDays } }"#).await;
    let list = methods["data"]["deliveryMethods"].as_array().unwrap_or_else(|| panic!("{methods}"));
    let names: Vec<&str> = list.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Standard delivery", "Express"]);
    assert_eq!(list[0]["cents"], 690 + 2 * 100, "€6.90 and the stove's two started kilograms");
    let express = list[1]["id"].as_str().unwrap();
    let outside = gql(&app, r#"{ deliveryMethods(country: "AU") { id } }"#).await;
    assert!(outside["errors"][0]["message"].as_str().unwrap().contains("we do not deliver to AU"), "{outside}");

    let query = format!(
        r#"mutation {{ checkout(address: {{ name: "Api", line1: "Ring 1", line2: "", city: "Wien", postcode: "1010",
           country: "AT" }}, shippingMethod: "{express}") }}"#
    );
    let placed = gql(&app, &query).await;
    let order = placed["data"]["checkout"].as_str().unwrap_or_else(|| panic!("{placed}")).to_string();
    assert_eq!(app.order_total(&order).await, price + 1990);
    let read = gql(&app, &format!(r#"{{ order(id: "{order}") {{ shipping {{ method cents taxCents }} }} }}"#)).await;
    // Austria's 20 % is in the €19.90: 1990 × 20/120 = 331.7 → 332 cents.
    assert_eq!(
        read["data"]["order"]["shipping"],
        serde_json::json!({ "method": "Express", "cents": 1990, "taxCents": 332 })
    );
}
