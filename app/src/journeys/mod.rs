//! My journeys: the shopper's visits (and, for admins, everyone's) with a download of each journey PDF.

#[cfg(feature = "ssr")]
pub mod store;
mod views;

pub use views::{AdminVisitsPage, JourneysPage};

use crate::error::AppError;
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
    pub outcome: String,
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

/// "bought", "abandoned cart" or "browsed", from a visit's summary.
pub fn outcome(paid: bool, cart_adds: i32) -> &'static str {
    if paid {
        "bought"
    } else if cart_adds > 0 {
        "abandoned cart"
    } else {
        "browsed"
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
    crate::server_context::with_status(
        async {
            let user = crate::server_context::require_user().await?;
            let pool = crate::server_context::pool()?;
            Ok(store::for_user(&pool, user.id).await?)
        }
        .await,
    )
}

/// Every visit, newest first, optionally only one outcome (admins only).
#[server(endpoint = "admin_visits")]
pub async fn admin_visits(outcome: String) -> Result<Vec<VisitListItem>, AppError> {
    crate::server_context::with_status(
        async {
            crate::admin::require_admin().await?;
            if !matches!(outcome.as_str(), "" | "bought" | "abandoned cart" | "browsed") {
                return Err(AppError::Invalid("Unknown outcome filter.".into()));
            }
            let pool = crate::server_context::pool()?;
            Ok(store::all(&pool, &outcome).await?)
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_follow_the_funnel() {
        assert_eq!(outcome(true, 0), "bought");
        assert_eq!(outcome(false, 2), "abandoned cart");
        assert_eq!(outcome(false, 0), "browsed");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(42), "42 s");
        assert_eq!(format_duration(200), "3 min 20 s");
        assert_eq!(format_duration(3720), "1 h 02 min");
    }
}
