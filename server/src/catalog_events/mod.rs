//! Catalog events: admin changes are written to an outbox in the same transaction as the change (`app::admin`);
//! the worker relays the outbox to Kafka (`outbox`, which also relays the server-recorded clickstream events) and
//! turns `catalog.v1` events into notifications (`notifications`).

pub mod notifications;
pub mod outbox;
