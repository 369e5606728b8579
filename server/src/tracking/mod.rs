//! The clickstream producer endpoint: validate a batch from the browser, produce it to Kafka.

mod collect;
mod producer;
pub mod rate_limit;

pub use collect::{collect, is_bot, validate_batch, BatchVerdict, CollectLimits, VISIT_FULL};
pub use producer::{ClickstreamProducer, ProduceError};
