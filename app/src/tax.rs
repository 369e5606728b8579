//! Value-added tax. A product is in a [`TaxCategory`]; each destination country has a rate per category (the
//! `tax_rates` table, EU rates seeded); checkout taxes every line's amount after discounts at its rate, rounded
//! half up per line to the cent, and stores the rate and the tax on the line and the order. Prices are entered
//! tax-inclusive (the tax is the part of the price that is tax: the total does not change) or tax-exclusive (the
//! tax is added to the total), as the shop's setting says (`CARTOGRAPH_PRICES_INCLUDE_TAX`).

use serde::{Deserialize, Serialize};

/// A product's tax category (the `products.tax_category` column).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxCategory {
    #[default]
    Standard,
    Reduced,
    Zero,
}

impl TaxCategory {
    pub const ALL: [TaxCategory; 3] = [TaxCategory::Standard, TaxCategory::Reduced, TaxCategory::Zero];

    pub fn as_str(self) -> &'static str {
        match self {
            TaxCategory::Standard => "standard",
            TaxCategory::Reduced => "reduced",
            TaxCategory::Zero => "zero",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|category| category.as_str() == raw)
    }

    /// Words for the back office.
    pub fn label(self) -> &'static str {
        match self {
            TaxCategory::Standard => "Standard rate",
            TaxCategory::Reduced => "Reduced rate (books, food…)",
            TaxCategory::Zero => "Zero rate",
        }
    }
}

/// The shop's setting, as the pages that render on the server read it from their context (the checkout itself
/// takes it from `orders::store::CommerceSettings`, where the server sets it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PricesIncludeTax(pub bool);

/// What the cart and the checkout say about tax while the destination is not yet known.
pub fn tax_hint() -> &'static str {
    #[cfg(feature = "ssr")]
    let included = leptos::prelude::use_context::<PricesIncludeTax>().is_none_or(|setting| setting.0);
    #[cfg(not(feature = "ssr"))]
    let included = true;
    if included {
        "Prices include VAT; your order shows it, at your country's rate, before you pay."
    } else {
        "VAT at your country's rate is added to your order, which shows it before you pay."
    }
}

/// The tax in a line's `amount` (minor units) at `rate_bp` basis points, rounded half up: with `inclusive` prices
/// the part of the amount that is tax (`amount × rate / (1 + rate)`), else the tax added to it.
pub fn line_tax(amount: i64, rate_bp: i32, inclusive: bool) -> i64 {
    let (amount, rate) = (i128::from(amount.max(0)), i128::from(rate_bp.clamp(0, 10_000)));
    let denominator = if inclusive { 10_000 + rate } else { 10_000 };
    ((2 * amount * rate + denominator) / (2 * denominator)) as i64
}

/// An order's tax at one rate: what its lines at that rate came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxLine {
    pub rate_bp: i32,
    pub tax_cents: i64,
}

impl TaxLine {
    /// "VAT 19 %", "VAT 5.5 %".
    pub fn label(&self) -> String {
        let (whole, fraction) = (self.rate_bp / 100, self.rate_bp % 100);
        let rate = match fraction {
            0 => whole.to_string(),
            f if f % 10 == 0 => format!("{whole}.{}", f / 10),
            f => format!("{whole}.{f:02}"),
        };
        format!("VAT {rate} %")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclusive_tax_is_the_part_of_the_price_that_is_tax_rounded_half_up() {
        // €119.00 at 19 %: €19.00 of it is tax.
        assert_eq!(line_tax(11900, 1900, true), 1900);
        // €10.00 at 19 %: 159.66… cents, rounded to 160.
        assert_eq!(line_tax(1000, 1900, true), 160);
        // €0.07 at 7 %: 0.457… → 0; €0.08: 0.523… → 1.
        assert_eq!(line_tax(7, 700, true), 0);
        assert_eq!(line_tax(8, 700, true), 1);
        // 21 cents at 5 % inclusive hold exactly 1 cent of tax; €2.10 at 5 % exclusive is 10.5 cents: half up, 11.
        assert_eq!(line_tax(21, 500, true), 1);
        assert_eq!(line_tax(210, 500, false), 11);
    }

    #[test]
    fn exclusive_tax_is_added_on_top_rounded_half_up() {
        assert_eq!(line_tax(10000, 1900, false), 1900);
        // €0.99 at 5.5 %: 5.445 cents → 5; €1.99: 10.945 → 11.
        assert_eq!(line_tax(99, 550, false), 5);
        assert_eq!(line_tax(199, 550, false), 11);
        assert_eq!(line_tax(0, 2500, false), 0);
    }

    #[test]
    fn per_line_rounding_differs_from_rounding_the_sum_and_the_lines_are_what_counts() {
        // Three lines of €0.10 at 19 % inclusive: 1.596… → 2 cents each, 6 in all (the sum would round to 5).
        let lines: i64 = (0..3).map(|_| line_tax(10, 1900, true)).sum();
        assert_eq!((lines, line_tax(30, 1900, true)), (6, 5));
    }

    #[test]
    fn zero_and_out_of_range_rates_and_amounts_take_nothing_odd() {
        assert_eq!(line_tax(5000, 0, true), 0);
        assert_eq!(line_tax(-5000, 1900, true), 0);
        assert_eq!(line_tax(i64::MAX / 4, 10_000, false), i64::MAX / 4);
    }

    #[test]
    fn rates_read_as_a_shopper_writes_them() {
        let label = |rate_bp| TaxLine { rate_bp, tax_cents: 0 }.label();
        assert_eq!(
            (label(1900), label(550), label(1350), label(0)),
            ("VAT 19 %".into(), "VAT 5.5 %".into(), "VAT 13.5 %".into(), "VAT 0 %".into())
        );
        assert_eq!(label(1025), "VAT 10.25 %");
        assert_eq!(TaxCategory::parse("reduced"), Some(TaxCategory::Reduced));
        assert_eq!(TaxCategory::parse("luxury"), None);
    }
}
