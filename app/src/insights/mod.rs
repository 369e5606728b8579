//! Insights for admins (`/admin/insights`): over a range of days, the funnel, the top paths, the pages where
//! shoppers struggle and their Web Vitals, the searches that find nothing or lead nowhere, how each slot of
//! recommendations did, and the carts left unpaid.
//!
//! Everything is read from aggregates the worker keeps as it stores each event ([`store::record`] and the visit
//! summary), in the event's own transaction; a page never scans the clickstream. Bots count in none of it. Each
//! number links to the visits behind it: the admin visit list, filtered ([`crate::journeys::VisitFilter`]).

pub mod paths;
#[cfg(feature = "ssr")]
pub mod store;
mod views;

pub use views::AdminInsightsPage;

use crate::error::AppError;
use crate::recommend::Slot;
#[cfg(feature = "ssr")]
use crate::server_context as ctx;
use chrono::NaiveDate;
use leptos::prelude::*;
pub use paths::{Flow, TopPath, PATH_PAGES};
use serde::{Deserialize, Serialize};

/// The longest range one page covers.
pub const MAX_DAYS: i64 = 366;
/// The range shown when none is asked for: the last seven days, today included.
pub const DEFAULT_DAYS: i64 = 7;
/// Rows per list.
pub const LIST_ROWS: i64 = 10;

/// The funnel's stages, in order (`visits.furthest_stage` numbers them from 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Browse,
    Product,
    Cart,
    Checkout,
    Paid,
}

impl Stage {
    pub const ALL: [Stage; 5] = [Stage::Browse, Stage::Product, Stage::Cart, Stage::Checkout, Stage::Paid];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Browse => "browse",
            Stage::Product => "product",
            Stage::Cart => "cart",
            Stage::Checkout => "checkout",
            Stage::Paid => "paid",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Stage::Browse => "Browsed",
            Stage::Product => "Viewed a product",
            Stage::Cart => "Added to cart",
            Stage::Checkout => "Began checkout",
            Stage::Paid => "Paid",
        }
    }

    pub fn parse(raw: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|stage| stage.as_str() == raw)
    }

    /// `visits.furthest_stage` of a visit that reached this stage and no further.
    pub fn number(self) -> i16 {
        Stage::ALL.iter().position(|stage| *stage == self).map_or(0, |at| at as i16 + 1)
    }
}

/// The days an insight covers, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DayRange {
    /// The range a page asked for (`YYYY-MM-DD`; an empty bound takes the default: the last seven days).
    pub fn parse(from: &str, to: &str, today: NaiveDate) -> Result<Self, AppError> {
        let day = |raw: &str, name: &str| {
            NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
                .map_err(|_| AppError::Invalid(format!("The {name} date must look like 2026-12-31.")))
        };
        let to = if to.trim().is_empty() { today } else { day(to, "end")? };
        let from =
            if from.trim().is_empty() { to - chrono::Days::new(DEFAULT_DAYS as u64 - 1) } else { day(from, "start")? };
        if from > to {
            return Err(AppError::Invalid("The start date is after the end date.".into()));
        }
        if (to - from).num_days() >= MAX_DAYS {
            return Err(AppError::Invalid(format!("A range covers at most {MAX_DAYS} days.")));
        }
        Ok(Self { from, to })
    }

    /// The first instant of the range and the first after it, in UTC.
    pub fn bounds(&self) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
        let start = |day: NaiveDate| day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        (start(self.from), start(self.to + chrono::Days::new(1)))
    }

    /// The range as a query string: `from=…&to=…`.
    pub fn query(&self) -> String {
        format!("from={}&to={}", self.from, self.to)
    }
}

/// How many visits reached each stage (a visit that paid also browsed, viewed a product…).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funnel {
    /// Visits per stage, in [`Stage::ALL`] order.
    pub reached: Vec<i64>,
}

impl Funnel {
    /// Of those who reached the stage before, the share who reached `stage` (the first stage: 100%).
    pub fn conversion_pct(&self, stage: usize) -> Option<f64> {
        match stage {
            0 => self.reached.first().map(|_| 100.0),
            n => {
                let before = *self.reached.get(n - 1)?;
                (before > 0).then(|| 100.0 * self.reached[n] as f64 / before as f64)
            }
        }
    }
}

/// Frustration signals on one page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageTrouble {
    pub page: String,
    pub page_views: i64,
    pub rage_clicks: i64,
    pub dead_clicks: i64,
    pub quick_backs: i64,
    pub errors: i64,
}

impl PageTrouble {
    pub fn total(&self) -> i64 {
        self.rage_clicks + self.dead_clicks + self.quick_backs + self.errors
    }
}

/// One page's Web Vitals at the 75th percentile of its page views (each the lower bound of its histogram
/// bucket: 50 ms for LCP and INP, 0.01 for CLS, in thousandths).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageVitals {
    pub page: String,
    pub lcp_ms: Option<i64>,
    pub cls_milli: Option<i64>,
    pub inp_ms: Option<i64>,
    /// Page views that measured any vital.
    pub samples: i64,
}

/// Google's thresholds for a good and a poor value of each vital.
pub fn rating(metric: &str, value: i64) -> &'static str {
    let (good, poor) = match metric {
        "lcp" => (2_500, 4_000),
        "cls" => (100, 250),
        _ => (200, 500),
    };
    if value <= good {
        "good"
    } else if value <= poor {
        "needs improvement"
    } else {
        "poor"
    }
}

