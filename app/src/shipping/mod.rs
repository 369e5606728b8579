//! Shipping zones and methods. A zone is a set of destination countries (each country in at most one zone) or
//! "everywhere else"; each zone offers methods: a flat rate, or a base plus a price per started kilogram, either
//! free from a threshold of the goods' total after discounts, each with a delivery estimate in business days.
//! Checkout offers the active methods of the address's zone, cheapest first; an address in no zone is told so
//! before any stock is taken. Shipping is taxed at the destination's standard rate (`orders::store`).
//!
//! The back office edits zones and methods at `/admin/shipping` (plain forms, [`views`]).

#[cfg(feature = "ssr")]
pub mod store;
pub mod views;

pub use views::{AdminShippingPage, AdminZonePage};

use crate::error::AppError;
use crate::money::{format_price, parse_price};
#[cfg(feature = "ssr")]
use crate::server_context as ctx;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A way to deliver an order, with its price rule and estimate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Method {
    /// 0: a new method.
    pub id: i64,
    pub zone_id: i64,
    pub name: String,
    pub currency: String,
    /// The flat price, or the base of a weight-based one.
    pub price_cents: i64,
    /// `Some`: each started kilogram of the order adds this.
    pub per_kg_cents: Option<i64>,
    /// Free when the goods come to at least this, after discounts.
    pub free_over_cents: Option<i64>,
    pub min_days: i32,
    pub max_days: i32,
    pub active: bool,
}

impl Method {
    /// What delivering goods worth `goods_cents` (after discounts) and weighing `weight_grams` costs.
    pub fn price(&self, goods_cents: i64, weight_grams: i64) -> i64 {
        if self.free_over_cents.is_some_and(|threshold| goods_cents >= threshold) {
            return 0;
        }
        let started_kilograms = (weight_grams.max(0) + 999) / 1000;
        self.price_cents + self.per_kg_cents.map_or(0, |per_kg| per_kg * started_kilograms)
    }

    /// "2–3 business days".
    pub fn estimate(&self) -> String {
        estimate(self.min_days, self.max_days)
    }

    /// The price rule in words, for the back office: "€7.90 + €1.50 per started kg, free from €100.00".
    pub fn describe(&self) -> String {
        let price = |cents: i64| format_price(cents, &self.currency);
        let mut rule = match self.per_kg_cents {
            Some(per_kg) => format!("{} + {} per started kg", price(self.price_cents), price(per_kg)),
            None if self.price_cents == 0 => "free".to_string(),
            None => price(self.price_cents),
        };
        if let Some(threshold) = self.free_over_cents {
            rule.push_str(&format!(", free from {}", price(threshold)));
        }
        rule
    }
}

/// A delivery estimate in words: "Same business day", "1 business day", "2–3 business days".
pub fn estimate(min_days: i32, max_days: i32) -> String {
    match (min_days, max_days) {
        (0, 0) => "Same business day".into(),
        (min, max) if min == max => format!("{min} business day{}", if min == 1 { "" } else { "s" }),
        (min, max) => format!("{min}–{max} business days"),
    }
}

/// A zone with its countries and methods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    /// 0: a new zone.
    pub id: i64,
    pub name: String,
    /// The countries no other zone names (its own list is then empty).
    pub everywhere_else: bool,
    /// ISO 3166-1 alpha-2 codes, sorted.
    pub countries: Vec<String>,
    pub methods: Vec<Method>,
}

/// What a shopper is told when no method delivers to their country.
pub fn outside_every_zone(country: &str, destinations: &[String]) -> String {
    if destinations.is_empty() {
        return format!("Sorry, we do not deliver to {country}: this shop has no delivery methods yet.");
    }
    format!(
        "Sorry, we do not deliver to {country}. We deliver to {}: change the country of your address to one of them.",
        destinations.join(", ")
    )
}

/// A zone as the back office's form sends it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneForm {
    #[serde(default)]
    pub id: i64,
    pub name: String,
    /// Two-letter codes separated by commas or spaces.
    #[serde(default)]
    pub countries: String,
    #[serde(default)]
    pub everywhere_else: Option<String>,
}

