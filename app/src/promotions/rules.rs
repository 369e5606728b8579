//! The rules that price a cart: which promotions apply, in what order, and how much each takes off. Pure, so
//! every rule is tested here; the cart, the checkout and the GraphQL API all price through [`price`].
//!
//! **Stacking.** Every automatic promotion whose conditions hold applies, and so does the cart's one code. Line
//! promotions come first, then order promotions; within each, in the order the promotions were created. Each
//! takes its share of what is left after the ones before it (so 10 % and then 20 % off come to 28 %, never
//! 30 %), and nothing is ever taken below zero. The conditions (the minimum subtotal above all) are checked
//! against the subtotal before any discount.
//!
//! **Rounding.** Everything is in integer minor units: a percentage is rounded half up to the cent, per line for
//! a line promotion and once for an order promotion; a fixed amount off lines is taken off each matching unit.

use super::{Promotion, Reduction, Refusal, Target};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A cart line as the rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub product_id: i64,
    pub category: String,
    pub unit_price_cents: i64,
    pub quantity: i32,
}

impl Line {
    fn amount(&self) -> i64 {
        self.unit_price_cents.saturating_mul(i64::from(self.quantity))
    }
}

/// A promotion on offer to this cart, with its uses so far (orders paid or awaiting payment) and this shopper's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    pub promotion: Promotion,
    pub uses: i64,
    pub customer_uses: i64,
}

/// What the rules know of the shopper and the moment.
#[derive(Clone, Copy, Debug)]
pub struct Shopper {
    /// No order of theirs is paid, fulfilled or awaiting payment (an anonymous visitor counts as one until
    /// checkout, which requires sign-in and asks again).
    pub first_order: bool,
    pub now: DateTime<Utc>,
}

/// One discount as its own line: which promotion, what it is called, and how much it took off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discount {
    pub promotion_id: i64,
    pub label: String,
    pub code: Option<String>,
    pub amount_cents: i64,
}

impl Discount {
    /// How its line reads: the promotion's name, with its code when it has one ("Welcome (WELCOME10)").
    pub fn title(&self) -> String {
        match &self.code {
            Some(code) => format!("{} ({code})", self.label),
            None => self.label.clone(),
        }
    }
}

/// The code on a cart, and whether it applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CouponState {
    pub code: String,
    /// `None`: it applies (its discount is among the pricing's); else why not.
    pub refused: Option<Refusal>,
}

/// A cart priced: the subtotal, each discount, the total, and what each line comes to after the discounts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pricing {
    pub subtotal_cents: i64,
    pub discounts: Vec<Discount>,
    pub total_cents: i64,
    /// Each line's amount after its discounts and its share of the order's, in the lines' order (what tax is on).
    pub line_totals: Vec<i64>,
    pub coupon: Option<CouponState>,
}

impl Pricing {
    /// Why the cart's code does not apply, in words; `None` when it applies or there is none.
    pub fn coupon_refusal(&self, currency: &str) -> Option<String> {
        let coupon = self.coupon.as_ref()?;
        Some(coupon.refused?.message(&coupon.code, currency))
    }
}

/// Whether a promotion may apply to these lines now, and if not, the first reason why.
pub fn check(offer: &Offer, lines: &[Line], currency: &str, shopper: Shopper) -> Result<(), Refusal> {
    let promotion = &offer.promotion;
    if promotion.archived {
        return Err(Refusal::Ended);
    }
    if promotion.starts_at.is_some_and(|start| shopper.now < start) {
        return Err(Refusal::NotStarted);
    }
    if promotion.ends_at.is_some_and(|end| shopper.now >= end) {
        return Err(Refusal::Ended);
    }
    if matches!(promotion.reduction, Reduction::Fixed(_)) && promotion.currency != currency {
        return Err(Refusal::OtherCurrency);
    }
    if promotion.usage_limit.is_some_and(|limit| offer.uses >= i64::from(limit)) {
        return Err(Refusal::UsedUp);
    }
    if promotion.per_customer_limit.is_some_and(|limit| offer.customer_uses >= i64::from(limit)) {
        return Err(Refusal::AlreadyUsed);
    }
    if promotion.first_order_only && !shopper.first_order {
        return Err(Refusal::NotFirstOrder);
    }
    let subtotal: i64 = lines.iter().map(Line::amount).sum();
    if subtotal < promotion.min_subtotal_cents {
        return Err(Refusal::BelowMinimum(promotion.min_subtotal_cents));
    }
    if !lines.iter().any(|line| promotion.matches(line.product_id, &line.category)) {
        return Err(Refusal::NothingMatches);
    }
    Ok(())
}

