//! Promotions and coupon codes. A promotion takes a percentage or a fixed amount off the order or off its matching
//! lines when its conditions hold; one with a code applies once the shopper enters the code (any case), one
//! without applies by itself. The rules (and the stacking order) are in [`rules`]; the cart and the checkout price
//! through them, on the server, from the catalog's prices: nothing the browser sends is a price.
//!
//! Uses: an order awaiting payment holds a use, a paid one has used it, a cancelled or expired one gives it back
//! (see the migration `20261210000018_promotions.sql`). Admins manage promotions at `/admin/promotions`.

pub mod rules;
#[cfg(feature = "ssr")]
pub mod store;
mod views;

pub use rules::{Discount, Pricing};
pub use views::{discount_items, discount_rows, AdminPromotionPage, AdminPromotionsPage};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_context as ctx;
use chrono::{DateTime, NaiveDate, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What a promotion takes off: a whole percentage (1–100) or an amount in minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reduction {
    Percent(i64),
    Fixed(i64),
}

/// What a promotion takes it off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// The whole order (once its conditions hold).
    Order,
    /// Each line of its products or categories (a fixed amount: off each unit).
    Lines,
}

/// A promotion as the rules and the back office read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    pub id: i64,
    pub name: String,
    /// In capitals; `None`: automatic.
    pub code: Option<String>,
    pub reduction: Reduction,
    pub currency: String,
    pub target: Target,
    pub min_subtotal_cents: i64,
    /// With the categories: the products it is about (both empty: every product).
    pub product_ids: Vec<i64>,
    pub category_slugs: Vec<String>,
    pub first_order_only: bool,
    pub starts_at: Option<DateTime<Utc>>,
    /// The first moment it no longer applies.
    pub ends_at: Option<DateTime<Utc>>,
    pub usage_limit: Option<i32>,
    pub per_customer_limit: Option<i32>,
    pub archived: bool,
}

impl Promotion {
    /// Whether a line of this product, in this category, is one the promotion is about.
    pub fn matches(&self, product_id: i64, category: &str) -> bool {
        (self.product_ids.is_empty() && self.category_slugs.is_empty())
            || self.product_ids.contains(&product_id)
            || self.category_slugs.iter().any(|slug| slug == category)
    }

    /// "10 % off the order", "€5.00 off each item of its products".
    pub fn describe(&self) -> String {
        let off = match self.reduction {
            Reduction::Percent(percent) => format!("{percent} % off"),
            Reduction::Fixed(cents) => format!("{} off", crate::money::format_price(cents, &self.currency)),
        };
        match (self.target, self.reduction) {
            (Target::Order, _) => format!("{off} the order"),
            (Target::Lines, Reduction::Percent(_)) => format!("{off} its products"),
            (Target::Lines, Reduction::Fixed(_)) => format!("{off} each of its products"),
        }
    }
}

/// Why a code (or an automatic promotion) does not apply to a cart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// No promotion has this code (or it is not well formed).
    Unknown,
    NotStarted,
    /// Its window closed, or the merchant ended it.
    Ended,
    /// A fixed amount in another currency than the cart's.
    OtherCurrency,
    /// Its total uses are taken (paid orders and orders awaiting payment).
    UsedUp,
    /// This shopper has used it as often as it allows.
    AlreadyUsed,
    NotFirstOrder,
    /// The subtotal is under this minimum.
    BelowMinimum(i64),
    /// None of its products or categories is in the cart.
    NothingMatches,
}

