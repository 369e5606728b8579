//! Catalog events: admin changes are written to an outbox in the same transaction as the change (`app::admin`);
//! the worker relays the outbox to Kafka (`outbox`, which also relays the server-recorded clickstream events) and
//! turns `catalog.v1` events into notifications (`notifications`). Every web server also listens to `catalog.v1`
//! to empty its catalog cache (`cache`).

pub mod cache;
pub mod notifications;
pub mod outbox;