/// Prices `lines` with the automatic promotions on offer and the cart's code (`coupon`), by the stacking rule
/// above. A promotion that does not apply is left out; the code's refusal is said in [`Pricing::coupon`].
pub fn price(lines: &[Line], currency: &str, automatic: &[Offer], coupon: Option<&Offer>, shopper: Shopper) -> Pricing {
    let subtotal: i64 = lines.iter().map(Line::amount).sum();
    let mut coupon_state = None;
    let mut applying: Vec<&Offer> = automatic
        .iter()
        .filter(|offer| offer.promotion.code.is_none() && check(offer, lines, currency, shopper).is_ok())
        .collect();
    if let Some(offer) = coupon {
        let refused = check(offer, lines, currency, shopper).err();
        if refused.is_none() {
            applying.push(offer);
        }
        coupon_state = Some(CouponState { code: offer.promotion.code.clone().unwrap_or_default(), refused });
    }
    applying.sort_by_key(|offer| (offer.promotion.target == Target::Order, offer.promotion.id));

    let mut left: Vec<i64> = lines.iter().map(Line::amount).collect();
    let mut discounts = Vec::new();
    for offer in applying {
        let promotion = &offer.promotion;
        let amount = match promotion.target {
            Target::Lines => lines
                .iter()
                .zip(left.iter_mut())
                .filter(|(line, _)| promotion.matches(line.product_id, &line.category))
                .map(|(line, left)| {
                    let off = match promotion.reduction {
                        Reduction::Percent(percent) => percent_of(*left, percent),
                        Reduction::Fixed(cents) => cents.saturating_mul(i64::from(line.quantity)),
                    }
                    .min(*left);
                    *left -= off;
                    off
                })
                .sum(),
            Target::Order => {
                let remaining: i64 = left.iter().sum();
                let off = match promotion.reduction {
                    Reduction::Percent(percent) => percent_of(remaining, percent),
                    Reduction::Fixed(cents) => cents,
                }
                .min(remaining);
                spread(&mut left, off);
                off
            }
        };
        if amount > 0 {
            discounts.push(Discount {
                promotion_id: promotion.id,
                label: promotion.name.clone(),
                code: promotion.code.clone(),
                amount_cents: amount,
            });
        }
    }
    Pricing {
        subtotal_cents: subtotal,
        total_cents: left.iter().sum(),
        line_totals: left,
        discounts,
        coupon: coupon_state,
    }
}

/// `percent` of `amount`, rounded half up to the minor unit.
pub fn percent_of(amount: i64, percent: i64) -> i64 {
    (i128::from(amount) * i128::from(percent) + 50).div_euclid(100) as i64
}

