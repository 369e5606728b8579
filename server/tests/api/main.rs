//! Integration tests: the real app on a random port, a fresh database each, the real broker and provider.

mod admin;
mod auth;
mod auth_forgery;
mod breakers;
mod broker_outage;
mod bundle;
mod commerce;
mod database_tls;
mod fake_provider;
mod faults;
mod shop;
mod slow_clients;
mod catalog;
mod headers;
mod helpers;
mod hostile;
mod journeys;
mod observability;
mod payments;
mod sessions;
mod retention;
mod startup;
mod tracking;
