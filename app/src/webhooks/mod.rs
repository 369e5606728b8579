//! Signed webhooks: an admin registers an endpoint (an `https://` URL) for some of the shop's events; every such
//! event is written as one delivery per endpoint in the same transaction as the change itself ([`store::enqueue`]),
//! and the worker posts it, signed with the endpoint's secret, retrying with backoff for a bounded time
//! (`cartograph::webhooks`). Every attempt is kept (status, latency, error); an endpoint that keeps failing is
//! turned off; an admin can replay any delivery.
//!
//! Where a delivery may go is one rule ([`TargetRules::check`]), checked when an admin registers the URL and
//! again on every attempt against the addresses the name resolves to then: `https://` only in production,
//! loopback on a developer's machine only, and never a private, link-local or otherwise internal address unless
//! the operator allows it (`CARTOGRAPH_WEBHOOK_ALLOW_PRIVATE`).

#[cfg(feature = "ssr")]
pub mod store;
mod views;

pub use views::{AdminWebhookPage, AdminWebhooksPage};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_context as ctx;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use uuid::Uuid;

/// The most endpoints a shop keeps.
pub const MAX_ENDPOINTS: i64 = 50;
/// Deliveries an endpoint's page lists.
pub const DELIVERIES_SHOWN: i64 = 50;

/// What happened, as a receiver sees it in `type` and in the `Cartograph-Event` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WebhookEvent {
    #[serde(rename = "product.created")]
    ProductCreated,
    /// Any edit, including archiving and restoring.
    #[serde(rename = "product.updated")]
    ProductUpdated,
    #[serde(rename = "product.deleted")]
    ProductDeleted,
    #[serde(rename = "order.paid")]
    OrderPaid,
    #[serde(rename = "order.fulfilled")]
    OrderFulfilled,
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    /// A visit ended (idle, or its shopper signed out) and its journey is stored.
    #[serde(rename = "journey.closed")]
    JourneyClosed,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 7] = [
        WebhookEvent::ProductCreated,
        WebhookEvent::ProductUpdated,
        WebhookEvent::ProductDeleted,
        WebhookEvent::OrderPaid,
        WebhookEvent::OrderFulfilled,
        WebhookEvent::OrderCancelled,
        WebhookEvent::JourneyClosed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::ProductCreated => "product.created",
            WebhookEvent::ProductUpdated => "product.updated",
            WebhookEvent::ProductDeleted => "product.deleted",
            WebhookEvent::OrderPaid => "order.paid",
            WebhookEvent::OrderFulfilled => "order.fulfilled",
            WebhookEvent::OrderCancelled => "order.cancelled",
            WebhookEvent::JourneyClosed => "journey.closed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == raw)
    }

    /// The event a catalog change sends.
    pub fn for_catalog(change: crate::notifications::CatalogChange) -> Self {
        use crate::notifications::CatalogChange;
        match change {
            CatalogChange::Created => WebhookEvent::ProductCreated,
            CatalogChange::Updated | CatalogChange::Archived | CatalogChange::Restored => WebhookEvent::ProductUpdated,
            CatalogChange::Deleted => WebhookEvent::ProductDeleted,
        }
    }
}

/// Where deliveries may go: set by the server from the mode and `CARTOGRAPH_WEBHOOK_ALLOW_PRIVATE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetRules {
    /// Production: `https://` only.
    pub https_only: bool,
    /// A developer's machine: 127.0.0.0/8 and ::1 are fine.
    pub allow_loopback: bool,
    /// The operator allows private, link-local and shared ranges (a receiver inside the network).
    pub allow_private: bool,
}

/// What kind of address a delivery would connect to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    Public,
    Loopback,
    /// Private (RFC 1918, fc00::/7), link-local (169.254/16, where cloud metadata lives; fe80::/10) or shared
    /// (100.64/10).
    Private,
    /// Never a receiver: unspecified, broadcast, multicast, documentation or reserved.
    Nowhere,
}

