//! Cartograph's server: the web process (SSR, server functions, sign-in, the clickstream producer endpoint)
//! and the worker (Kafka consumer groups and background jobs). `main.rs` picks one; tests start them in-process.
//!
//! Modules are arranged by flow (`clickstream`, `journey`, `catalog_events`, `orders`, `auth`), with what the
//! flows share beside them (`state`, `config`, `kafka`, `db`, `http`); `startup` builds the web process and
//! `worker` the worker. `docs/architecture.md` has the map and the rules between modules.
// The page views are deeply nested types (leptos 0.8 view types), laid out when this crate renders them.
#![recursion_limit = "256"]

pub mod auth;
pub mod catalog_events;
pub mod clickstream;
pub mod client_ip;
pub mod config;
pub mod consume;
pub mod db;
pub mod email;
pub mod graphql;
pub mod health;
pub mod http;
pub mod journey;
pub mod kafka;
pub mod live;
pub mod orders;
pub mod prometheus;
pub mod retention;
pub mod seed;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;
pub mod webhooks;
pub mod worker;
