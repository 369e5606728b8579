//! `[orders]`: stock reservations and the shopper's caps.
//!
//! | key | environment variable | default |
//! |---|---|---|
//! | `reservation_minutes` | `CARTOGRAPH_RESERVATION_MINUTES` | 15 (at least 1) |
//! | `expiry_sweep_secs` | `CARTOGRAPH_EXPIRY_SWEEP_SECS` | 30 (at least 1) |
//! | `max_unpaid_orders` | `CARTOGRAPH_MAX_UNPAID_ORDERS` | 3 |
//! | `max_reserved_per_product` | `CARTOGRAPH_MAX_RESERVED_PER_PRODUCT` | 10 |
//! | `prices_include_tax` | `CARTOGRAPH_PRICES_INCLUDE_TAX` | true (catalog prices include VAT) |
//!
//! The defaults are [`CommerceSettings::default`]'s, which the app falls back on.

use super::values;
use app::orders::store::CommerceSettings;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrderSettings {
    /// How long checkout holds stock for an unpaid order.
    #[serde(rename = "reservation_minutes", with = "values::positive_minutes")]
    pub reservation: Duration,
    /// How often the web process expires lapsed reservations.
    #[serde(rename = "expiry_sweep_secs", with = "values::positive_secs")]
    pub expiry_sweep: Duration,
    /// The most orders one shopper may have awaiting payment at once…
    pub max_unpaid_orders: u32,
    /// …and the most units of one product those orders may hold.
    pub max_reserved_per_product: u32,
    /// Whether catalog prices include their tax, or checkout adds it.
    pub prices_include_tax: bool,
}

impl Default for OrderSettings {
    fn default() -> Self {
        let rules = CommerceSettings::default();
        Self {
            reservation: rules.reservation,
            expiry_sweep: Duration::from_secs(30),
            max_unpaid_orders: rules.max_unpaid_orders,
            max_reserved_per_product: rules.max_reserved_per_product,
            prices_include_tax: rules.prices_include_tax,
        }
    }
}

impl OrderSettings {
    /// The commerce rules server functions follow.
    pub fn commerce(&self) -> CommerceSettings {
        CommerceSettings {
            reservation: self.reservation,
            max_unpaid_orders: self.max_unpaid_orders,
            max_reserved_per_product: self.max_reserved_per_product,
            prices_include_tax: self.prices_include_tax,
        }
    }
}