impl Reach {
    pub fn of(ip: IpAddr) -> Reach {
        match ip {
            IpAddr::V4(ip) => {
                let [a, b, ..] = ip.octets();
                if ip.is_loopback() {
                    Reach::Loopback
                } else if ip.is_unspecified()
                    || ip.is_broadcast()
                    || ip.is_multicast()
                    || ip.is_documentation()
                    || a == 0
                    || a >= 240
                {
                    Reach::Nowhere
                } else if ip.is_private() || ip.is_link_local() || (a == 100 && (64..128).contains(&b)) {
                    Reach::Private
                } else {
                    Reach::Public
                }
            }
            IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
                Some(v4) => Reach::of(IpAddr::V4(v4)),
                None if ip.is_loopback() => Reach::Loopback,
                None if ip.is_unspecified() || ip.is_multicast() || ip.segments()[..2] == [0x2001, 0xdb8] => {
                    Reach::Nowhere
                }
                None if ip.is_unique_local() || ip.is_unicast_link_local() => Reach::Private,
                None => Reach::Public,
            },
        }
    }
}

impl TargetRules {
    /// Whether a delivery may connect to `ip`; the reason if not.
    pub fn allows(self, ip: IpAddr) -> Result<(), String> {
        match Reach::of(ip) {
            Reach::Public => Ok(()),
            Reach::Loopback if self.allow_loopback || self.allow_private => Ok(()),
            Reach::Private if self.allow_private => Ok(()),
            Reach::Loopback | Reach::Private => {
                Err(format!("{ip} is an internal address (set CARTOGRAPH_WEBHOOK_ALLOW_PRIVATE=true to allow it)"))
            }
            Reach::Nowhere => Err(format!("{ip} cannot receive a webhook")),
        }
    }

    /// Checks a URL's form and, when its host is an address, the address; a name is checked on every attempt
    /// against what it resolves to. Returns the URL as it will be used.
    #[cfg(feature = "ssr")]
    pub fn check(self, raw: &str) -> Result<url::Url, String> {
        let raw = raw.trim();
        if raw.chars().count() > 2000 {
            return Err("A webhook URL has at most 2,000 characters.".into());
        }
        let url = url::Url::parse(raw).map_err(|error| format!("That is not a URL ({error})."))?;
        match url.scheme() {
            "https" => {}
            "http" if !self.https_only => {}
            "http" => return Err("Webhooks go to https:// URLs only.".into()),
            other => return Err(format!("Webhooks go to https:// URLs, not {other}:.")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("A webhook URL cannot carry a user name or password; the signature proves the sender.".into());
        }
        if url.fragment().is_some() {
            return Err("A webhook URL cannot have a #fragment.".into());
        }
        match url.host() {
            None => return Err("A webhook URL needs a host.".into()),
            Some(url::Host::Ipv4(ip)) => self.allows(IpAddr::V4(ip))?,
            Some(url::Host::Ipv6(ip)) => self.allows(IpAddr::V6(ip))?,
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if (name == "localhost" || name.ends_with(".localhost")) && !(self.allow_loopback || self.allow_private)
                {
                    return Err(format!(
                        "{name} is this machine (set CARTOGRAPH_WEBHOOK_ALLOW_PRIVATE=true to allow it)"
                    ));
                }
            }
        }
        Ok(url)
    }
}

/// An endpoint as the back office lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failures_in_a_row: i32,
    pub created_at: String,
    /// Deliveries waiting for their next attempt.
    pub pending: i64,
    /// Deliveries that gave up.
    pub failed: i64,
}

/// One attempt to deliver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: String,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
}

/// One event sent (or being sent) to an endpoint, with its attempts, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event: String,
    pub state: String,
    pub created_at: String,
    pub next_attempt_at: Option<String>,
    pub attempts: Vec<Attempt>,
}

/// An endpoint's page: the endpoint, its signing secret and its latest deliveries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointPage {
    pub endpoint: Endpoint,
    pub secret: String,
    pub deliveries: Vec<Delivery>,
}

