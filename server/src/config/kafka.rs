//! `[kafka]`: the brokers, the topics and the worker's consumer group, and `[kafka.properties]`: librdkafka
//! properties passed through to every client.
//!
//! | key | environment variable | default |
//! |---|---|---|
//! | `brokers` | `CARTOGRAPH_KAFKA_BROKERS` | dev: [`dev_defaults::KAFKA_BROKERS`](super::dev_defaults::KAFKA_BROKERS); production: required |
//! | `topic_prefix` | `CARTOGRAPH_KAFKA_TOPIC_PREFIX` | empty |
//! | `partitions` | `CARTOGRAPH_KAFKA_PARTITIONS` | 3 (at least 1) |
//! | `consumer_group` | `CARTOGRAPH_KAFKA_CONSUMER_GROUP` | `cartograph-worker` |
//! | `group_member` | `CARTOGRAPH_KAFKA_GROUP_MEMBER` | unset |
//! | `properties.<name>` | `CARTOGRAPH_KAFKA__<NAME>` | none; e.g. `CARTOGRAPH_KAFKA__SECURITY_PROTOCOL=SASL_SSL` is `security.protocol` (underscores read as dots) |
//!
//! `CARTOGRAPH_KAFKA__<NAME>` is always a librdkafka property: this section's own keys keep their flat names.

use super::values;
use crate::kafka::{Connection, KafkaProperties};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    pub brokers: Option<String>,
    /// librdkafka properties for every Kafka client (TLS, SASL…): `CARTOGRAPH_KAFKA__SECURITY_PROTOCOL=SASL_SSL`.
    pub properties: KafkaProperties,
    /// Prepended to every topic name (isolates tests and tenants on a shared cluster).
    pub topic_prefix: String,
    /// Partitions of the topics the app creates.
    #[serde(deserialize_with = "values::at_least_one")]
    pub partitions: i32,
    pub consumer_group: String,
    /// This worker's stable name in its consumer group (e.g. a StatefulSet pod name), making it a static
    /// member: restarted after a crash under the same name, it resumes its partitions at once. Unset, a
    /// crashed worker's partitions wait until the broker expires it.
    pub group_member: Option<String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            brokers: None,
            properties: KafkaProperties::default(),
            topic_prefix: String::new(),
            partitions: 3,
            consumer_group: "cartograph-worker".into(),
            group_member: None,
        }
    }
}

impl KafkaSettings {
    /// The broker list; always present after [`super::Settings::complete`].
    pub fn brokers(&self) -> &str {
        self.brokers.as_deref().unwrap_or_default()
    }

    /// The brokers with the operator's client properties.
    pub fn connection(&self) -> Connection {
        Connection::new(self.brokers(), self.properties.clone())
    }

    /// Whether a broker off this machine is reached without TLS (production warns at every start).
    pub fn crosses_the_network_in_plaintext(&self) -> bool {
        let protocol = self
            .properties
            .iter()
            .find(|(name, _)| *name == "security.protocol")
            .map(|(_, value)| value.to_ascii_lowercase());
        let plaintext = matches!(protocol.as_deref(), None | Some("plaintext") | Some("sasl_plaintext"));
        plaintext
            && self.brokers().split(',').any(|broker| !super::is_loopback_url(&format!("kafka://{}", broker.trim())))
    }

    /// No property Cartograph sets itself is passed through.
    pub(super) fn check(&self) -> Result<(), String> {
        match self.properties.refused()[..] {
            [first, ..] => Err(format!(
                "the Kafka property {first} cannot be passed through (CARTOGRAPH_KAFKA__*): Cartograph sets it itself"
            )),
            [] => Ok(()),
        }
    }
}
