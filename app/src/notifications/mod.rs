//! Notifications: catalog events (`catalog.v1`) and what they tell shoppers with the product in their cart, and admins.

#[cfg(feature = "ssr")]
pub mod store;
mod views;

pub use views::{NotificationBell, NotificationsPage};

#[cfg(feature = "ssr")]
use crate::server_context as ctx;
use crate::{error::AppError, money::format_price};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The version of [`CatalogEvent`]'s schema; consumers ignore fields they do not know.
pub const CATALOG_SCHEMA_VERSION: u32 = 1;

/// What happened to a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatalogChange {
    Created,
    Updated,
    Archived,
    Restored,
    Deleted,
}

/// A product as a catalog event shows it, before or after a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductState {
    pub slug: String,
    pub name: String,
    pub price_cents: i64,
    pub currency: String,
    pub stock: i32,
    pub archived: bool,
    /// The product's variants, archived ones included (absent from events written before variants existed).
    #[serde(default)]
    pub variants: Vec<VariantState>,
}

/// A variant as a catalog event shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantState {
    pub id: i64,
    pub sku: String,
    pub options: Vec<String>,
    /// `None`: the product's price.
    pub price_cents: Option<i64>,
    pub stock: i32,
    pub archived: bool,
}

/// One record of `catalog.v1` (key: the product id), written to the outbox with the change itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEvent {
    pub schema_version: u32,
    pub event_id: Uuid,
    pub change: CatalogChange,
    pub product_id: i64,
    pub occurred_at: DateTime<Utc>,
    /// The admin who made the change.
    pub actor: Option<Uuid>,
    pub before: Option<ProductState>,
    pub after: Option<ProductState>,
    /// For a deletion: the signed-in shoppers whose carts held the product (the lines go with it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cart_holders: Vec<Uuid>,
}

/// The kinds of notification, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    PriceDropped,
    BackInStock,
    Unavailable,
    CatalogChange,
    /// A signed-in shopper's cart, left unpaid, on their next visit (once per cart).
    CartReminder,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::PriceDropped => "price_dropped",
            NoticeKind::BackInStock => "back_in_stock",
            NoticeKind::Unavailable => "unavailable",
            NoticeKind::CatalogChange => "catalog_change",
            NoticeKind::CartReminder => "cart_reminder",
        }
    }
}

/// What the cart reminder says: how many items wait, and which.
pub fn cart_reminder(names: &[String], items: i64) -> String {
    let which = match names {
        [] => String::new(),
        [one] => format!(": {one}"),
        [first, rest @ ..] => format!(": {first} and {} more", rest.len()),
    };
    let items = if items == 1 { "1 item".to_string() } else { format!("{items} items") };
    format!("You left {items} in your cart{which}. They are still there when you are ready.")
}

/// What a shopper holding the product in their cart is told about an event, if anything.
///
/// One notice per event: "no longer available" outranks "price dropped", which outranks "back in stock". The
/// variant ids, when there are any, narrow who is told to those holding one of those variants (a size back in stock
/// concerns only those who chose that size).
pub fn shopper_notice(event: &CatalogEvent) -> Option<(NoticeKind, String, Vec<i64>)> {
    let name = |state: &ProductState| state.name.clone();
    match (&event.before, &event.after) {
        (Some(before), None) => Some((
            NoticeKind::Unavailable,
            format!("{} is no longer available and was removed from your cart.", name(before)),
            vec![],
        )),
        (Some(before), Some(after)) if after.archived && !before.archived => Some((
            NoticeKind::Unavailable,
            format!("{} is no longer available; it cannot be bought from your cart.", name(after)),
            vec![],
        )),
        // Edits to an archived product concern nobody's cart.
        (Some(_), Some(after)) if after.archived => None,
        (Some(before), Some(after)) if after.price_cents < before.price_cents && after.currency == before.currency => {
            Some((
                NoticeKind::PriceDropped,
                format!(
                    "Price dropped: {} is now {} (was {}).",
                    name(after),
                    format_price(after.price_cents, &after.currency),
                    format_price(before.price_cents, &before.currency)
                ),
                vec![],
            ))
        }
        (Some(before), Some(after)) => back_in_stock(before, after),
        _ => None,
    }
}

/// "Tent is back in stock." (the product had none) or "Base Layer is back in stock in M · Sand." (a size or colour
/// had none), with the variants restocked.
fn back_in_stock(before: &ProductState, after: &ProductState) -> Option<(NoticeKind, String, Vec<i64>)> {
    let restocked: Vec<&VariantState> = after
        .variants
        .iter()
        .filter(|variant| !variant.archived && variant.stock > 0)
        .filter(|variant| {
            before.variants.iter().find(|was| was.id == variant.id).is_some_and(|was| was.archived || was.stock == 0)
        })
        .collect();
    let ids = restocked.iter().map(|variant| variant.id).collect();
    let labels: Vec<String> = restocked
        .iter()
        .filter(|variant| !variant.options.is_empty())
        .map(|variant| crate::variants::variant_label(&variant.options))
        .collect();
    if !labels.is_empty() {
        let message = format!("{} is back in stock in {}.", after.name, labels.join(", "));
        return Some((NoticeKind::BackInStock, message, ids));
    }
    (before.stock == 0 && after.stock > 0)
        .then(|| (NoticeKind::BackInStock, format!("{} is back in stock.", after.name), ids))
}

