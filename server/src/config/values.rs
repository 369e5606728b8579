//! How setting values are written in the file and the environment: a duration as a whole number in the unit its
//! key names (`_secs`, `_ms`, `_minutes`, `_days`), so `CARTOGRAPH_RESERVATION_MINUTES=15` means what it always
//! meant; positive numbers that refuse 0 as they are read; secrets that never serialize.
//!
//! A refusal here says only what is wrong (`must be positive (got 0)`): [`super::describe`] puts the setting's
//! environment variable in front.

use serde::{de::Error as _, Deserialize, Deserializer, Serializer};
use std::time::Duration;

/// What a secret serializes as (in `check-config`, and in any figment built from a [`super::Settings`]).
pub const HIDDEN: &str = "***";

/// A duration of `count` units of `unit_ms` milliseconds, refusing 0 when `positive`.
fn read<'de, D: Deserializer<'de>>(d: D, unit_ms: u64, positive: bool) -> Result<Duration, D::Error> {
    let count = u64::deserialize(d)?;
    if positive && count == 0 {
        return Err(D::Error::custom("must be positive (got 0)"));
    }
    count
        .checked_mul(unit_ms)
        .map(Duration::from_millis)
        .ok_or_else(|| D::Error::custom(format!("is too large (got {count})")))
}

fn write<S: Serializer>(duration: &Duration, unit_ms: u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(duration.as_millis() / u128::from(unit_ms)).unwrap_or(u64::MAX))
}

macro_rules! duration_in {
    ($($(#[$doc:meta])* $module:ident: $unit_ms:expr, positive: $positive:expr;)*) => {$(
        $(#[$doc])*
        pub mod $module {
            use serde::{Deserializer, Serializer};
            use std::time::Duration;

            pub fn serialize<S: Serializer>(duration: &Duration, s: S) -> Result<S::Ok, S::Error> {
                super::write(duration, $unit_ms, s)
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
                super::read(d, $unit_ms, $positive)
            }
        }
    )*};
}

duration_in! {
    /// Whole seconds.
    secs: 1_000, positive: false;
    /// Whole seconds, at least one.
    positive_secs: 1_000, positive: true;
    /// Whole milliseconds.
    ms: 1, positive: false;
    /// Whole milliseconds, at least one.
    positive_ms: 1, positive: true;
    /// Whole minutes.
    minutes: 60_000, positive: false;
    /// Whole minutes, at least one.
    positive_minutes: 60_000, positive: true;
}

/// Whole days, where 0 means forever (`None`).
pub mod days_or_forever {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    const DAY_SECS: u64 = 86_400;

    pub fn serialize<S: Serializer>(duration: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(duration.map_or(0, |duration| duration.as_secs() / DAY_SECS))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match u64::deserialize(d)? {
            0 => Ok(None),
            days => days
                .checked_mul(DAY_SECS)
                .map(|secs| Some(Duration::from_secs(secs)))
                .ok_or_else(|| D::Error::custom(format!("is too large (got {days})"))),
        }
    }
}

/// A rate that must be above 0 (NaN is not).
pub fn positive_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(D::Error::custom(format!("must be positive (got {value})")))
    }
}

/// A count kept signed for its users (Kafka's partition counts are `i32`) that must be at least 1.
pub fn at_least_one<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    let value = i32::deserialize(d)?;
    if value >= 1 {
        Ok(value)
    } else {
        Err(D::Error::custom(format!("must be at least 1 (got {value})")))
    }
}

/// A secret serializes as [`HIDDEN`] (or as nothing when unset), never as itself.
pub fn hidden<S: Serializer, T>(secret: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => s.serialize_some(HIDDEN),
        None => s.serialize_none(),
    }
}