/// A search query and how its searches went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchOutcome {
    pub query: String,
    pub searches: i64,
    /// Searches that found nothing, or (in the "no click" list) searches that found products and were followed
    /// by no product view.
    pub count: i64,
}

/// How a slot of recommendations did: how often it was shown and clicked, and the paid orders it led to (orders
/// holding a product the paying visit had opened from the slot, and what those lines cost).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotPerformance {
    pub slot: Slot,
    pub impressions: i64,
    pub clicks: i64,
    pub orders: i64,
    /// The attributed revenue per currency, in minor units.
    pub revenue: Vec<(String, i64)>,
}

impl SlotPerformance {
    /// Clicks per impression, in percent (`None` when the slot was never shown).
    pub fn click_through_pct(&self) -> Option<f64> {
        (self.impressions > 0).then(|| 100.0 * self.clicks as f64 / self.impressions as f64)
    }

    /// The revenue as shoppers read prices (`€12.50`, one amount per currency; `–` for none).
    pub fn revenue_text(&self) -> String {
        if self.revenue.is_empty() {
            return "\u{2013}".into();
        }
        let amounts: Vec<String> =
            self.revenue.iter().map(|(currency, cents)| crate::money::format_price(*cents, currency)).collect();
        amounts.join(" + ")
    }
}

/// A visit that added to its cart and never paid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbandonedCart {
    pub visit_id: uuid::Uuid,
    pub started_at: String,
    pub shopper: Option<String>,
    pub cart_adds: i32,
    pub last_page: Option<String>,
}

/// Everything the insights page shows for a range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Insights {
    pub range: DayRange,
    pub funnel: Funnel,
    /// The top paths as a flow diagram, and the most made paths.
    pub flow: Flow,
    pub paths: Vec<TopPath>,
    pub trouble: Vec<PageTrouble>,
    pub vitals: Vec<PageVitals>,
    pub no_results: Vec<SearchOutcome>,
    pub no_click: Vec<SearchOutcome>,
    /// Every slot, in [`Slot::ALL`] order.
    pub slots: Vec<SlotPerformance>,
    pub abandoned: Vec<AbandonedCart>,
}

/// The insights for the days `from` to `to` (`YYYY-MM-DD`, both included; empty: the last seven days). Admins
/// only.
#[server(endpoint = "admin/insights")]
pub async fn load_insights(from: String, to: String) -> Result<Insights, AppError> {
    ctx::require_admin().await?;
    let range = DayRange::parse(&from, &to, chrono::Utc::now().date_naive())?;
    Ok(store::insights(&ctx::pool()?, range).await?)
}

/// A query as it is counted: lower case, spaces folded.
pub fn normalize_query(query: &str) -> String {
    query.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// The page a path is counted under: the path without its query.
pub fn page_of(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(raw: &str) -> NaiveDate {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_range_defaults_to_the_last_week_and_refuses_nonsense() {
        let today = day("2026-12-07");
        assert_eq!(DayRange::parse("", "", today).unwrap(), DayRange { from: day("2026-12-01"), to: today });
        assert_eq!(
            DayRange::parse("2026-11-01", "2026-11-30", today).unwrap().query(),
            "from=2026-11-01&to=2026-11-30"
        );
        let error = |from, to| DayRange::parse(from, to, today).unwrap_err().to_string();
        assert!(error("2026-12-07", "2026-12-01").contains("after the end"));
        assert!(error("2024-01-01", "2026-12-01").contains("366 days"));
        assert!(error("yesterday", "").contains("2026-12-31"));
    }

    #[test]
    fn the_funnel_converts_stage_to_stage() {
        let funnel = Funnel { reached: vec![10, 5, 2, 2, 1] };
        assert_eq!(funnel.conversion_pct(0), Some(100.0));
        assert_eq!(funnel.conversion_pct(1), Some(50.0));
        assert_eq!(funnel.conversion_pct(4), Some(50.0));
        assert_eq!(Funnel { reached: vec![0, 0, 0, 0, 0] }.conversion_pct(2), None);
        assert_eq!(Stage::Paid.number(), 5);
        assert_eq!(Stage::parse("cart"), Some(Stage::Cart));
    }

    #[test]
    fn queries_and_pages_are_counted_as_shoppers_mean_them() {
        assert_eq!(normalize_query("  Red   TENT "), "red tent");
        assert_eq!(page_of("/products?q=tent"), "/products");
        assert_eq!(page_of("/product/a#reviews"), "/product/a");
        assert_eq!(rating("lcp", 2_400), "good");
        assert_eq!(rating("cls", 300), "poor");
        assert_eq!(rating("inp", 350), "needs improvement");
    }

    #[test]
    fn a_slot_reads_as_click_through_and_revenue() {
        let mut slot = SlotPerformance {
            slot: Slot::Popular,
            impressions: 8,
            clicks: 2,
            orders: 1,
            revenue: vec![("EUR".into(), 4_990)],
        };
        assert_eq!(slot.click_through_pct(), Some(25.0));
        assert_eq!(slot.revenue_text(), "€49.90");
        slot.impressions = 0;
        slot.revenue.clear();
        assert_eq!(slot.click_through_pct(), None);
        assert_eq!(slot.revenue_text(), "\u{2013}");
    }
}