impl Refusal {
    /// The reason as the clickstream's `coupon_rejected` names it.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Unknown => "unknown",
            Refusal::NotStarted => "not_started",
            Refusal::Ended => "ended",
            Refusal::OtherCurrency => "other_currency",
            Refusal::UsedUp => "used_up",
            Refusal::AlreadyUsed => "customer_limit",
            Refusal::NotFirstOrder => "not_first_order",
            Refusal::BelowMinimum(_) => "min_subtotal",
            Refusal::NothingMatches => "no_matching_items",
        }
    }

    /// The reason in words for a shopper.
    pub fn message(self, code: &str, currency: &str) -> String {
        match self {
            Refusal::Unknown => format!("There is no code {code}; check how it is spelt."),
            Refusal::NotStarted => format!("The code {code} cannot be used yet."),
            Refusal::Ended => format!("The code {code} has ended."),
            Refusal::OtherCurrency => format!("The code {code} is not for prices in {currency}."),
            Refusal::UsedUp => format!("The code {code} has been used as often as it may."),
            Refusal::AlreadyUsed => format!("You have already used the code {code}."),
            Refusal::NotFirstOrder => format!("The code {code} is for a first order."),
            Refusal::BelowMinimum(cents) => {
                format!("The code {code} needs a subtotal of {} or more.", crate::money::format_price(cents, currency))
            }
            Refusal::NothingMatches => format!("The code {code} is for products that are not in your cart."),
        }
    }
}

/// A code as a shopper may type it (spaces around, any case) in the form the database keeps: `None` when it cannot
/// be a code at all.
pub fn normalize_code(raw: &str) -> Option<String> {
    let code = raw.trim().to_uppercase();
    let valid = (3..=32).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_uppercase() || c.is_ascii_digit())
        && code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_');
    valid.then_some(code)
}

/// A promotion in the back office's list, with its uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedPromotion {
    pub promotion: Promotion,
    /// Orders paid (or fulfilled) with it.
    pub used: i64,
    /// Orders awaiting payment that hold a use.
    pub held: i64,
}

/// Every promotion, newest first, for an admin.
#[server(endpoint = "admin_promotions")]
pub async fn admin_promotions() -> Result<Vec<ManagedPromotion>, AppError> {
    ctx::require_admin().await?;
    Ok(store::list(&ctx::pool()?).await?)
}

/// One promotion (0: a blank one to create), for an admin.
#[server(endpoint = "admin_promotion")]
pub async fn admin_promotion(id: i64) -> Result<Option<ManagedPromotion>, AppError> {
    ctx::require_admin().await?;
    if id == 0 {
        return Ok(None);
    }
    store::get(&ctx::pool()?, id).await?.map(Some).ok_or(AppError::NotFound)
}

/// The promotion form as submitted: text, validated by [`PromotionForm::parse`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionForm {
    /// 0: a new promotion.
    #[serde(default)]
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub code: String,
    /// `percent_order`, `fixed_order`, `percent_lines` or `fixed_lines`.
    pub action: String,
    /// A percentage, or an amount such as `5` or `4.99`.
    pub amount: String,
    #[serde(default)]
    pub min_subtotal: String,
    /// Product ids, separated by commas.
    #[serde(default)]
    pub products: String,
    /// Category slugs, separated by commas.
    #[serde(default)]
    pub categories: String,
    #[serde(default)]
    pub first_order: Option<String>,
    /// `YYYY-MM-DD`, from the start of the day (UTC).
    #[serde(default)]
    pub starts: String,
    /// `YYYY-MM-DD`, to the end of the day (UTC).
    #[serde(default)]
    pub ends: String,
    #[serde(default)]
    pub usage_limit: String,
    #[serde(default)]
    pub per_customer_limit: String,
    #[serde(default)]
    pub archived: Option<String>,
}

