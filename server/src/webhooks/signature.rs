//! The signature on every delivery, in the `Cartograph-Signature` header: `t=<unix seconds>,v1=<hex>`, where
//! `<hex>` is HMAC-SHA256, keyed with the endpoint's secret (the whole `whsec_…` string as bytes), of
//! `"<t>.<body>"`. A receiver recomputes it over the raw body, compares in constant time, and refuses a `t` more
//! than a few minutes old (a replayed capture). The README has the recipe in a few lines of Node.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header that carries the signature.
pub const HEADER: &str = "cartograph-signature";

/// HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`, in lower-case hex.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The header's value for a body sent at `timestamp`.
pub fn header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", sign(secret, timestamp, body))
}

/// Whether `header` signs `body` under `secret` with a timestamp within `tolerance` seconds of `now`: what a
/// receiver does (the tests use it as one).
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp.filter(|t| (now - t).abs() <= tolerance) else { return false };
    let expected = sign(secret, timestamp, body);
    signatures.iter().any(|signature| subtle::ConstantTimeEq::ct_eq(signature.as_bytes(), expected.as_bytes()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_matches_an_independent_hmac() {
        // `printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test`
        assert_eq!(
            sign("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn only_the_same_body_secret_and_a_fresh_time_verify() {
        let value = header("whsec_a", 1_000, b"body");
        assert!(verify("whsec_a", &value, b"body", 1_100, 300));
        assert!(!verify("whsec_b", &value, b"body", 1_100, 300), "another secret");
        assert!(!verify("whsec_a", &value, b"bodY", 1_100, 300), "another body");
        assert!(!verify("whsec_a", &value, b"body", 1_400, 300), "too old");
        assert!(!verify("whsec_a", "v1=abc", b"body", 1_000, 300), "no timestamp");
        let forged = value.replace("t=1000", "t=1100");
        assert!(!verify("whsec_a", &forged, b"body", 1_100, 300), "a moved timestamp");
    }
}
