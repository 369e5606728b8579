//! Money in integer minor units: no floats ever touch a price.

/// Formats an amount of minor units (cents) as a price, e.g. `1250` → `€12.50`.
pub fn format_price(minor_units: i64, currency: &str) -> String {
    let symbol = match currency {
        "EUR" => "€",
        "USD" => "$",
        "GBP" => "£",
        _ => "",
    };
    let sign = if minor_units < 0 { "-" } else { "" };
    let abs = minor_units.unsigned_abs();
    let whole = group_thousands(abs / 100);
    let cents = abs % 100;
    if symbol.is_empty() {
        format!("{sign}{whole}.{cents:02} {currency}")
    } else {
        format!("{sign}{symbol}{whole}.{cents:02}")
    }
}

/// An amount as a person types it back into a form (`1250` → `12.50`); what [`parse_price`] reads.
pub fn plain_amount(minor_units: i64) -> String {
    format!("{}.{:02}", minor_units / 100, minor_units % 100)
}

/// Reads a price typed by a person (`12`, `12.5`, `12.50`, `1,299.00`) into minor units; `None` if it is not one.
pub fn parse_price(raw: &str) -> Option<i64> {
    let cleaned: String = raw.trim().trim_start_matches(['€', '$', '£']).chars().filter(|c| *c != ',').collect();
    let (whole, fraction) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    if whole.is_empty()
        || whole.len() > 9
        || fraction.len() > 2
        || !whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let cents: i64 = format!("{fraction:0<2}").parse().ok()?;
    Some(whole.parse::<i64>().ok()? * 100 + cents)
}

fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{format_price, parse_price};

    #[test]
    fn formats_cents_with_two_digits_and_symbol() {
        assert_eq!(format_price(1250, "EUR"), "€12.50");
        assert_eq!(format_price(5, "USD"), "$0.05");
        assert_eq!(format_price(0, "GBP"), "£0.00");
    }

    #[test]
    fn groups_thousands_and_keeps_sign() {
        assert_eq!(format_price(123_456_789, "EUR"), "€1,234,567.89");
        assert_eq!(format_price(-1999, "EUR"), "-€19.99");
    }

    #[test]
    fn typed_prices_become_cents_and_junk_is_refused() {
        assert_eq!(parse_price("12"), Some(1200));
        assert_eq!(parse_price(" 12.5 "), Some(1250));
        assert_eq!(parse_price("€1,299.09"), Some(129_909));
        for junk in ["", "12.345", "-3", "1e3", "abc", ".5x", "1234567890"] {
            assert_eq!(parse_price(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn unknown_currency_is_written_after_the_amount() {
        assert_eq!(format_price(1000, "CHF"), "10.00 CHF");
    }
}
