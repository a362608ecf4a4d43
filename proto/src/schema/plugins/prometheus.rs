//! `prometheus` config: which metric families a request feeds.
//!
//! One deliberate difference from Kong: `ai_metrics` has no default (null). Unset, AI metrics are
//! exported whenever the AI plugin logs statistics (what Kong's MCP tutorial shows); only an
//! explicit `false` turns them off.

use serde::{Deserialize, Serialize};

pub const PRIORITY: i32 = 13;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    #[serde(default)]
    pub per_consumer: bool,
    #[serde(default)]
    pub status_code_metrics: bool,
    #[serde(default)]
    pub ai_metrics: Option<bool>,
    #[serde(default)]
    pub latency_metrics: bool,
    #[serde(default)]
    pub bandwidth_metrics: bool,
    #[serde(default)]
    pub upstream_health_metrics: bool,
    #[serde(default)]
    pub wasm_metrics: bool,
}

impl PrometheusConfig {
    /// Whether a request whose AI plugin logs statistics feeds the `kong_ai_*` families.
    pub fn ai_metrics_enabled(&self) -> bool {
        self.ai_metrics != Some(false)
    }
}
