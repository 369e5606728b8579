//! What each message says: the order as it stands when the message is sent (read through `app::orders::store`),
//! rendered from the templates in `server/templates/email` — a plain-text part (`*.txt`) and an HTML part
//! (`*.html`, every value escaped) for each kind, sharing the order's summary (`_order.*`) and the HTML layout.

use app::{
    email::EmailKind,
    money::format_price,
    orders::{store, OrderDetail, OrderStatus},
};
use minijinja::{value::Serde, Environment};
use serde::Serialize;
use sqlx::PgPool;
use std::sync::OnceLock;
use uuid::Uuid;

const SHOP: &str = "Cartograph";

/// The templates, compiled once (they are part of the binary).
fn templates() -> &'static Environment<'static> {
    static TEMPLATES: OnceLock<Environment<'static>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let mut env = Environment::new();
        let sources = [
            ("_layout.html", include_str!("../../templates/email/_layout.html")),
            ("_order.html", include_str!("../../templates/email/_order.html")),
            ("_order.txt", include_str!("../../templates/email/_order.txt")),
            ("order_confirmation.txt", include_str!("../../templates/email/order_confirmation.txt")),
            ("order_confirmation.html", include_str!("../../templates/email/order_confirmation.html")),
            ("shipment.txt", include_str!("../../templates/email/shipment.txt")),
            ("shipment.html", include_str!("../../templates/email/shipment.html")),
            ("refund.txt", include_str!("../../templates/email/refund.txt")),
            ("refund.html", include_str!("../../templates/email/refund.html")),
            ("cancellation.txt", include_str!("../../templates/email/cancellation.txt")),
            ("cancellation.html", include_str!("../../templates/email/cancellation.html")),
        ];
        for (name, source) in sources {
            env.add_template(name, source).unwrap_or_else(|error| panic!("the email template {name}: {error}"));
        }
        env
    })
}

