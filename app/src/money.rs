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

fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::format_price;

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
    fn unknown_currency_is_written_after_the_amount() {
        assert_eq!(format_price(1000, "CHF"), "10.00 CHF");
    }
}
