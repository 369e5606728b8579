//! Cartograph's server: the web process (SSR, server functions, sign-in, the clickstream producer endpoint)
//! and the worker (Kafka consumer group). `main.rs` picks one; tests start them in-process.

pub mod auth;
pub mod config;
pub mod db;
pub mod http;
pub mod journey;
pub mod kafka;
pub mod prometheus;
pub mod seed;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tracking;
pub mod visit;
pub mod worker;
