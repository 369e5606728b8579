//! Shopper input for checkout and payment, checked before anything touches the database or the gateway.

use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// A validated shipping address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingAddress {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postcode: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
}

fn field(label: &str, raw: &str, max: usize) -> Result<String, AppError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(AppError::Invalid(format!("Please fill in {label}.")));
    }
    if value.chars().count() > max {
        return Err(AppError::Invalid(format!("{label} is longer than {max} characters.")));
    }
    if value.chars().any(char::is_control) {
        return Err(AppError::Invalid(format!("{label} contains characters we cannot print on a label.")));
    }
    Ok(value.to_string())
}

impl ShippingAddress {
    /// Trims and checks every field; the error names the field.
    pub fn parse(
        name: &str,
        line1: &str,
        line2: &str,
        city: &str,
        postcode: &str,
        country: &str,
    ) -> Result<Self, AppError> {
        let postcode = field("the postcode", postcode, 12)?;
        if !postcode.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-') {
            return Err(AppError::Invalid("The postcode may only contain letters, digits, spaces and dashes.".into()));
        }
        let country = field("the country", country, 2)?.to_ascii_uppercase();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(AppError::Invalid("The country is a two-letter code such as DE, FR or GB.".into()));
        }
        Ok(Self {
            name: field("your name", name, 100)?,
            line1: field("the street address", line1, 120)?,
            line2: if line2.trim().is_empty() { None } else { Some(field("the second address line", line2, 120)?) },
            city: field("the city", city, 80)?,
            postcode,
            country,
        })
    }
}

/// Card details as typed; only the last four digits are ever stored.
#[derive(Clone, PartialEq, Eq)]
pub struct CardDetails {
    pub number: String,
    pub exp_month: u32,
    pub exp_year: i32,
    pub cvc: String,
}

impl std::fmt::Debug for CardDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CardDetails(**** {})", self.last4())
    }
}

/// The Luhn checksum every card number carries.
pub fn luhn_valid(digits: &str) -> bool {
    if digits.len() < 12 || digits.len() > 19 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

impl CardDetails {
    /// Parses `4242 4242 4242 4242`, `12/29` (or `12/2029`) and a CVC; `today` is (year, month).
    pub fn parse(number: &str, expiry: &str, cvc: &str, today: (i32, u32)) -> Result<Self, AppError> {
        let number: String = number.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        if !luhn_valid(&number) {
            return Err(AppError::Invalid("That card number is not valid.".into()));
        }
        let (month, year) = expiry
            .trim()
            .split_once('/')
            .and_then(|(m, y)| Some((m.trim().parse::<u32>().ok()?, y.trim().parse::<i32>().ok()?)))
            .ok_or_else(|| AppError::Invalid("Write the expiry date as MM/YY.".into()))?;
        let year = if year < 100 { 2000 + year } else { year };
        if !(1..=12).contains(&month) || year > today.0 + 20 {
            return Err(AppError::Invalid("Write the expiry date as MM/YY.".into()));
        }
        if (year, month) < today {
            return Err(AppError::Invalid("That card has expired.".into()));
        }
        let cvc = cvc.trim();
        if !(3..=4).contains(&cvc.len()) || !cvc.chars().all(|c| c.is_ascii_digit()) {
            return Err(AppError::Invalid("The security code (CVC) is the 3 or 4 digits on the card.".into()));
        }
        Ok(Self { number, exp_month: month, exp_year: year, cvc: cvc.to_string() })
    }

    pub fn last4(&self) -> &str {
        &self.number[self.number.len().saturating_sub(4)..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: (i32, u32) = (2026, 11);

    #[test]
    fn addresses_are_trimmed_and_checked_field_by_field() {
        let address = ShippingAddress::parse(" Sam ", "1 Main St", "", "Berlin", "10115", "de").unwrap();
        assert_eq!(address.name, "Sam");
        assert_eq!(address.line2, None);
        assert_eq!(address.country, "DE");
        let error = |a: Result<ShippingAddress, AppError>| a.unwrap_err().to_string();
        assert!(error(ShippingAddress::parse("", "1 Main St", "", "Berlin", "10115", "DE")).contains("your name"));
        assert!(error(ShippingAddress::parse("Sam", "1 Main St", "", "Berlin", "<script>", "DE")).contains("postcode"));
        assert!(error(ShippingAddress::parse("Sam", "1 Main St", "", "Berlin", "10115", "Germany")).contains("country"));
        let absurd = "x".repeat(10_000);
        assert!(error(ShippingAddress::parse(&absurd, "1 Main St", "", "Berlin", "10115", "DE")).contains("longer"));
    }

    #[test]
    fn card_numbers_must_pass_luhn() {
        assert!(luhn_valid("4242424242424242"));
        assert!(luhn_valid("4000000000000002"));
        assert!(!luhn_valid("4242424242424241"));
        assert!(!luhn_valid("42"));
    }

    #[test]
    fn cards_are_parsed_with_expiry_and_cvc() {
        let card = CardDetails::parse("4242 4242 4242 4242", "12/29", "123", TODAY).unwrap();
        assert_eq!((card.exp_month, card.exp_year, card.last4()), (12, 2029, "4242"));
        assert_eq!(format!("{card:?}"), "CardDetails(**** 4242)", "the number never reaches a log");
        let error = |n: &str, e: &str, c: &str| CardDetails::parse(n, e, c, TODAY).unwrap_err().to_string();
        assert!(error("4242 4242 4242 4241", "12/29", "123").contains("not valid"));
        assert!(error("4242424242424242", "10/26", "123").contains("expired"));
        assert!(error("4242424242424242", "13/29", "123").contains("MM/YY"));
        assert!(error("4242424242424242", "12/29", "12a").contains("CVC"));
        assert!(CardDetails::parse("4242424242424242", "11/26", "123", TODAY).is_ok(), "valid through its month");
    }
}
