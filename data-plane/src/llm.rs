//! LLM side of the AI plugins: provider dispatch (`provider`, `endpoint`) and one module per
//! wire format (`openai`, `anthropic`, `gemini`, `cohere`, `ollama`, `bedrock`) with the
//! non-chat route types (`completions`, `embeddings`), stream re-framing
//! (`stream`, `stream_body`), SSE usage accounting (`sse`), target balancing (`balancer`) and
//! the per-request analytics the log phase reads.

pub mod anthropic;
pub mod balancer;
pub mod bedrock;
pub mod chunk;
pub mod cohere;
pub mod completions;
pub mod embeddings;
pub mod endpoint;
pub mod error;
pub mod estimate;
pub mod eventstream;
pub mod gemini;
pub mod llama2;
pub mod mcp;
pub mod ollama;
pub mod openai;
pub mod provider;
pub mod reply;
pub mod sigv4;
pub mod sse;
pub mod stream;
pub mod stream_body;
pub mod template;
pub mod validate;

/// Token counts reported by the provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

impl Usage {
    /// Fills `total_tokens` from its parts when the provider did not.
    pub fn normalized(mut self) -> Self {
        if self.total_tokens == 0 {
            self.total_tokens = self.prompt_tokens + self.completion_tokens;
        }
        self
    }
}

/// What one AI request logs (Kong's `ai.proxy.meta` + `ai.proxy.usage`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AiAnalytics {
    pub plugin_id: String,
    pub provider: String,
    pub request_model: String,
    pub response_model: String,
    /// Milliseconds from the start of the request to the upstream response headers.
    pub llm_latency_ms: Option<f64>,
    pub usage: Usage,
    pub input_cost: Option<f64>,
    pub output_cost: Option<f64>,
    /// `logging.log_statistics` of the target that served (or would have served) the request.
    pub log_statistics: bool,
    /// `logging.log_payloads` of that target: log plugins get the client's request body.
    pub log_payloads: bool,
    /// Milliseconds from the start of the request to the first streamed token (streams), or
    /// to the whole reply (non-streamed).
    pub ttft_ms: Option<f64>,
    /// Milliseconds from the first to the last streamed chunk (streams only).
    pub generation_ms: Option<f64>,
    /// MCP items seen in a Responses API reply.
    pub mcp: Vec<mcp::McpItem>,
    /// Kong's prompt estimate, used when the reply has no usage.
    pub prompt_estimate: u64,
    /// The body the client got (`ai.proxy.payload.response`, with `log_payloads`); for streams
    /// Kong's composite `chat.completion` of the streamed text.
    pub response_payload: Option<String>,
    /// Whether the reply was streamed (`meta.request_mode`: `stream` or `oneshot`).
    pub stream: bool,
    /// Azure targets: `meta.azure_instance_id`, `azure_deployment_id`, `azure_api_version`.
    pub azure: Option<AzureMeta>,
}

/// The Azure deployment a request went to, as Kong logs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AzureMeta {
    pub instance_id: String,
    pub deployment_id: String,
    pub api_version: String,
}

impl AiAnalytics {
    /// (prompt × input_cost + completion × output_cost) / 1e6 when both costs are set.
    pub fn cost(&self) -> f64 {
        match (self.input_cost, self.output_cost) {
            (Some(i), Some(o)) => {
                (self.usage.prompt_tokens as f64 * i + self.usage.completion_tokens as f64 * o)
                    / 1e6
            }
            _ => 0.0,
        }
    }

    /// llm_latency / completion_tokens (0 without completion tokens).
    pub fn time_per_token(&self) -> f64 {
        match (self.llm_latency_ms, self.usage.completion_tokens) {
            (Some(l), n) if n > 0 => l / n as f64,
            _ => 0.0,
        }
    }

    /// Time per output token: the streamed generation time (after the first token) per
    /// further token, else Kong's `time_per_token`. `None` without completion tokens.
    pub fn tpot_ms(&self) -> Option<f64> {
        let n = self.usage.completion_tokens;
        match (self.generation_ms, n) {
            (_, 0) => None,
            (Some(g), n) => Some(g / n.saturating_sub(1).max(1) as f64),
            (None, _) => Some(self.time_per_token()),
        }
    }

