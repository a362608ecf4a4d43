//! `ai-proxy-advanced` config: several model targets behind one route, and how to balance them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ai::{self, Auth, Logging, Model, RouteType};
use crate::schema::entities::between;
use crate::schema::error::FieldError;

pub const PRIORITY: i32 = 770;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiProxyAdvancedConfig {
    pub targets: Vec<Target>,
    #[serde(default)]
    pub balancer: Balancer,
    #[serde(default)]
    pub embeddings: Option<Value>,
    #[serde(default)]
    pub vectordb: Option<Value>,
    #[serde(default)]
    pub acls: Option<Value>,
    #[serde(default = "ai::default_response_streaming")]
    pub response_streaming: String,
    #[serde(default = "ai::default_max_body")]
    pub max_request_body_size: u64,
    #[serde(default = "ai::yes")]
    pub model_name_header: bool,
    #[serde(default = "ai::default_llm_format")]
    pub llm_format: String,
    #[serde(default = "ai::default_genai_category")]
    pub genai_category: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub route_type: RouteType,
    pub model: Model,
    #[serde(default)]
    pub auth: Option<Auth>,
    #[serde(default)]
    pub logging: Logging,
    #[serde(default = "default_weight")]
    pub weight: u32,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    RoundRobin,
    LowestLatency,
    LowestUsage,
    ConsistentHashing,
    Semantic,
    Priority,
    LeastConnections,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Balancer {
    #[serde(default = "default_algorithm")]
    pub algorithm: Algorithm,
    #[serde(default = "default_tokens_count_strategy")]
    pub tokens_count_strategy: String,
    #[serde(default = "default_latency_strategy")]
    pub latency_strategy: String,
    #[serde(default = "default_hash_header")]
    pub hash_on_header: String,
    #[serde(default = "default_slots")]
    pub slots: u32,
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_timeout")]
    pub connect_timeout: u64,
    #[serde(default = "default_timeout")]
    pub read_timeout: u64,
    #[serde(default = "default_timeout")]
    pub write_timeout: u64,
    #[serde(default = "default_failover")]
    pub failover_criteria: Vec<String>,
    #[serde(default)]
    pub max_fails: u32,
    #[serde(default = "default_fail_timeout")]
    pub fail_timeout: u64,
}

impl Default for Balancer {
    fn default() -> Self {
        Self {
            algorithm: default_algorithm(),
            tokens_count_strategy: default_tokens_count_strategy(),
            latency_strategy: default_latency_strategy(),
            hash_on_header: default_hash_header(),
            slots: default_slots(),
            retries: default_retries(),
            connect_timeout: default_timeout(),
            read_timeout: default_timeout(),
            write_timeout: default_timeout(),
            failover_criteria: default_failover(),
            max_fails: 0,
            fail_timeout: default_fail_timeout(),
        }
    }
}

impl AiProxyAdvancedConfig {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if self.targets.is_empty() {
            errs.push(FieldError::new("targets", "length must be at least 1"));
        }
        for (i, t) in self.targets.iter().enumerate() {
            let at = format!("targets[{i}]");
            errs.extend(
                ai::validate_model(&t.model, t.auth.as_ref())
                    .into_iter()
                    .chain(ai::providers::validate(&t.model, t.route_type, &t.logging))
                    .map(|e| e.under(&at)),
            );
            if !(1..=65535).contains(&t.weight) {
                errs.push(between(&format!("{at}.weight"), 1, 65535));
            }
        }
        if self.balancer.algorithm == Algorithm::Semantic {
            errs.push(FieldError::new(
                "balancer.algorithm",
                "'semantic' is not supported by this gateway yet",
            ));
        }
        let b = &self.balancer;
        for (f, v) in [
            ("connect_timeout", b.connect_timeout),
            ("read_timeout", b.read_timeout),
            ("write_timeout", b.write_timeout),
            ("fail_timeout", b.fail_timeout),
        ] {
            if !(1..=2_147_483_646).contains(&v) {
                errs.push(between(&format!("balancer.{f}"), 1, 2_147_483_646));
            }
        }
        if b.max_fails > 32767 {
            errs.push(between("balancer.max_fails", 0, 32767));
        }
        if !(10..=65536).contains(&b.slots) {
            errs.push(between("balancer.slots", 10, 65536));
        }
        const CRITERIA: &[&str] = &[
            "error",
            "http_403",
            "http_404",
            "http_429",
            "http_500",
            "http_502",
            "http_503",
            "http_504",
            "invalid_header",
            "non_idempotent",
            "timeout",
        ];
        for (i, c) in b.failover_criteria.iter().enumerate() {
            if !CRITERIA.contains(&c.as_str()) {
                errs.push(FieldError::new(
                    format!("balancer.failover_criteria[{i}]"),
                    format!("expected one of: {}", CRITERIA.join(", ")),
                ));
            }
        }
        const STRATEGIES: &[&str] = &[
            "completion-tokens",
            "cost",
            "llm-accuracy",
            "prompt-tokens",
            "total-tokens",
        ];
        if !STRATEGIES.contains(&b.tokens_count_strategy.as_str()) {
            errs.push(FieldError::new(
                "balancer.tokens_count_strategy",
                format!("expected one of: {}", STRATEGIES.join(", ")),
            ));
        } else if b.tokens_count_strategy == "llm-accuracy" {
            errs.push(FieldError::new(
                "balancer.tokens_count_strategy",
                "'llm-accuracy' is not supported by this gateway yet",
            ));
        }
        if !matches!(b.latency_strategy.as_str(), "tpot" | "e2e") {
            errs.push(FieldError::new(
                "balancer.latency_strategy",
                "expected one of: e2e, tpot",
            ));
        }
        if self.balancer.retries > 32767 {
            errs.push(between("balancer.retries", 0, 32767));
        }
        errs.extend(ai::check_common(
            &self.response_streaming,
            &self.llm_format,
            &self.genai_category,
            true,
        ));
        errs
    }
}

fn default_weight() -> u32 {
    100
}
fn default_algorithm() -> Algorithm {
    Algorithm::RoundRobin
}
fn default_tokens_count_strategy() -> String {
    "total-tokens".into()
}
fn default_latency_strategy() -> String {
    "tpot".into()
}
fn default_hash_header() -> String {
    "X-Kong-LLM-Request-ID".into()
}
fn default_slots() -> u32 {
    10_000
}
fn default_retries() -> u32 {
    5
}
fn default_timeout() -> u64 {
    60_000
}
fn default_failover() -> Vec<String> {
    vec!["error".into(), "timeout".into()]
}
fn default_fail_timeout() -> u64 {
    10_000
}
