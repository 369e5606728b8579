//! My journeys: the shopper's visits (and, for admins, everyone's) with a download of each journey PDF.

#[cfg(feature = "ssr")]
pub mod store;
mod views;

pub use views::{AdminVisitsPage, JourneysPage};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_context as ctx;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A visit in a list of journeys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitListItem {
    pub visit_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub duration_secs: i64,
    pub page_views: i32,
    pub outcome: VisitOutcome,
    pub closed: bool,
    pub shopper: Option<String>,
    /// Whether the shopper can download a journey PDF: the one stored when the visit closed, or one rendered on
    /// demand while it is open. A visit with fewer than two events, or a bot's, has none (an admin may still ask).
    #[serde(default)]
    pub has_document: bool,
}

impl VisitListItem {
    /// Where the journey PDF is downloaded from.
    pub fn download_href(&self) -> String {
        format!("/journeys/{}.pdf", self.visit_id)
    }
}

/// How a visit ended: the one vocabulary of the visit lists, their filter, the journey PDF and its summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VisitOutcome {
    /// A payment succeeded.
    #[serde(rename = "bought")]
    Bought,
    /// Something was added to the cart, but no payment succeeded.
    #[serde(rename = "abandoned cart")]
    AbandonedCart,
    /// Neither.
    #[serde(rename = "browsed")]
    Browsed,
}

impl VisitOutcome {
    pub const ALL: [VisitOutcome; 3] = [VisitOutcome::Bought, VisitOutcome::AbandonedCart, VisitOutcome::Browsed];

    /// From what the visit did.
    pub fn of(paid: bool, added_to_cart: bool) -> Self {
        match (paid, added_to_cart) {
            (true, _) => VisitOutcome::Bought,
            (false, true) => VisitOutcome::AbandonedCart,
            (false, false) => VisitOutcome::Browsed,
        }
    }

    /// "bought", "abandoned cart" or "browsed" (also the filter's value).
    pub fn label(self) -> &'static str {
        match self {
            VisitOutcome::Bought => "bought",
            VisitOutcome::AbandonedCart => "abandoned cart",
            VisitOutcome::Browsed => "browsed",
        }
    }

    pub fn parse(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|outcome| outcome.label() == label)
    }
}

/// Formats a duration as `1 h 02 min`, `3 min 20 s` or `42 s`.
pub fn format_duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    match (seconds / 3600, (seconds % 3600) / 60, seconds % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, s) => format!("{m} min {s:02} s"),
        (h, m, _) => format!("{h} h {m:02} min"),
    }
}

/// The signed-in shopper's visits, newest first (anonymous visits linked at sign-in included).
#[server(endpoint = "my_journeys")]
pub async fn my_journeys() -> Result<Vec<VisitListItem>, AppError> {
    let user = ctx::require_user().await?;
    let pool = ctx::pool()?;
    Ok(store::for_user(&pool, user.id).await?)
}

/// Which visits an admin list shows: an outcome, and what the insights page links with (the days the visit
/// started, the funnel stage it reached, a page where it met a kind of event, a search it made, a slot of
/// recommendations it met, the path it took). A list with any insight filter leaves bots out, as the insights do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VisitFilter {
    pub outcome: Option<VisitOutcome>,
    pub range: Option<crate::insights::DayRange>,
    pub reached: Option<crate::insights::Stage>,
    pub page: Option<String>,
    pub event: Option<crate::tracking::schema::EventType>,
    pub search: Option<String>,
    /// An event of the visit belongs to the slot: it showed it, clicked in it, or opened a product from it.
    pub slot: Option<crate::recommend::Slot>,
    /// The visit's path: its first pages, exactly these.
    pub path: Option<Vec<String>>,
}

/// A visit list's filters as its URL spells them (each may be empty or left out).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VisitQuery {
    pub outcome: String,
    pub from: String,
    pub to: String,
    pub reached: String,
    pub page: String,
    pub signal: String,
    pub search: String,
    pub rec: String,
    pub path: String,
}