/// Everything a message can say, in words and formatted amounts.
#[derive(Debug, Clone, Serialize)]
pub struct Letter {
    pub subject: String,
    pub shop: &'static str,
    /// Who it is to, as the order's address names them.
    pub name: String,
    pub short_id: String,
    pub order_url: String,
    pub lines: Vec<Line>,
    pub discounts: Vec<Amount>,
    pub delivery: Option<Amount>,
    pub taxes: Vec<Amount>,
    pub prices_include_tax: bool,
    pub total: String,
    pub address: Vec<String>,
    /// A shipment's parcel.
    pub parcel: Option<Parcel>,
    /// A refund: what and where to.
    pub refund: Option<Refund>,
    /// A cancellation: its reason, and what is being refunded (none: nothing was charged).
    pub reason: Option<String>,
    pub refunding: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub quantity: i32,
    pub title: String,
    pub amount: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Amount {
    pub label: String,
    pub amount: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Parcel {
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    pub items: Vec<Line>,
    /// Units of the order had not shipped when this parcel left.
    pub rest_to_follow: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Refund {
    pub amount: String,
    pub card_last4: String,
}

fn amount(label: String, cents: i64, currency: &str) -> Amount {
    Amount { label, amount: format_price(cents, currency) }
}

/// The message `kind` about `order` (and the shipment or refund `about`), from the database as it is now; `None`
/// when what it is about is gone.
pub async fn letter(
    pool: &PgPool,
    kind: EmailKind,
    order: Uuid,
    about: Option<Uuid>,
    public_url: &str,
) -> Result<Option<Letter>, sqlx::Error> {
    let Some(detail) = store::detail(pool, None, order).await? else { return Ok(None) };
    let mut letter = summary(&detail, public_url);
    let short = letter.short_id.clone();
    let currency = detail.summary.currency.clone();
    match kind {
        EmailKind::OrderConfirmation => letter.subject = format!("Your order {short} is confirmed"),
        EmailKind::Shipment => {
            let Some(shipment) = about else { return Ok(None) };
            let Some(parcel) = parcel(pool, &detail, shipment).await? else { return Ok(None) };
            letter.subject = if parcel.rest_to_follow {
                format!("Part of your order {short} has shipped")
            } else {
                format!("Your order {short} has shipped")
            };
            letter.parcel = Some(parcel);
        }
        EmailKind::Refund => {
            let Some(refund) = about else { return Ok(None) };
            let Some(row) = sqlx::query!(
                "SELECT amount_cents, card_last4 FROM payments WHERE id = $1 AND order_id = $2 AND outcome = 'refunded'",
                refund,
                order
            )
            .fetch_optional(pool)
            .await?
            else {
                return Ok(None);
            };
            let refunded = format_price(row.amount_cents, &currency);
            letter.subject = format!("We refunded {refunded} for your order {short}");
            letter.refund = Some(Refund { amount: refunded, card_last4: row.card_last4.unwrap_or_default() });
        }
        EmailKind::Cancellation => {
            letter.subject = format!("Your order {short} is cancelled");
            letter.reason = detail
                .history
                .iter()
                .rev()
                .find(|change| change.to == OrderStatus::Cancelled)
                .and_then(|change| change.note.clone());
            let refunding: i64 = sqlx::query_scalar!(
                r#"SELECT COALESCE(sum(amount_cents), 0)::bigint AS "cents!" FROM payments
                   WHERE order_id = $1 AND outcome IN ('refunding', 'refunded')"#,
                order
            )
            .fetch_one(pool)
            .await?;
            letter.refunding = (refunding > 0).then(|| format_price(refunding, &currency));
        }
    }
    Ok(Some(letter))
}

/// The order's part of every message.
fn summary(detail: &OrderDetail, public_url: &str) -> Letter {
    let currency = detail.summary.currency.as_str();
    let id = detail.summary.id;
    let address = detail.address.as_ref();
    let name = address.map(|address| address.name.clone()).unwrap_or_else(|| "there".into());
    let address_lines = address
        .map(|a| {
            let mut lines = vec![a.name.clone(), a.line1.clone()];
            lines.extend(a.line2.clone());
            lines.push(format!("{} {}", a.postcode, a.city));
            lines.push(a.country.clone());
            lines
        })
        .unwrap_or_default();
    let delivery = detail.shipping.as_ref().map(|charge| {
        let cost = if charge.cents == 0 { "Free".to_string() } else { format_price(charge.cents, currency) };
        Amount { label: charge.title(), amount: cost }
    });
    Letter {
        subject: String::new(),
        shop: SHOP,
        name,
        short_id: id.to_string()[..8].to_string(),
        order_url: format!("{public_url}/orders/{id}"),
        lines: detail
            .lines
            .iter()
            .map(|line| Line {
                quantity: line.quantity,
                title: line.title(),
                amount: format_price(line.unit_price_cents * i64::from(line.quantity), currency),
            })
            .collect(),
        discounts: detail.discounts.iter().map(|d| amount(d.title(), d.amount_cents, currency)).collect(),
        delivery,
        taxes: detail
            .taxes
            .iter()
            .filter(|tax| tax.rate_bp > 0)
            .map(|tax| amount(tax.label(), tax.tax_cents, currency))
            .collect(),
        prices_include_tax: detail.prices_include_tax.unwrap_or(true),
        total: format_price(detail.summary.total_cents, currency),
        address: address_lines,
        parcel: None,
        refund: None,
        reason: None,
        refunding: None,
    }
}

/// A shipment's parcel: its carrier, tracking number and items, and whether units were still to ship when it left.
async fn parcel(pool: &PgPool, detail: &OrderDetail, shipment: Uuid) -> Result<Option<Parcel>, sqlx::Error> {
    let Some(row) = sqlx::query!(
        r#"
        SELECT s.carrier, s.tracking,
               (SELECT COALESCE(sum(sl.quantity), 0) FROM shipment_lines sl JOIN shipments earlier ON earlier.id = sl.shipment_id
                WHERE earlier.order_id = s.order_id AND (earlier.created_at, earlier.id) <= (s.created_at, s.id))::bigint
                   AS "shipped_so_far!"
        FROM shipments s WHERE s.id = $1 AND s.order_id = $2
        "#,
        shipment,
        detail.summary.id
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let units = sqlx::query!("SELECT variant_id, quantity FROM shipment_lines WHERE shipment_id = $1", shipment)
        .fetch_all(pool)
        .await?;
    let items = detail
        .lines
        .iter()
        .filter_map(|line| {
            let unit = units.iter().find(|unit| unit.variant_id == line.variant_id)?;
            Some(Line { quantity: unit.quantity, title: line.title(), amount: String::new() })
        })
        .collect();
    let ordered: i64 = detail.lines.iter().map(|line| i64::from(line.quantity)).sum();
    Ok(Some(Parcel {
        carrier: row.carrier,
        tracking: row.tracking,
        items,
        rest_to_follow: row.shipped_so_far < ordered,
    }))
}

/// The message's plain-text and HTML parts.
pub fn render(kind: EmailKind, letter: &Letter) -> Result<(String, String), minijinja::Error> {
    let env = templates();
    let text = env.get_template(&format!("{}.txt", kind.as_str()))?.render(Serde(letter))?;
    let html = env.get_template(&format!("{}.html", kind.as_str()))?.render(Serde(letter))?;
    Ok((text, html))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter() -> Letter {
        Letter {
            subject: "Your order 9b2f4c1e is confirmed".into(),
            shop: SHOP,
            name: "Sam <Shopper> & Co".into(),
            short_id: "9b2f4c1e".into(),
            order_url: "https://shop.example/orders/9b2f4c1e-0000-4000-8000-000000000000".into(),
            lines: vec![
                Line { quantity: 2, title: "Merino Base Layer (M · Sand)".into(), amount: "€158.00".into() },
                Line { quantity: 1, title: "Dot Grid Notebook A5".into(), amount: "€19.00".into() },
            ],
            discounts: vec![amount("Welcome: 10 % off a first order (WELCOME10)".into(), 1770, "EUR")],
            delivery: Some(amount("Standard delivery · 2–3 business days".into(), 490, "EUR")),
            taxes: vec![amount("VAT 19 %".into(), 2622, "EUR")],
            prices_include_tax: true,
            total: "€164.20".into(),
            address: vec!["Sam Shopper".into(), "1 Main St".into(), "10115 Berlin".into(), "DE".into()],
            parcel: None,
            refund: None,
            reason: None,
            refunding: None,
        }
    }

    #[test]
    fn the_confirmation_lists_the_order_in_both_parts_and_escapes_the_html() {
        let (text, html) = render(EmailKind::OrderConfirmation, &letter()).unwrap();
        for part in [&text, &html] {
            for expected in [
                "9b2f4c1e",
                "Merino Base Layer (M · Sand)",
                "€158.00",
                "Welcome: 10 % off a first order (WELCOME10)",
                "−€17.70",
                "Standard delivery · 2–3 business days",
                "€4.90",
                "incl. VAT 19 %",
                "€26.22",
                "€164.20",
                "10115 Berlin",
            ] {
                assert!(part.contains(expected), "{expected} missing from:\n{part}");
            }
        }
        assert!(text.contains("Hello Sam <Shopper> & Co,"), "the text part is plain text:\n{text}");
        assert!(text.contains("https://shop.example/orders/9b2f4c1e-0000-4000-8000-000000000000"), "{text}");
        // MiniJinja escapes `/` too: a browser reads the link as it was.
        assert!(
            html.contains(
                r#"<a href="https:&#x2f;&#x2f;shop.example&#x2f;orders&#x2f;9b2f4c1e-0000-4000-8000-000000000000""#
            ),
            "{html}"
        );
        assert!(html.contains("Hello Sam &lt;Shopper&gt; &amp; Co,") && !html.contains("<Shopper>"), "{html}");
        assert!(
            html.starts_with("<!DOCTYPE html>") && html.contains("<title>Your order 9b2f4c1e is confirmed</title>")
        );
    }

    #[test]
    fn tax_added_to_prices_comes_before_the_total() {
        let (text, _) =
            render(EmailKind::OrderConfirmation, &Letter { prices_include_tax: false, ..letter() }).unwrap();
        let (vat, total) = (text.find("VAT 19 %: €26.22").unwrap(), text.find("Total: €164.20").unwrap());
        assert!(vat < total && !text.contains("incl. VAT"), "{text}");
    }

    #[test]
    fn a_shipment_names_its_carrier_tracking_and_items_and_whether_more_follows() {
        let parcel = Parcel {
            carrier: Some("DHL".into()),
            tracking: Some("JD014600006281230".into()),
            items: vec![Line { quantity: 1, title: "Dot Grid Notebook A5".into(), amount: String::new() }],
            rest_to_follow: true,
        };
        let partial = Letter { parcel: Some(parcel.clone()), ..letter() };
        let (text, html) = render(EmailKind::Shipment, &partial).unwrap();
        for part in [&text, &html] {
            for expected in ["is on its way; the rest follows", "1 × Dot Grid Notebook A5", "DHL", "JD014600006281230"]
            {
                assert!(part.contains(expected), "{expected} missing from:\n{part}");
            }
        }
        let whole = Letter { parcel: Some(Parcel { rest_to_follow: false, carrier: None, ..parcel }), ..letter() };
        let (text, _) = render(EmailKind::Shipment, &whole).unwrap();
        assert!(text.contains("your order 9b2f4c1e is on its way.") && !text.contains("Carrier"), "{text}");
    }

    #[test]
    fn a_refund_and_a_cancellation_say_what_comes_back() {
        let refund =
            Letter { refund: Some(Refund { amount: "€19.00".into(), card_last4: "4242".into() }), ..letter() };
        let (text, html) = render(EmailKind::Refund, &refund).unwrap();
        for part in [&text, &html] {
            assert!(part.contains("refunded") && part.contains("€19.00") && part.contains("ending 4242"), "{part}");
        }
        let paid =
            Letter { reason: Some("cancelled by the shopper".into()), refunding: Some("€164.20".into()), ..letter() };
        let (text, html) = render(EmailKind::Cancellation, &paid).unwrap();
        for part in [&text, &html] {
            assert!(
                part.contains("is cancelled (cancelled by the shopper)")
                    && part.contains("€164.20 you paid is being refunded"),
                "{part}"
            );
        }
        let unpaid = Letter { refunding: None, ..letter() };
        let (text, _) = render(EmailKind::Cancellation, &unpaid).unwrap();
        assert!(text.contains("Nothing was charged."), "{text}");
    }
}