/// The line the admins' feed shows for an event.
pub fn admin_notice(event: &CatalogEvent) -> String {
    let price = |s: &ProductState| format_price(s.price_cents, &s.currency);
    match (&event.before, &event.after) {
        (None, Some(after)) => format!("Created {} at {} with {} in stock.", after.name, price(after), after.stock),
        (Some(before), None) => format!("Deleted {}.", before.name),
        (Some(before), Some(after)) => {
            let mut changes = Vec::new();
            if before.name != after.name {
                changes.push(format!("renamed from {}", before.name));
            }
            if before.price_cents != after.price_cents || before.currency != after.currency {
                changes.push(format!("price {} → {}", price(before), price(after)));
            }
            if before.stock != after.stock {
                changes.push(format!("stock {} → {}", before.stock, after.stock));
            }
            match (before.archived, after.archived) {
                (false, true) => changes.push("archived".into()),
                (true, false) => changes.push("restored".into()),
                _ => {}
            }
            if changes.is_empty() {
                format!("Updated {} (details).", after.name)
            } else {
                format!("Updated {}: {}.", after.name, changes.join(", "))
            }
        }
        (None, None) => format!("Product {} changed.", event.product_id),
    }
}

/// A notification as the bell lists it. Its time comes written by the server, as RFC 3339 and as the shopper
/// reads it, so that the browser's bundle carries no date parsing or formatting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: i64,
    pub kind: String,
    pub message: String,
    /// Where the notification leads: the product it is about, or the cart.
    pub href: Option<String>,
    /// RFC 3339, in UTC.
    pub created_at: String,
    /// The same time as the bell shows it: `2026-12-06 23:32 UTC`.
    pub shown_at: String,
    pub read: bool,
}

impl Notification {
    /// A stored notification, with its time written both ways.
    pub fn new(
        id: i64,
        kind: String,
        message: String,
        product_slug: Option<String>,
        created_at: DateTime<Utc>,
        read: bool,
    ) -> Self {
        let href = match product_slug {
            Some(slug) => Some(format!("/product/{slug}")),
            None if kind == NoticeKind::CartReminder.as_str() => Some("/cart".to_string()),
            None => None,
        };
        Self {
            id,
            kind,
            message,
            href,
            created_at: created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            shown_at: created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            read,
        }
    }
}

/// The signed-in user's notifications, newest first, with the unread count.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbox {
    pub unread: i64,
    pub items: Vec<Notification>,
}

/// The signed-in user's latest notifications (empty when signed out: the bell is simply not shown).
#[server(endpoint = "notifications")]
pub async fn notifications() -> Result<Inbox, AppError> {
    let Some(user) = ctx::session_user().await? else { return Ok(Inbox::default()) };
    let pool = ctx::pool()?;
    Ok(store::inbox(&pool, user.id, 30).await?)
}

