//! Integration tests: the real app on a random port, a fresh database each, the real broker and provider.
//! The support code is `helpers` (a `TestApp` and its builder, a shopper's actions as its methods, the services a
//! test may stop); no test module uses another.

mod admin;
mod architecture;
mod auth;
mod auth_forgery;
mod breakers;
mod broker_outage;
mod bundle;
mod catalog;
mod commerce;
mod database_tls;
mod email;
mod faults;
mod graphql;
mod headers;
mod helpers;
mod hostile;
mod insights;
mod journeys;
mod live;
mod observability;
mod payments;
mod promotions;
mod provider_tls;
mod recommend;
mod reminders;
mod retention;
mod scale;
mod sessions;
mod shipments;
mod shipping;
mod slow_clients;
mod startup;
mod tax;
mod tracking;
mod variants;
mod webhooks;