impl PromotionForm {
    /// Checks the form into a promotion (its id 0 for a new one); every problem is named at once.
    pub fn parse(&self, currency: &str) -> Result<Promotion, AppError> {
        let mut problems: Vec<String> = Vec::new();
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 80 {
            problems.push("a name of 1 to 80 characters".into());
        }
        let code = match self.code.trim() {
            "" => None,
            raw => {
                let code = normalize_code(raw);
                if code.is_none() {
                    problems.push("a code of 3 to 32 letters, digits, '-' and '_' (or none: automatic)".into());
                }
                code
            }
        };
        let (percent, target) = match self.action.as_str() {
            "percent_order" => (true, Target::Order),
            "fixed_order" => (false, Target::Order),
            "percent_lines" => (true, Target::Lines),
            "fixed_lines" => (false, Target::Lines),
            _ => {
                problems.push("an action".into());
                (true, Target::Order)
            }
        };
        let reduction = if percent {
            match self.amount.trim().trim_end_matches('%').trim().parse::<i64>() {
                Ok(percent) if (1..=100).contains(&percent) => Reduction::Percent(percent),
                _ => {
                    problems.push("a percentage from 1 to 100".into());
                    Reduction::Percent(1)
                }
            }
        } else {
            match crate::money::parse_price(&self.amount).filter(|cents| (1..=100_000_000).contains(cents)) {
                Some(cents) => Reduction::Fixed(cents),
                None => {
                    problems.push("an amount between 0.01 and 1,000,000.00".into());
                    Reduction::Fixed(1)
                }
            }
        };
        let min_subtotal_cents = match self.min_subtotal.trim() {
            "" => 0,
            raw => crate::money::parse_price(raw).filter(|cents| *cents <= 100_000_000).unwrap_or_else(|| {
                problems.push("a minimum subtotal up to 1,000,000.00 (or none)".into());
                0
            }),
        };
        let product_ids: Option<Vec<i64>> =
            list(&self.products).map(|id| id.parse::<i64>().ok().filter(|id| *id > 0)).collect();
        let product_ids = product_ids.filter(|ids| ids.len() <= 100).unwrap_or_else(|| {
            problems.push("product ids as numbers separated by commas (at most 100)".into());
            Vec::new()
        });
        let category_slugs: Vec<String> = list(&self.categories).map(|slug| slug.to_lowercase()).collect();
        if category_slugs.len() > 50 || category_slugs.iter().any(|slug| slug.len() > 80) {
            problems.push("at most 50 category slugs".into());
        }
        if target == Target::Lines && product_ids.is_empty() && category_slugs.is_empty() {
            problems.push("the products or categories whose lines it takes off".into());
        }
        let mut date = |raw: &str, what: &str, end: bool| match raw.trim() {
            "" => None,
            raw => match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
                Ok(day) => {
                    let day = if end { day.succ_opt().unwrap_or(day) } else { day };
                    day.and_hms_opt(0, 0, 0).map(|moment| moment.and_utc())
                }
                Err(_) => {
                    problems.push(format!("a {what} date as YYYY-MM-DD (or none)"));
                    None
                }
            },
        };
        let starts_at = date(&self.starts, "start", false);
        let ends_at = date(&self.ends, "end", true);
        if let (Some(start), Some(end)) = (starts_at, ends_at) {
            if start >= end {
                problems.push("an end date on or after the start date".into());
            }
        }
        let mut limit = |raw: &str, what: &str, max: i32| match raw.trim() {
            "" => None,
            raw => match raw.parse::<i32>() {
                Ok(limit) if (1..=max).contains(&limit) => Some(limit),
                _ => {
                    problems.push(format!("{what} from 1 to {max} (or none)"));
                    None
                }
            },
        };
        let usage_limit = limit(&self.usage_limit, "a total limit", 1_000_000);
        let per_customer_limit = limit(&self.per_customer_limit, "a per-customer limit", 1_000);
        if !problems.is_empty() {
            return Err(AppError::Invalid(format!("Please give {}.", problems.join(", "))));
        }
        Ok(Promotion {
            id: self.id,
            name,
            code,
            reduction,
            currency: currency.to_string(),
            target,
            min_subtotal_cents,
            product_ids,
            category_slugs,
            first_order_only: self.first_order.is_some(),
            starts_at,
            ends_at,
            usage_limit,
            per_customer_limit,
            archived: self.archived.is_some(),
        })
    }
}

/// The items of a comma-separated list, trimmed, the empty ones left out.
fn list(raw: &str) -> impl Iterator<Item = &str> {
    raw.split(',').map(str::trim).filter(|item| !item.is_empty())
}