/// Marks one notification (or, with `id` 0, all of them) read; returns the new unread count.
#[server(endpoint = "mark_notifications_read")]
pub async fn mark_notifications_read(id: i64) -> Result<i64, AppError> {
    let user = ctx::require_user().await?;
    if id < 0 {
        return Err(AppError::Invalid("Unknown notification.".into()));
    }
    let pool = ctx::pool()?;
    Ok(store::mark_read(&pool, user.id, (id > 0).then_some(id)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cart_reminder_says_how_many_items_wait_and_leads_to_the_cart() {
        let names = |list: &[&str]| list.iter().map(|name| name.to_string()).collect::<Vec<_>>();
        assert_eq!(
            cart_reminder(&names(&["Ridgeline 2 Tent"]), 1),
            "You left 1 item in your cart: Ridgeline 2 Tent. They are still there when you are ready."
        );
        assert!(cart_reminder(&names(&["Tent", "Stove", "Bottle"]), 4)
            .starts_with("You left 4 items in your cart: Tent and 2 more."));
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let reminder = Notification::new(1, "cart_reminder".into(), "m".into(), None, at, false);
        assert_eq!(reminder.href.as_deref(), Some("/cart"));
        let product = Notification::new(2, "price_dropped".into(), "m".into(), Some("tent".into()), at, false);
        assert_eq!(product.href.as_deref(), Some("/product/tent"));
        assert_eq!(Notification::new(3, "catalog_change".into(), "m".into(), None, at, false).href, None);
    }

    fn state(price_cents: i64, stock: i32, archived: bool) -> ProductState {
        let variants = vec![VariantState {
            id: 1,
            sku: "TENT".into(),
            options: vec![],
            price_cents: None,
            stock,
            archived: false,
        }];
        ProductState {
            slug: "tent".into(),
            name: "Tent".into(),
            price_cents,
            currency: "EUR".into(),
            stock,
            archived,
            variants,
        }
    }

    fn event(before: Option<ProductState>, after: Option<ProductState>) -> CatalogEvent {
        CatalogEvent {
            schema_version: CATALOG_SCHEMA_VERSION,
            event_id: Uuid::nil(),
            change: CatalogChange::Updated,
            product_id: 7,
            occurred_at: Utc::now(),
            actor: None,
            before,
            after,
            cart_holders: vec![],
        }
    }

    #[test]
    fn a_lower_price_tells_cart_holders_the_price_dropped() {
        let notice = shopper_notice(&event(Some(state(2000, 3, false)), Some(state(1500, 3, false)))).unwrap();
        assert_eq!(notice.0, NoticeKind::PriceDropped);
        assert_eq!(notice.1, "Price dropped: Tent is now €15.00 (was €20.00).");
    }

    #[test]
    fn restocking_an_empty_product_says_back_in_stock() {
        let notice = shopper_notice(&event(Some(state(2000, 0, false)), Some(state(2000, 4, false)))).unwrap();
        assert_eq!(notice, (NoticeKind::BackInStock, "Tent is back in stock.".to_string(), vec![1]));
    }

    #[test]
    fn a_size_back_in_stock_tells_only_its_holders() {
        let sized = |stocks: [i32; 3]| {
            let variants = ["S", "M", "L"]
                .into_iter()
                .zip(stocks)
                .enumerate()
                .map(|(i, (size, stock))| VariantState {
                    id: i as i64 + 1,
                    sku: format!("TEE-{size}"),
                    options: vec![size.into()],
                    price_cents: None,
                    stock,
                    archived: false,
                })
                .collect();
            ProductState { name: "Tee".into(), stock: stocks.iter().sum(), variants, ..state(2000, 0, false) }
        };
        let notice = shopper_notice(&event(Some(sized([2, 0, 0])), Some(sized([2, 3, 0])))).unwrap();
        assert_eq!(notice, (NoticeKind::BackInStock, "Tee is back in stock in M.".to_string(), vec![2]));
        let both = shopper_notice(&event(Some(sized([0, 0, 0])), Some(sized([0, 3, 1])))).unwrap();
        assert_eq!((both.1.as_str(), both.2), ("Tee is back in stock in M, L.", vec![2, 3]));
        assert_eq!(shopper_notice(&event(Some(sized([2, 1, 0])), Some(sized([5, 1, 0])))), None);
    }

    #[test]
    fn archiving_or_deleting_says_no_longer_available() {
        let archived = shopper_notice(&event(Some(state(2000, 3, false)), Some(state(1000, 3, true)))).unwrap();
        assert_eq!(archived.0, NoticeKind::Unavailable, "unavailable outranks a price drop");
        let deleted = shopper_notice(&event(Some(state(2000, 3, false)), None)).unwrap();
        assert_eq!(deleted.0, NoticeKind::Unavailable);
    }

    #[test]
    fn price_rises_and_other_edits_tell_shoppers_nothing() {
        assert_eq!(shopper_notice(&event(Some(state(2000, 3, false)), Some(state(2500, 3, false)))), None);
        assert_eq!(shopper_notice(&event(Some(state(2000, 3, false)), Some(state(2000, 1, false)))), None);
        assert_eq!(shopper_notice(&event(None, Some(state(2000, 3, false)))), None);
        assert_eq!(shopper_notice(&event(Some(state(2000, 3, true)), Some(state(1000, 3, true)))), None);
    }

    #[test]
    fn the_admin_feed_names_every_change() {
        let line = admin_notice(&event(Some(state(2000, 0, false)), Some(state(1500, 4, true))));
        assert_eq!(line, "Updated Tent: price €20.00 → €15.00, stock 0 → 4, archived.");
        assert_eq!(admin_notice(&event(None, Some(state(999, 2, false)))), "Created Tent at €9.99 with 2 in stock.");
        assert_eq!(admin_notice(&event(Some(state(999, 2, false)), None)), "Deleted Tent.");
    }

    #[test]
    fn events_round_trip_and_tolerate_unknown_fields() {
        let original = event(Some(state(2000, 3, false)), Some(state(1500, 3, false)));
        let mut json = serde_json::to_value(&original).unwrap();
        json["added_in_a_later_version"] = serde_json::json!(true);
        let decoded: CatalogEvent = serde_json::from_value(json).unwrap();
        assert_eq!(decoded, original);
    }
}