    /// Usage from Kong's estimates: the prompt estimate and `completion` tokens.
    pub fn estimated(&self, completion: u64) -> Usage {
        Usage {
            prompt_tokens: self.prompt_estimate,
            completion_tokens: completion,
            total_tokens: 0,
        }
        .normalized()
    }

    /// Reads a non-streamed (OpenAI-format) reply: usage, response model, MCP items.
    pub fn observe_response(&mut self, v: &serde_json::Value) {
        match openai::usage(v) {
            Some(u) => self.usage = u,
            None => self.usage = self.estimated(0),
        }
        if let Some(m) = v["model"].as_str() {
            self.response_model = m.to_string();
        }
        self.mcp = mcp::McpItem::from_response(v);
        self.ttft_ms = self.llm_latency_ms;
    }

    /// `observe_response` from the fast read of a reply without MCP items (`reply::observe`).
    pub fn observe_reply(&mut self, r: reply::Observed) {
        self.usage = match r.usage {
            Some(u) => u,
            None => self.estimated(0),
        };
        if let Some(m) = r.model {
            self.response_model = m;
        }
        self.mcp = Vec::new();
        self.ttft_ms = self.llm_latency_ms;
    }

    /// The serialized `ai.proxy` log object.
    pub fn to_log_json(&self) -> serde_json::Value {
        let mut meta = serde_json::json!({
            "plugin_id": self.plugin_id,
            "provider_name": self.provider,
            "request_model": self.request_model,
            "response_model": self.response_model,
            "llm_latency": self.llm_latency_ms.unwrap_or(0.0),
            "request_mode": if self.stream { "stream" } else { "oneshot" },
        });
        if let Some(a) = &self.azure {
            meta["azure_instance_id"] = a.instance_id.clone().into();
            meta["azure_deployment_id"] = a.deployment_id.clone().into();
            meta["azure_api_version"] = a.api_version.clone().into();
        }
        serde_json::json!({
            "meta": meta,
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "total_tokens": self.usage.total_tokens,
                "time_per_token": self.time_per_token(),
                "time_to_first_token": self.ttft_ms.unwrap_or(0.0),
                "cost": self.cost(),
            },
            "mcp": self.mcp.iter().map(mcp::McpItem::to_log_json).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_needs_both_prices() {
        let mut a = AiAnalytics {
            usage: Usage {
                prompt_tokens: 25,
                completion_tokens: 12,
                total_tokens: 37,
            },
            input_cost: Some(10.0),
            output_cost: Some(10.0),
            llm_latency_ms: Some(120.0),
            ..Default::default()
        };
        assert!((a.cost() - 0.00037).abs() < 1e-12);
        assert!((a.time_per_token() - 10.0).abs() < 1e-9);
        a.output_cost = None;
        assert_eq!(a.cost(), 0.0);
    }

    #[test]
    fn log_meta_has_request_mode_and_azure_deployment() {
        let mut a = AiAnalytics {
            provider: "azure".into(),
            azure: Some(AzureMeta {
                instance_id: "kong-az-east".into(),
                deployment_id: "gpt4o-dep".into(),
                api_version: "2024-02-01".into(),
            }),
            ..Default::default()
        };
        let meta = &a.to_log_json()["meta"];
        assert_eq!(meta["request_mode"], "oneshot");
        assert_eq!(meta["azure_instance_id"], "kong-az-east");
        assert_eq!(meta["azure_deployment_id"], "gpt4o-dep");
        assert_eq!(meta["azure_api_version"], "2024-02-01");
        a.stream = true;
        a.azure = None;
        let meta = &a.to_log_json()["meta"];
        assert_eq!(meta["request_mode"], "stream");
        assert!(meta.get("azure_instance_id").is_none());
    }

    #[test]
    fn total_is_filled() {
        let u = Usage {
            prompt_tokens: 3,
            completion_tokens: 4,
            total_tokens: 0,
        };
        assert_eq!(u.normalized().total_tokens, 7);
    }
}
