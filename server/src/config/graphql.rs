//! `[graphql]`: the API at `/graphql` (`crate::graphql`).
//!
//! | key | environment variable | default |
//! |---|---|---|
//! | `rate_per_token` | `CARTOGRAPH_GRAPHQL_RATE_PER_TOKEN` | 20 requests a second per API token (above 0) |
//! | `burst_per_token` | `CARTOGRAPH_GRAPHQL_BURST_PER_TOKEN` | 40 requests at once per token (at least 1) |
//! | `introspection` | `CARTOGRAPH_GRAPHQL_INTROSPECTION` | true: clients may read the schema |
//! | `allowlist` | `CARTOGRAPH_GRAPHQL_ALLOWLIST` | none: any query runs; a path to a persisted-query manifest runs only its operations |

use super::values;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GraphqlSettings {
    #[serde(deserialize_with = "values::positive_f64")]
    pub rate_per_token: f64,
    #[serde(deserialize_with = "values::positive_f64")]
    pub burst_per_token: f64,
    pub introspection: bool,
    pub allowlist: Option<String>,
}

impl Default for GraphqlSettings {
    fn default() -> Self {
        Self { rate_per_token: 20.0, burst_per_token: 40.0, introspection: true, allowlist: None }
    }
}