impl ZoneForm {
    /// Checks the form into a zone (without methods); every problem is named at once.
    pub fn parse(&self) -> Result<Zone, AppError> {
        let mut problems = Vec::new();
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 80 {
            problems.push("a name of 1 to 80 characters".to_string());
        }
        let mut countries = Vec::new();
        for raw in self.countries.split([',', ' ', ';', '\n']).map(str::trim).filter(|raw| !raw.is_empty()) {
            let code = raw.to_ascii_uppercase();
            if code.len() == 2 && code.chars().all(|c| c.is_ascii_uppercase()) {
                countries.push(code);
            } else {
                problems.push(format!("two-letter country codes (not “{}”)", raw.chars().take(20).collect::<String>()));
            }
        }
        countries.sort();
        countries.dedup();
        let everywhere_else = self.everywhere_else.is_some();
        if everywhere_else && !countries.is_empty() {
            problems.push("no countries for the zone of everywhere else (it takes those no other zone names)".into());
        }
        if !everywhere_else && countries.is_empty() {
            problems.push("at least one country (or tick “everywhere else”)".into());
        }
        if countries.len() > 250 {
            problems.push("at most 250 countries".into());
        }
        if !problems.is_empty() {
            return Err(AppError::Invalid(format!("Please give {}.", problems.join(", "))));
        }
        Ok(Zone { id: self.id, name, everywhere_else, countries, methods: Vec::new() })
    }
}

/// A method as the back office's form sends it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodForm {
    #[serde(default)]
    pub id: i64,
    pub zone_id: i64,
    pub name: String,
    /// The flat price or the base, such as `4.90` (`0` for free).
    pub price: String,
    /// Blank: a flat rate.
    #[serde(default)]
    pub per_kg: String,
    /// Blank: never free.
    #[serde(default)]
    pub free_over: String,
    pub min_days: String,
    pub max_days: String,
    #[serde(default)]
    pub active: Option<String>,
}

impl MethodForm {
    /// Checks the form into a method; every problem is named at once.
    pub fn parse(&self, currency: &str) -> Result<Method, AppError> {
        let mut problems: Vec<&str> = Vec::new();
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 80 {
            problems.push("a name of 1 to 80 characters");
        }
        let mut amount = |raw: &str, what: &'static str, least: i64| match raw.trim() {
            "" => None,
            raw => match parse_price(raw).filter(|cents| (least..=100_000_000).contains(cents)) {
                Some(cents) => Some(cents),
                None => {
                    problems.push(what);
                    None
                }
            },
        };
        let price_cents = amount(&self.price, "a price from 0 to 1,000,000.00 (0: free)", 0);
        let per_kg_cents = amount(&self.per_kg, "a price per kilogram from 0 to 1,000,000.00 (or none)", 0);
        let free_over_cents = amount(&self.free_over, "a free-delivery threshold from 0.01 (or none)", 1);
        if self.price.trim().is_empty() {
            problems.push("a price (0: free)");
        }
        let days = |raw: &str| raw.trim().parse::<i32>().ok().filter(|days| (0..=90).contains(days));
        let (min_days, max_days) = match (days(&self.min_days), days(&self.max_days)) {
            (Some(min), Some(max)) if min <= max => (min, max),
            _ => {
                problems.push("the fewest and most business days to deliver, from 0 to 90, the fewest first");
                (0, 0)
            }
        };
        if !problems.is_empty() {
            return Err(AppError::Invalid(format!("Please give {}.", problems.join(", "))));
        }
        Ok(Method {
            id: self.id,
            zone_id: self.zone_id,
            name,
            currency: currency.to_string(),
            price_cents: price_cents.unwrap_or(0),
            per_kg_cents,
            free_over_cents,
            min_days,
            max_days,
            active: self.active.is_some(),
        })
    }
}

/// Every zone with its countries and methods.
#[server(endpoint = "admin_shipping")]
pub async fn admin_shipping() -> Result<Vec<Zone>, AppError> {
    ctx::require_admin().await?;
    Ok(store::zones(&ctx::pool()?).await?)
}

/// One zone (`0`: a new one, `None`).
#[server(endpoint = "admin_shipping_zone")]
pub async fn admin_zone(id: i64) -> Result<Option<Zone>, AppError> {
    ctx::require_admin().await?;
    if id == 0 {
        return Ok(None);
    }
    let zones = store::zones(&ctx::pool()?).await?;
    zones.into_iter().find(|zone| zone.id == id).map(Some).ok_or(AppError::NotFound)
}

/// Creates or saves a zone (a plain form; on to the zone's page).
#[server(endpoint = "admin_save_zone")]
pub async fn save_zone(form: ZoneForm) -> Result<(), AppError> {
    ctx::require_admin().await?;
    let zone = form.parse()?;
    let id = store::save_zone(&ctx::pool()?, &zone).await?;
    leptos_axum::redirect(&format!("/admin/shipping/{id}?saved=1"));
    Ok(())
}

/// Deletes a zone and its methods (placed orders keep what they were charged); back to the list.
#[server(endpoint = "admin_delete_zone")]
pub async fn delete_zone(id: i64) -> Result<(), AppError> {
    ctx::require_admin().await?;
    store::delete_zone(&ctx::pool()?, id).await?;
    leptos_axum::redirect("/admin/shipping?deleted=1");
    Ok(())
}