/// The events an admin ticked, checked: at least one, each known, each once, in [`WebhookEvent::ALL`]'s order.
pub fn check_events<'a>(ticked: impl IntoIterator<Item = &'a str>) -> Result<Vec<WebhookEvent>, AppError> {
    let mut events = Vec::new();
    for raw in ticked {
        let event = WebhookEvent::parse(raw.trim())
            .ok_or_else(|| AppError::Invalid(format!("There is no webhook event called {raw:?}.")))?;
        events.push(event);
    }
    if events.is_empty() {
        return Err(AppError::Invalid("Choose at least one event to send.".into()));
    }
    events.sort_by_key(|event| WebhookEvent::ALL.iter().position(|e| e == event));
    events.dedup();
    Ok(events)
}

/// The description, checked: at most 200 characters, no control characters.
pub fn check_description(raw: &str) -> Result<String, AppError> {
    let description = raw.trim();
    if description.chars().count() > 200 || description.chars().any(crate::tracking::schema::is_forbidden_control) {
        return Err(AppError::Invalid("A description has at most 200 characters and no control characters.".into()));
    }
    Ok(description.to_string())
}

/// The shop's endpoints.
#[server(endpoint = "admin_webhooks")]
pub async fn admin_webhooks() -> Result<Vec<Endpoint>, AppError> {
    ctx::require_admin().await?;
    Ok(store::list(&ctx::pool()?).await?)
}

/// One endpoint with its secret and latest deliveries.
#[server(endpoint = "admin_webhook")]
pub async fn admin_webhook(id: Uuid) -> Result<EndpointPage, AppError> {
    ctx::require_admin().await?;
    store::page(&ctx::pool()?, id).await?.ok_or(AppError::NotFound)
}

/// Registers an endpoint (a plain form: `events[<name>]=on` for each ticked event); returns its id, and sends the
/// form's browser to the endpoint's page.
#[server(endpoint = "admin_webhook_create")]
pub async fn register_webhook(
    url: String,
    description: String,
    events: Option<std::collections::BTreeMap<String, String>>,
) -> Result<Uuid, AppError> {
    let admin = ctx::require_admin().await?;
    let rules = ctx::provided::<TargetRules>("webhook target rules")?;
    let url = rules.check(&url).map_err(AppError::Invalid)?;
    let description = check_description(&description)?;
    let events = check_events(events.iter().flat_map(|events| events.keys().map(String::as_str)))?;
    let id = store::create(&ctx::pool()?, admin.id, url.as_str(), &description, &events).await?;
    // The form's browser goes on to the new endpoint's page, where its secret is.
    leptos_axum::redirect(&format!("/admin/webhooks/{id}"));
    Ok(id)
}

/// Turns an endpoint on (its failure count starts again; its waiting deliveries go out) or off.
#[server(endpoint = "admin_webhook_enable")]
pub async fn set_webhook_enabled(id: Uuid, enabled: bool) -> Result<(), AppError> {
    ctx::require_admin().await?;
    store::set_enabled(&ctx::pool()?, id, enabled).await?.then_some(()).ok_or(AppError::NotFound)
}

/// Gives an endpoint a new signing secret, at once: the old one signs nothing more (a leaked secret, or a
/// receiver handed to someone else).
#[server(endpoint = "admin_webhook_rotate")]
pub async fn rotate_webhook_secret(id: Uuid) -> Result<(), AppError> {
    ctx::require_admin().await?;
    store::rotate_secret(&ctx::pool()?, id).await?.then_some(()).ok_or(AppError::NotFound)
}

/// Deletes an endpoint and its deliveries, and sends the form's browser back to the list.
#[server(endpoint = "admin_webhook_delete")]
pub async fn delete_webhook(id: Uuid) -> Result<(), AppError> {
    ctx::require_admin().await?;
    store::delete(&ctx::pool()?, id).await?.then_some(()).ok_or(AppError::NotFound)?;
    leptos_axum::redirect("/admin/webhooks");
    Ok(())
}

