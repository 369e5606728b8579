//! The idempotency key of a payment attempt, as the payment form sends it.

use super::pay::OUT_OF_DATE;
use crate::error::AppError;

/// A checked idempotency key: 8 to 128 ASCII letters, digits and dashes, surrounding whitespace trimmed. The same
/// key (per shopper) never charges twice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Trims and checks a key from the payment form; a key that is not one the form would send means the form is
    /// out of date.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let key = raw.trim();
        if !(8..=128).contains(&key.len()) || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(AppError::Invalid(OUT_OF_DATE.into()));
        }
        Ok(Self(key.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