/// Creates or saves a method (a plain form; back to its zone's page).
#[server(endpoint = "admin_save_method")]
pub async fn save_method(form: MethodForm) -> Result<(), AppError> {
    ctx::require_admin().await?;
    let method = form.parse("EUR")?;
    store::save_method(&ctx::pool()?, &method).await?;
    leptos_axum::redirect(&format!("/admin/shipping/{}?saved=1", method.zone_id));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn method(price_cents: i64, per_kg_cents: Option<i64>, free_over_cents: Option<i64>) -> Method {
        Method {
            id: 1,
            zone_id: 1,
            name: "Standard".into(),
            currency: "EUR".into(),
            price_cents,
            per_kg_cents,
            free_over_cents,
            min_days: 2,
            max_days: 3,
            active: true,
        }
    }

    #[test]
    fn a_flat_rate_costs_the_same_whatever_the_order() {
        let flat = method(490, None, None);
        assert_eq!([flat.price(100, 0), flat.price(1_000_000, 25_000)], [490, 490]);
    }

    #[test]
    fn free_delivery_starts_at_the_threshold_of_the_goods_after_discounts() {
        let standard = method(490, None, Some(5000));
        assert_eq!(standard.price(4999, 1000), 490);
        assert_eq!(standard.price(5000, 1000), 0, "at the threshold itself it is free");
        assert_eq!(standard.price(12_000, 1000), 0);
    }

    #[test]
    fn weight_based_rates_charge_each_started_kilogram() {
        let parcel = method(790, Some(150), None);
        assert_eq!(parcel.price(1000, 0), 790, "nothing weighed: the base");
        assert_eq!(parcel.price(1000, 1), 940, "one gram starts a kilogram");
        assert_eq!(parcel.price(1000, 1000), 940);
        assert_eq!(parcel.price(1000, 1001), 1090);
        assert_eq!(parcel.price(1000, 4200), 790 + 5 * 150);
        assert_eq!(method(790, Some(150), Some(10_000)).price(10_000, 9000), 0, "a threshold frees weight too");
    }

    #[test]
    fn estimates_read_as_a_shopper_expects() {
        assert_eq!(estimate(0, 0), "Same business day");
        assert_eq!(estimate(1, 1), "1 business day");
        assert_eq!(estimate(2, 3), "2–3 business days");
        assert_eq!(method(790, Some(150), Some(10_000)).describe(), "€7.90 + €1.50 per started kg, free from €100.00");
        assert_eq!(method(0, None, None).describe(), "free");
    }

    #[test]
    fn the_zone_form_reads_countries_in_any_case_and_names_every_problem() {
        let form = ZoneForm { name: " Benelux ".into(), countries: "nl, BE lu,be".into(), ..ZoneForm::default() };
        let zone = form.parse().unwrap();
        assert_eq!((zone.name.as_str(), zone.countries), ("Benelux", vec!["BE".into(), "LU".into(), "NL".into()]));
        let bad = ZoneForm { name: String::new(), countries: "Germany, D3".into(), ..ZoneForm::default() };
        let error = bad.parse().unwrap_err().to_string();
        assert!(error.contains("a name") && error.contains("“Germany”") && error.contains("“D3”"), "{error}");
        let both = ZoneForm { name: "Rest".into(), countries: "FR".into(), everywhere_else: Some("on".into()), id: 0 };
        assert!(both.parse().is_err());
        let neither = ZoneForm { name: "Rest".into(), ..ZoneForm::default() };
        assert!(neither.parse().is_err());
    }

    #[test]
    fn the_method_form_checks_prices_and_days() {
        let form = MethodForm {
            zone_id: 3,
            name: "Parcel".into(),
            price: "7.90".into(),
            per_kg: "1.5".into(),
            free_over: "100".into(),
            min_days: "3".into(),
            max_days: "6".into(),
            active: Some("on".into()),
            ..MethodForm::default()
        };
        assert_eq!(
            form.parse("EUR").unwrap(),
            Method { id: 0, zone_id: 3, name: "Parcel".into(), ..method(790, Some(150), Some(10_000)) }.with_days(3, 6)
        );
        let bad = MethodForm { price: "-1".into(), min_days: "5".into(), max_days: "2".into(), ..form.clone() };
        let error = bad.parse("EUR").unwrap_err().to_string();
        assert!(error.contains("a price from 0") && error.contains("business days"), "{error}");
        let free = MethodForm { price: "0".into(), free_over: "0".into(), ..form };
        assert!(free.parse("EUR").unwrap_err().to_string().contains("threshold"));
    }

    impl Method {
        fn with_days(self, min_days: i32, max_days: i32) -> Self {
            Self { min_days, max_days, ..self }
        }
    }
}
