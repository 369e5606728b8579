//! The clickstream, from the browser to PostgreSQL: the producer endpoint validates a batch and produces it to
//! Kafka (`endpoint`, with the limits in `limits` and the visit cookie in `visit`); the worker's consumer stores
//! each event exactly once (`consumer`, with the SQL in `store`).

pub mod consumer;
mod endpoint;
pub mod limits;
mod producer;
pub mod store;
pub mod visit;

pub use endpoint::{collect, is_bot, validate_batch, BatchVerdict, CollectLimits, CollectState, VISIT_FULL};
pub use producer::{ClickstreamProducer, ProduceError};
