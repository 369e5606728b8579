//! Shared by `cartograph-bench` and `cartograph-load`: how they end, latency percentiles, and signing in as a
//! browser does.

pub mod exit;
pub mod latency;
pub mod sign_in;
