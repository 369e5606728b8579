//! The clickstream producer endpoint: validate a batch from the browser, produce it to Kafka.

mod collect;
mod producer;

pub use collect::{collect, validate_batch, BatchVerdict};
pub use producer::ClickstreamProducer;