/// Spreads an order discount (at most what is left) over the lines in proportion to what is left of each: each
/// line's share rounded down, then the cents that remain one each to the lines with the largest remainders
/// (earlier lines first among equals). So each line's tax is on what it really sold for.
fn spread(left: &mut [i64], off: i64) {
    let total: i64 = left.iter().sum();
    if total <= 0 || off <= 0 {
        return;
    }
    let shares: Vec<(i64, i128)> = left
        .iter()
        .map(|amount| {
            let exact = i128::from(off) * i128::from(*amount);
            ((exact / i128::from(total)) as i64, exact % i128::from(total))
        })
        .collect();
    let mut remainder = off - shares.iter().map(|(share, _)| share).sum::<i64>();
    for (amount, (share, _)) in left.iter_mut().zip(&shares) {
        *amount -= share;
    }
    let mut by_fraction: Vec<usize> = (0..left.len()).collect();
    by_fraction.sort_by_key(|&i| std::cmp::Reverse(shares[i].1));
    for i in by_fraction {
        if remainder == 0 {
            break;
        }
        if left[i] > 0 {
            left[i] -= 1;
            remainder -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
    }

    fn shopper() -> Shopper {
        Shopper { first_order: true, now: now() }
    }

    fn promotion(id: i64, reduction: Reduction, target: Target) -> Promotion {
        Promotion {
            id,
            name: format!("Promotion {id}"),
            code: None,
            reduction,
            currency: "EUR".into(),
            target,
            min_subtotal_cents: 0,
            product_ids: vec![],
            category_slugs: vec![],
            first_order_only: false,
            starts_at: None,
            ends_at: None,
            usage_limit: None,
            per_customer_limit: None,
            archived: false,
        }
    }

    fn offer(promotion: Promotion) -> Offer {
        Offer { promotion, uses: 0, customer_uses: 0 }
    }

    fn line(product_id: i64, category: &str, unit: i64, quantity: i32) -> Line {
        Line { product_id, category: category.into(), unit_price_cents: unit, quantity }
    }

    fn cart() -> Vec<Line> {
        // €100 of tents, €30 of socks (3 × €10).
        vec![line(1, "tents", 10000, 1), line(2, "apparel", 1000, 3)]
    }

    fn amounts(pricing: &Pricing) -> Vec<i64> {
        pricing.discounts.iter().map(|discount| discount.amount_cents).collect()
    }

    #[test]
    fn a_percentage_off_the_order_is_taken_from_the_subtotal() {
        let pricing =
            price(&cart(), "EUR", &[offer(promotion(1, Reduction::Percent(10), Target::Order))], None, shopper());
        assert_eq!((pricing.subtotal_cents, amounts(&pricing), pricing.total_cents), (13000, vec![1300], 11700));
    }

    #[test]
    fn a_fixed_amount_off_the_order_never_takes_it_below_zero() {
        let small = vec![line(2, "apparel", 1000, 1)];
        let pricing =
            price(&small, "EUR", &[offer(promotion(1, Reduction::Fixed(2500), Target::Order))], None, shopper());
        assert_eq!((amounts(&pricing), pricing.total_cents), (vec![1000], 0));
    }

    #[test]
    fn a_line_promotion_takes_off_only_matching_products_or_categories() {
        let mut by_category = promotion(1, Reduction::Percent(20), Target::Lines);
        by_category.category_slugs = vec!["apparel".into()];
        let pricing = price(&cart(), "EUR", &[offer(by_category)], None, shopper());
        assert_eq!((amounts(&pricing), pricing.total_cents), (vec![600], 12400));

        let mut by_product = promotion(2, Reduction::Fixed(250), Target::Lines);
        by_product.product_ids = vec![2];
        // Off each matching unit: 3 × €2.50.
        let pricing = price(&cart(), "EUR", &[offer(by_product)], None, shopper());
        assert_eq!((amounts(&pricing), pricing.total_cents), (vec![750], 12250));
    }

    #[test]
    fn a_fixed_amount_off_lines_is_capped_at_each_line() {
        let mut big = promotion(1, Reduction::Fixed(1500), Target::Lines);
        big.product_ids = vec![2];
        let pricing = price(&cart(), "EUR", &[offer(big)], None, shopper());
        assert_eq!((amounts(&pricing), pricing.total_cents), (vec![3000], 10000));
    }

    #[test]
    fn percentages_round_half_up_per_line() {
        // 15 % of 3 × €0.33 = 14.85 cents, rounded to 15; of €0.99 once more: 15.
        let cheap = vec![line(1, "x", 33, 3), line(2, "x", 99, 1)];
        let mut lines = promotion(1, Reduction::Percent(15), Target::Lines);
        lines.category_slugs = vec!["x".into()];
        let pricing = price(&cheap, "EUR", &[offer(lines)], None, shopper());
        assert_eq!(amounts(&pricing), vec![30]);
        assert_eq!(percent_of(5, 50), 3);
        assert_eq!(percent_of(4, 50), 2);
        assert_eq!(percent_of(1, 49), 0);
        assert_eq!(percent_of(i64::MAX / 2, 100), i64::MAX / 2);
    }

    #[test]
    fn stacking_takes_line_promotions_first_then_order_ones_each_from_what_is_left() {
        // Created in this order: the order's 10 %, then 50 % off tents, then €5 off the order.
        let tenth = promotion(1, Reduction::Percent(10), Target::Order);
        let mut tents = promotion(2, Reduction::Percent(50), Target::Lines);
        tents.category_slugs = vec!["tents".into()];
        let five = promotion(3, Reduction::Fixed(500), Target::Order);
        let pricing = price(&cart(), "EUR", &[offer(five), offer(tenth), offer(tents)], None, shopper());
        // Tents first: €50 off (€80 left); then 10 % of €80 = €8 (€72 left); then €5: €67.
        let order: Vec<i64> = pricing.discounts.iter().map(|discount| discount.promotion_id).collect();
        assert_eq!(order, vec![2, 1, 3]);
        assert_eq!((amounts(&pricing), pricing.total_cents), (vec![5000, 800, 500], 6700));
        // Two percentages compound: 10 % and 20 % make 28 %, not 30 %.
        let twenty = promotion(4, Reduction::Percent(20), Target::Order);
        let tenth = promotion(1, Reduction::Percent(10), Target::Order);
        let pricing = price(&[line(1, "x", 10000, 1)], "EUR", &[offer(tenth), offer(twenty)], None, shopper());
        assert_eq!(pricing.total_cents, 7200);
    }

    #[test]
    fn the_code_stacks_with_automatic_promotions_and_says_why_it_does_not_apply() {
        let automatic = offer(promotion(1, Reduction::Percent(10), Target::Order));
        let mut coded = promotion(2, Reduction::Fixed(1000), Target::Order);
        coded.code = Some("SAVE10".into());
        coded.min_subtotal_cents = 20000;
        let pricing = price(&cart(), "EUR", std::slice::from_ref(&automatic), Some(&offer(coded.clone())), shopper());
        assert_eq!(amounts(&pricing), vec![1300]);
        assert_eq!(
            pricing.coupon,
            Some(CouponState { code: "SAVE10".into(), refused: Some(Refusal::BelowMinimum(20000)) })
        );

        coded.min_subtotal_cents = 13000;
        let pricing = price(&cart(), "EUR", &[automatic], Some(&offer(coded)), shopper());
        assert_eq!((amounts(&pricing), pricing.total_cents), (vec![1300, 1000], 10700));
        assert_eq!(pricing.coupon.unwrap().refused, None);
    }

    #[test]
    fn an_automatic_promotion_is_never_taken_for_a_code() {
        let mut coded = promotion(1, Reduction::Percent(50), Target::Order);
        coded.code = Some("HALF".into());
        let pricing = price(&cart(), "EUR", &[offer(coded)], None, shopper());
        assert!(pricing.discounts.is_empty());
        assert_eq!(pricing.total_cents, 13000);
    }

    #[test]
    fn every_condition_refuses_with_its_own_reason() {
        let base = promotion(1, Reduction::Percent(10), Target::Order);
        let refusal = |change: &dyn Fn(&mut Offer), shopper: Shopper| {
            let mut offer = offer(base.clone());
            change(&mut offer);
            check(&offer, &cart(), "EUR", shopper).err()
        };
        assert_eq!(refusal(&|_| {}, shopper()), None);
        assert_eq!(refusal(&|o| o.promotion.archived = true, shopper()), Some(Refusal::Ended));
        let start = now() + chrono::Duration::days(1);
        assert_eq!(refusal(&|o| o.promotion.starts_at = Some(start), shopper()), Some(Refusal::NotStarted));
        assert_eq!(refusal(&|o| o.promotion.ends_at = Some(now()), shopper()), Some(Refusal::Ended));
        let fixed_usd = |o: &mut Offer| {
            o.promotion.reduction = Reduction::Fixed(100);
            o.promotion.currency = "USD".into();
        };
        assert_eq!(refusal(&fixed_usd, shopper()), Some(Refusal::OtherCurrency));
        let used_up = |o: &mut Offer| {
            o.promotion.usage_limit = Some(5);
            o.uses = 5;
        };
        assert_eq!(refusal(&used_up, shopper()), Some(Refusal::UsedUp));
        let once_each = |o: &mut Offer| {
            o.promotion.per_customer_limit = Some(1);
            o.customer_uses = 1;
        };
        assert_eq!(refusal(&once_each, shopper()), Some(Refusal::AlreadyUsed));
        let returning = Shopper { first_order: false, now: now() };
        assert_eq!(refusal(&|o| o.promotion.first_order_only = true, returning), Some(Refusal::NotFirstOrder));
        assert_eq!(refusal(&|o| o.promotion.first_order_only = true, shopper()), None);
        assert_eq!(refusal(&|o| o.promotion.min_subtotal_cents = 13001, shopper()), Some(Refusal::BelowMinimum(13001)));
        assert_eq!(refusal(&|o| o.promotion.min_subtotal_cents = 13000, shopper()), None);
        assert_eq!(refusal(&|o| o.promotion.product_ids = vec![9], shopper()), Some(Refusal::NothingMatches));
        // An order promotion with a product condition applies to the whole order once the product is there.
        assert_eq!(refusal(&|o| o.promotion.product_ids = vec![2], shopper()), None);
        // Within its window, on the first second and not on the last.
        assert_eq!(refusal(&|o| o.promotion.starts_at = Some(now()), shopper()), None);
    }

    #[test]
    fn an_order_discount_is_spread_over_the_lines_in_proportion_to_the_cent() {
        // €10 off €100 + €30: €7.69 and €2.31 (7.692… and 2.307…: the remaining cent to the larger fraction).
        let pricing =
            price(&cart(), "EUR", &[offer(promotion(1, Reduction::Fixed(1000), Target::Order))], None, shopper());
        assert_eq!(pricing.line_totals, vec![10000 - 769, 3000 - 231]);
        assert_eq!(pricing.line_totals.iter().sum::<i64>(), pricing.total_cents);
        // Three equal lines and one cent: the first line takes it.
        let mut left = vec![100, 100, 100];
        spread(&mut left, 1);
        assert_eq!(left, vec![99, 100, 100]);
        // Everything off: every line to zero, never below.
        let mut left = vec![5, 0, 7];
        spread(&mut left, 12);
        assert_eq!(left, vec![0, 0, 0]);
        // A line promotion's lines keep what it took; the order's share comes off what is left.
        let mut apparel = promotion(1, Reduction::Percent(50), Target::Lines);
        apparel.category_slugs = vec!["apparel".into()];
        let tenth = promotion(2, Reduction::Percent(10), Target::Order);
        let pricing = price(&cart(), "EUR", &[offer(apparel), offer(tenth)], None, shopper());
        assert_eq!(pricing.line_totals, vec![9000, 1350]);
        assert_eq!(pricing.total_cents, 10350);
    }

    #[test]
    fn an_empty_cart_gets_nothing() {
        let pricing = price(&[], "EUR", &[offer(promotion(1, Reduction::Fixed(500), Target::Order))], None, shopper());
        assert_eq!((pricing.discounts.len(), pricing.total_cents), (0, 0));
    }
}