/// Creates or saves a promotion (a plain form; back to the list).
#[server(endpoint = "admin_save_promotion")]
pub async fn save_promotion(form: PromotionForm) -> Result<(), AppError> {
    ctx::require_admin().await?;
    let draft = form.parse("EUR")?;
    store::save(&ctx::pool()?, &draft).await?;
    leptos_axum::redirect("/admin/promotions?saved=1");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> PromotionForm {
        PromotionForm {
            name: "Welcome".into(),
            code: " welcome-10 ".into(),
            action: "percent_order".into(),
            amount: "10".into(),
            ..PromotionForm::default()
        }
    }

    #[test]
    fn codes_are_kept_in_capitals_and_anything_else_is_no_code() {
        assert_eq!(normalize_code("  save10 ").as_deref(), Some("SAVE10"));
        assert_eq!(normalize_code("Spring_Sale-2026").as_deref(), Some("SPRING_SALE-2026"));
        for bad in ["", "ab", "-SAVE", "SAVE 10", "SAVE10'; DROP TABLE promotions;--", "ÄPFEL", &"X".repeat(33)] {
            assert_eq!(normalize_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_form_reads_into_a_promotion() {
        let promotion = form().parse("EUR").unwrap();
        assert_eq!(promotion.code.as_deref(), Some("WELCOME-10"));
        assert_eq!((promotion.reduction, promotion.target), (Reduction::Percent(10), Target::Order));
        assert_eq!(promotion.describe(), "10 % off the order");

        let lines = PromotionForm {
            code: String::new(),
            action: "fixed_lines".into(),
            amount: "4.50".into(),
            min_subtotal: "50".into(),
            products: "3, 7,".into(),
            categories: "Footwear".into(),
            first_order: Some("on".into()),
            starts: "2026-12-01".into(),
            ends: "2026-12-31".into(),
            usage_limit: "100".into(),
            per_customer_limit: "1".into(),
            ..form()
        }
        .parse("EUR")
        .unwrap();
        assert_eq!(lines.code, None);
        assert_eq!((lines.reduction, lines.min_subtotal_cents), (Reduction::Fixed(450), 5000));
        assert_eq!((lines.product_ids, lines.category_slugs), (vec![3, 7], vec!["footwear".to_string()]));
        assert!(lines.first_order_only);
        // The end date counts whole: the promotion stops at the next midnight.
        assert_eq!(lines.ends_at.unwrap().to_rfc3339(), "2027-01-01T00:00:00+00:00");
        assert_eq!((lines.usage_limit, lines.per_customer_limit), (Some(100), Some(1)));
    }

    #[test]
    fn a_bad_form_is_refused_with_every_problem_named() {
        let bad = PromotionForm {
            name: String::new(),
            code: "no spaces".into(),
            action: "percent_lines".into(),
            amount: "150".into(),
            products: "one".into(),
            starts: "2026-12-31".into(),
            ends: "2026-12-01".into(),
            usage_limit: "0".into(),
            ..form()
        };
        let message = bad.parse("EUR").unwrap_err().to_string();
        for problem in
            ["a name", "a code of 3 to 32", "a percentage from 1 to 100", "product ids", "end date", "a total limit"]
        {
            assert!(message.contains(problem), "{problem} missing from {message}");
        }
    }

    #[test]
    fn every_refusal_has_a_reason_and_words() {
        let all = [
            Refusal::Unknown,
            Refusal::NotStarted,
            Refusal::Ended,
            Refusal::OtherCurrency,
            Refusal::UsedUp,
            Refusal::AlreadyUsed,
            Refusal::NotFirstOrder,
            Refusal::BelowMinimum(5000),
            Refusal::NothingMatches,
        ];
        let reasons: std::collections::HashSet<_> = all.iter().map(|refusal| refusal.reason()).collect();
        assert_eq!(reasons.len(), all.len());
        assert_eq!(
            Refusal::BelowMinimum(5000).message("SAVE", "EUR"),
            "The code SAVE needs a subtotal of €50.00 or more."
        );
    }
}