/// Sends a delivery again (a new round of attempts, same event id and body; a new signature and timestamp).
#[server(endpoint = "admin_webhook_replay")]
pub async fn replay_webhook(delivery: Uuid) -> Result<(), AppError> {
    ctx::require_admin().await?;
    store::replay(&ctx::pool()?, delivery).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: TargetRules = TargetRules { https_only: false, allow_loopback: true, allow_private: false };
    const PRODUCTION: TargetRules = TargetRules { https_only: true, allow_loopback: false, allow_private: false };

    #[test]
    fn every_internal_range_is_told_apart_from_the_internet() {
        let reach = |ip: &str| Reach::of(ip.parse().unwrap());
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "100.128.0.1", "172.32.0.1"] {
            assert_eq!(reach(public), Reach::Public, "{public}");
        }
        for loopback in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(reach(loopback), Reach::Loopback, "{loopback}");
        }
        for private in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert_eq!(reach(private), Reach::Private, "{private}");
        }
        for nowhere in
            ["0.0.0.0", "255.255.255.255", "224.0.0.1", "192.0.2.1", "240.0.0.1", "::", "ff02::1", "2001:db8::1"]
        {
            assert_eq!(reach(nowhere), Reach::Nowhere, "{nowhere}");
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_url_is_checked_by_the_rules_of_the_mode() {
        assert_eq!(
            PRODUCTION.check(" https://hooks.example.com/in?x=1 ").unwrap().as_str(),
            "https://hooks.example.com/in?x=1"
        );
        assert!(PRODUCTION.check("http://hooks.example.com/").unwrap_err().contains("https://"));
        assert!(DEV.check("http://127.0.0.1:4000/hook").is_ok());
        assert!(DEV.check("http://localhost:4000/hook").is_ok());
        assert!(PRODUCTION.check("https://127.0.0.1/hook").unwrap_err().contains("internal"));
        assert!(PRODUCTION.check("https://localhost/hook").unwrap_err().contains("this machine"));
        assert!(PRODUCTION.check("https://LOCALHOST./hook").unwrap_err().contains("this machine"));
        assert!(DEV.check("http://169.254.169.254/latest/meta-data").unwrap_err().contains("internal"));
        assert!(DEV.check("http://[::ffff:10.0.0.1]/").unwrap_err().contains("internal"));
        assert!(DEV.check("http://0.0.0.0:80/").unwrap_err().contains("cannot receive"));
        let inside = TargetRules { allow_private: true, ..PRODUCTION };
        assert!(inside.check("https://10.0.0.5/hook").is_ok());
        assert!(DEV.check("ftp://example.com/").unwrap_err().contains("ftp"));
        assert!(DEV.check("https://user:pw@example.com/").unwrap_err().contains("password"));
        assert!(DEV.check("https://example.com/#x").unwrap_err().contains("fragment"));
        assert!(DEV.check("not a url").unwrap_err().contains("not a URL"));
        assert!(DEV.check(&format!("https://example.com/{}", "a".repeat(2000))).is_err());
    }

    #[test]
    fn ticked_events_are_known_unique_and_in_order() {
        let events = check_events(["order.paid", "product.created", "order.paid"]).unwrap();
        assert_eq!(events, [WebhookEvent::ProductCreated, WebhookEvent::OrderPaid]);
        assert!(check_events([]).unwrap_err().to_string().contains("at least one"));
        assert!(check_events(["order.shipped"]).unwrap_err().to_string().contains("order.shipped"));
        for event in WebhookEvent::ALL {
            assert_eq!(serde_json::to_value(event).unwrap(), event.as_str());
            assert_eq!(WebhookEvent::parse(event.as_str()), Some(event));
        }
        assert!(check_description(&"x".repeat(201)).is_err());
        assert_eq!(check_description("  ERP  ").unwrap(), "ERP");
    }
}
