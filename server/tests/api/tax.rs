//! Tax at checkout against the real app: each line at its destination's rate for its category, rounded per line,
//! kept when the rate changes, none outside every rate; prices including their tax (the default) or not.

use crate::helpers::{shopper::SUCCEEDS, TestApp};
use app::{
    cart::{
        store::{self as cart_store, Item},
        Owner,
    },
    orders::{store as order_store, ShippingAddress},
    promotions::{self, PromotionForm},
    tax::TaxLine,
};
use uuid::Uuid;

async fn set_category(app: &TestApp, slug: &str, category: &str) -> i64 {
    sqlx::query_scalar("UPDATE products SET tax_category = $2 WHERE slug = $1 RETURNING id")
        .bind(slug)
        .bind(category)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn to(country: &str) -> ShippingAddress {
    ShippingAddress::parse("Tax Payer", "1 Rate St", "", "Somewhere", "10115", country).unwrap()
}

/// Fills a new buyer's cart with (product, quantity) and checks out to `country`.
async fn order_to(app: &TestApp, buyer: &str, items: &[(i64, i32)], country: &str) -> (Uuid, Uuid) {
    let user = app.user(buyer).await;
    for (product_id, quantity) in items {
        let item = Item { product_id: *product_id, variant_id: None };
        cart_store::add(&app.pool, Owner::User(user), Uuid::new_v4(), item, *quantity).await.unwrap();
    }
    let order =
        order_store::checkout(&app.pool, user, &to(country), 0, &app.settings.orders.commerce()).await.unwrap().id;
    (user, order)
}

#[tokio::test]
async fn each_line_is_taxed_at_its_destinations_rate_rounded_per_line_and_kept_when_the_rate_changes() {
    let app = TestApp::builder().spawn().await;
    let notebook = set_category(&app, "dot-grid-notebook-a5", "reduced").await; // €19.00
    let envelopes = set_category(&app, "kraft-envelope-set", "zero").await; // €12.00
    let (poles, _, _) = app.product("kestrel-trekking-poles").await; // €74.00, standard
    let items = [(poles, 1), (notebook, 2), (envelopes, 1)];

    // Germany, prices including VAT: 19 % of €74.00 is 1181.5… → 1182 cents; 7 % of €38.00 is 248.6… → 249.
    let (buyer, order) = order_to(&app, "tax-de", &items, "DE").await;
    assert_eq!(app.order_total(order).await, 7400 + 3800 + 1200, "included tax leaves the total as it was");
    let lines: Vec<(i64, Option<i32>, Option<i64>)> = sqlx::query_as(
        "SELECT product_id, tax_rate_bp, tax_cents FROM order_lines WHERE order_id = $1 ORDER BY product_id",
    )
    .bind(order)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let mut expected =
        vec![(poles, Some(1900), Some(1182)), (notebook, Some(700), Some(249)), (envelopes, Some(0), Some(0))];
    expected.sort();
    assert_eq!(lines, expected);
    let detail = order_store::detail(&app.pool, Some(buyer), order).await.unwrap().unwrap();
    assert_eq!(detail.prices_include_tax, Some(true));
    let taxes = [
        TaxLine { rate_bp: 1900, tax_cents: 1182 },
        TaxLine { rate_bp: 700, tax_cents: 249 },
        TaxLine { rate_bp: 0, tax_cents: 0 },
    ];
    assert_eq!(detail.taxes, taxes);

    // Germany raises its standard rate: the placed order keeps its tax; the next one pays the new rate.
    sqlx::query("UPDATE tax_rates SET rate_bp = 2500 WHERE country = 'DE' AND category = 'standard'")
        .execute(&app.pool)
        .await
        .unwrap();
    let again = order_store::detail(&app.pool, Some(buyer), order).await.unwrap().unwrap();
    assert_eq!((again.taxes, again.summary.total_cents), (taxes.to_vec(), 12400));
    let (later_buyer, later) = order_to(&app, "tax-de-later", &[(poles, 1)], "DE").await;
    let later = order_store::detail(&app.pool, Some(later_buyer), later).await.unwrap().unwrap();
    assert_eq!(later.taxes, [TaxLine { rate_bp: 2500, tax_cents: 1480 }]);

    // France's reduced rate is 5.5 %; its delivery (the demo's European standard rate: €6.90 and €1.00 for the
    // notebook's started kilogram) is taxed at its standard 20 %: 790 × 20/120 = 131.7 → 132 cents.
    let (fr_buyer, fr) = order_to(&app, "tax-fr", &[(notebook, 1)], "FR").await;
    let fr = order_store::detail(&app.pool, Some(fr_buyer), fr).await.unwrap().unwrap();
    assert_eq!(fr.taxes, [TaxLine { rate_bp: 2000, tax_cents: 132 }, TaxLine { rate_bp: 550, tax_cents: 99 }]);
    assert_eq!(fr.summary.total_cents, 1900 + 790);
    // A country without rates pays none, on the goods or the delivery (€14.90 and €3.00 for each of the poles'
    // two started kilograms).
    let (us_buyer, us) = order_to(&app, "tax-us", &[(poles, 1)], "US").await;
    let us = order_store::detail(&app.pool, Some(us_buyer), us).await.unwrap().unwrap();
    assert_eq!((us.taxes, us.summary.total_cents), (vec![TaxLine { rate_bp: 0, tax_cents: 0 }], 7400 + 2090));
}

#[tokio::test]
async fn with_prices_excluding_tax_checkout_adds_it_after_discounts_and_the_charge_includes_it() {
    let app = TestApp::builder().with_settings(|settings| settings.orders.prices_include_tax = false).spawn().await;
    let shopper = app.another_browser();
    shopper.sign_in("net-prices", "/").await;
    let (poles, _, _) = app.product("kestrel-trekking-poles").await;
    assert_eq!(shopper.add_to_cart(poles, 1).await.status(), 200);
    let cart = shopper.client.get(app.url("/cart")).send().await.unwrap().text().await.unwrap();
    assert!(cart.contains("rate is added to your order"), "the cart says the tax comes on top");
    // The helper checks out to Germany: 19 % of €74.00 added.
    let order = shopper.checked_out().await;
    assert_eq!(app.order_totals(&order).await, (Some(7400), 7400 + 1406));
    let page = shopper.client.get(app.url(&format!("/orders/{order}"))).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("VAT 19 %") && page.contains("€14.06") && page.contains("€88.06"),
        "the order shows the tax line"
    );
    assert!(!page.contains("incl. VAT"));
    assert_eq!(shopper.pay(&order, SUCCEEDS, &Uuid::new_v4().to_string()).await.status(), 200);
    let charged = app.payment_amount(&order, "succeeded").await;
    assert_eq!(charged, 8806);

    // Tax is on what the line sold for: 10 % off leaves €66.60, whose 19 % is 1265.4 → 1265 cents.
    let tenth = PromotionForm {
        name: "Tenth".into(),
        code: "TENTH".into(),
        action: "percent_order".into(),
        amount: "10".into(),
        ..PromotionForm::default()
    };
    promotions::store::save(&app.pool, &tenth.parse("EUR").unwrap()).await.unwrap();
    assert_eq!(shopper.add_to_cart(poles, 1).await.status(), 200);
    let applied = shopper.post_form("cart_coupon", "/cart", &[("code".into(), "tenth".into())]).await;
    assert_eq!(applied.as_deref(), Ok("/cart"));
    let order = shopper.checked_out().await;
    assert_eq!(app.order_totals(&order).await, (Some(7400), 6660 + 1265));
}