impl VisitFilter {
    /// The filter of a list's URL; an unknown value is an error a person can act on.
    pub fn parse(query: &VisitQuery) -> Result<Self, AppError> {
        fn given(value: &str) -> Option<&str> {
            Some(value.trim()).filter(|value| !value.is_empty())
        }
        let invalid = |what: &str| AppError::Invalid(format!("Unknown {what} filter."));
        let range = if given(&query.from).is_some() || given(&query.to).is_some() {
            Some(crate::insights::DayRange::parse(&query.from, &query.to, Utc::now().date_naive())?)
        } else {
            None
        };
        let path = given(&query.path).map(|path| path.split_whitespace().map(String::from).collect::<Vec<_>>());
        if path.as_ref().is_some_and(|pages| pages.len() > crate::insights::PATH_PAGES) {
            return Err(AppError::Invalid(format!("A path has at most {} pages.", crate::insights::PATH_PAGES)));
        }
        Ok(Self {
            outcome: given(&query.outcome)
                .map(|label| VisitOutcome::parse(label).ok_or_else(|| invalid("outcome")))
                .transpose()?,
            range,
            reached: given(&query.reached)
                .map(|stage| crate::insights::Stage::parse(stage).ok_or_else(|| invalid("stage")))
                .transpose()?,
            page: given(&query.page).map(|page| crate::insights::page_of(page).to_string()),
            event: given(&query.signal)
                .map(|kind| crate::tracking::schema::EventType::parse(kind).ok_or_else(|| invalid("event")))
                .transpose()?,
            search: given(&query.search).map(crate::insights::normalize_query),
            slot: given(&query.rec)
                .map(|slot| crate::recommend::Slot::parse(slot).ok_or_else(|| invalid("recommendation")))
                .transpose()?,
            path,
        })
    }

    /// Whether an insight filter is set (then bots are left out).
    pub fn from_insights(&self) -> bool {
        self.range.is_some()
            || self.reached.is_some()
            || self.page.is_some()
            || self.event.is_some()
            || self.search.is_some()
            || self.slot.is_some()
            || self.path.is_some()
    }
}

/// Every visit, newest first, filtered (admins only). The filters are the form's fields, side by side.
#[server(endpoint = "admin_visits")]
pub async fn admin_visits(#[server(flatten)] query: VisitQuery) -> Result<Vec<VisitListItem>, AppError> {
    ctx::require_admin().await?;
    let filter = VisitFilter::parse(&query)?;
    let pool = ctx::pool()?;
    Ok(store::all(&pool, &filter).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_follow_the_funnel() {
        assert_eq!(VisitOutcome::of(true, false), VisitOutcome::Bought);
        assert_eq!(VisitOutcome::of(false, true), VisitOutcome::AbandonedCart);
        assert_eq!(VisitOutcome::of(false, false).label(), "browsed");
        for outcome in VisitOutcome::ALL {
            assert_eq!(VisitOutcome::parse(outcome.label()), Some(outcome));
            assert_eq!(serde_json::to_value(outcome).unwrap(), outcome.label(), "JSON says the label");
        }
    }

    #[test]
    fn a_visit_list_url_reads_as_its_filter() {
        let query = VisitQuery {
            rec: "popular".into(),
            signal: "rec_impression".into(),
            path: " / /products  /product/tent ".into(),
            ..VisitQuery::default()
        };
        let filter = VisitFilter::parse(&query).unwrap();
        assert_eq!(filter.slot, Some(crate::recommend::Slot::Popular));
        assert_eq!(filter.path.as_deref(), Some(&["/".to_string(), "/products".into(), "/product/tent".into()][..]));
        assert!(filter.from_insights());
        let error = |query: VisitQuery| VisitFilter::parse(&query).unwrap_err().to_string();
        assert!(error(VisitQuery { rec: "sponsored".into(), ..VisitQuery::default() }).contains("recommendation"));
        assert!(error(VisitQuery { path: "/a /b /c /d /e /f".into(), ..VisitQuery::default() }).contains("5 pages"));
        assert!(!VisitFilter::parse(&VisitQuery::default()).unwrap().from_insights());
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(42), "42 s");
        assert_eq!(format_duration(200), "3 min 20 s");
        assert_eq!(format_duration(3720), "1 h 02 min");
    }
}
