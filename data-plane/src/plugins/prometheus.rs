//! `prometheus` log phase: turns one finished request (`LogRecord`) into the `kong_*` request,
//! latency, bandwidth and AI families defined in `metrics` (request-level series through
//! per-thread resolved handles, `handles`).

use std::sync::Arc;

use proto::schema::plugins::prometheus::PrometheusConfig;

use crate::llm::AiAnalytics;
use crate::metrics::Metrics;
use crate::plugins::ai_mcp_proxy::McpRpc;

mod handles;

use handles::{AiTiming, Direction, Latency, WORKSPACE};

/// What the log phase knows about one routed request.
#[derive(Debug, Clone, Default)]
pub struct LogRecord {
    pub service: Arc<str>,
    pub route: Arc<str>,
    pub consumer: Option<String>,
    pub status: u16,
    /// The response came from the upstream service (else Kong made it).
    pub from_service: bool,
    pub kong_latency_ms: f64,
    pub upstream_latency_ms: Option<f64>,
    pub request_latency_ms: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub ai: Option<AiAnalytics>,
    /// The JSON-RPC call of an `ai-mcp-proxy` request.
    pub mcp: Option<McpRpc>,
    /// Request facts for Kong's log serializer, captured only when a log plugin applies.
    pub log: Option<Box<crate::plugins::log::capture::Capture>>,
}

/// Records `rec` under the flags of the prometheus instance that applied to the request.
pub fn log(metrics: &Metrics, cfg: &PrometheusConfig, rec: &LogRecord) {
    let consumer = match (&rec.consumer, cfg.per_consumer) {
        (Some(c), true) => c.as_str(),
        _ => "",
    };
    let (service, route) = (&*rec.service, &*rec.route);
    if cfg.status_code_metrics || cfg.latency_metrics || cfg.bandwidth_metrics {
        handles::with(metrics, service, route, consumer, |h| {
            if cfg.status_code_metrics {
                h.requests(metrics, rec.status, rec.from_service).inc();
            }
            if cfg.latency_metrics {
                h.latency(metrics, Latency::Kong)
                    .observe(rec.kong_latency_ms);
                if let Some(u) = rec.upstream_latency_ms.filter(|u| *u >= 0.0) {
                    h.latency(metrics, Latency::Upstream).observe(u);
                }
                h.latency(metrics, Latency::Request)
                    .observe(rec.request_latency_ms);
            }
            if cfg.bandwidth_metrics {
                for (dir, n) in [
                    (Direction::Ingress, rec.bytes_in),
                    (Direction::Egress, rec.bytes_out),
                ] {
                    if n > 0 {
                        h.bandwidth(metrics, dir).inc_by(n);
                    }
                }
            }
        });
    }
    if let Some(ai) = rec.ai.as_ref().filter(|a| a.log_statistics) {
        if cfg.ai_metrics_enabled() {
            log_ai(metrics, ai);
        }
    }
    if let Some(mcp) = rec.mcp.as_ref().filter(|m| m.log_statistics) {
        if cfg.ai_metrics_enabled() {
            log_mcp(metrics, rec, mcp);
        }
    }
}

/// `kong_ai_mcp_*` for one `ai-mcp-proxy` request.
fn log_mcp(metrics: &Metrics, rec: &LogRecord, mcp: &McpRpc) {
    let labels = [
        &rec.service,
        &rec.route,
        mcp.method.as_str(),
        WORKSPACE,
        mcp.tool_name.as_str(),
    ];
    metrics
        .mcp_latency
        .with_label_values(&labels)
        .observe(rec.request_latency_ms);
    metrics
        .mcp_body_size
        .with_label_values(&labels)
        .observe(rec.bytes_out as f64);
    if let Some(kind) = mcp.error_type(rec.status) {
        metrics
            .mcp_errors
            .with_label_values(&[
                labels[0],
                labels[1],
                kind.as_str(),
                labels[2],
                WORKSPACE,
                labels[4],
            ])
            .inc();
    }
}

fn log_ai(metrics: &Metrics, ai: &AiAnalytics) {
    let (provider, model) = (ai.provider.as_str(), ai.request_model.as_str());
    handles::with_ai(metrics, provider, model, |h| {
        h.requests(metrics).inc();
        let cost = ai.cost();
        if cost > 0.0 {
            h.cost(metrics).inc_by(cost);
        }
        let tokens = [
            ai.usage.prompt_tokens,
            ai.usage.completion_tokens,
            ai.usage.total_tokens,
        ];
        for (i, n) in tokens.into_iter().enumerate() {
            if n > 0 {
                if let Some(c) = h.tokens(metrics, i) {
                    c.inc_by(n);
                }
            }
        }
        if let Some(l) = ai.llm_latency_ms.filter(|l| *l >= 0.0) {
            h.timing(metrics, AiTiming::Latency).observe(l);
        }
        if let Some(t) = ai.ttft_ms.filter(|t| *t >= 0.0) {
            h.timing(metrics, AiTiming::Ttft).observe(t);
        }
        if let Some(t) = ai.tpot_ms().filter(|t| *t >= 0.0) {
            h.timing(metrics, AiTiming::Tpot).observe(t);
        }
    });
    let labels = [provider, model];
    for m in &ai.mcp {
        metrics
            .ai_mcp_calls
            .with_label_values(&[
                labels[0],
                labels[1],
                m.server_label.as_str(),
                m.tool.as_str(),
                m.kind.as_str(),
                m.status.as_str(),
                WORKSPACE,
            ])
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Usage;

    fn record() -> LogRecord {
        LogRecord {
            service: "svc".into(),
            route: "r".into(),
            consumer: Some("alice".into()),
            status: 200,
            from_service: true,
            kong_latency_ms: 1.0,
            upstream_latency_ms: Some(30.0),
            request_latency_ms: 31.0,
            bytes_in: 10,
            bytes_out: 20,
            ai: Some(AiAnalytics {
                provider: "openai".into(),
                request_model: "gpt-4".into(),
                response_model: "gpt-4-0613".into(),
                llm_latency_ms: Some(300.0),
                usage: Usage {
                    prompt_tokens: 25,
                    completion_tokens: 12,
                    total_tokens: 37,
                },
                input_cost: Some(10.0),
                output_cost: Some(10.0),
                log_statistics: true,
                ..Default::default()
            }),
            mcp: None,
            log: None,
        }
    }

    #[test]
    fn status_code_and_ai_families() {
        let m = Metrics::new("n", "v").unwrap();
        let cfg = PrometheusConfig {
            status_code_metrics: true,
            ..Default::default()
        };
        log(&m, &cfg, &record());
        let t = m.render();
        assert!(t.contains("kong_http_requests_total{service=\"svc\",route=\"r\",code=\"200\",source=\"service\",workspace=\"default\",consumer=\"\"} 1"), "{t}");
        let ai = "ai_provider=\"openai\",ai_model=\"gpt-4\",cache_status=\"\",vector_db=\"\",embeddings_provider=\"\",embeddings_model=\"\"";
        assert!(t.contains(&format!(
            "kong_ai_llm_requests_total{{{ai},workspace=\"default\"}} 1"
        )));
        assert!(t.contains(&format!(
            "kong_ai_llm_cost_total{{{ai},workspace=\"default\"}} 0.00037"
        )));
        assert!(t.contains(&format!("kong_ai_llm_tokens_total{{{ai},token_type=\"prompt_tokens\",workspace=\"default\"}} 25")));
        assert!(t.contains("kong_ai_llm_provider_latency_ms_bucket{"));
        assert!(!t.contains("kong_kong_latency_ms_bucket"));
        assert!(!t.contains("kong_bandwidth_bytes{"));
    }

    #[test]
    fn ai_metrics_off_and_per_consumer_bandwidth() {
        let m = Metrics::new("n", "v").unwrap();
        let cfg = PrometheusConfig {
            ai_metrics: Some(false),
            per_consumer: true,
            bandwidth_metrics: true,
            latency_metrics: true,
            ..Default::default()
        };
        log(&m, &cfg, &record());
        let t = m.render();
        assert!(!t.contains("kong_ai_llm_requests_total{"));
        assert!(t.contains("kong_bandwidth_bytes{service=\"svc\",route=\"r\",direction=\"egress\",workspace=\"default\",consumer=\"alice\"} 20"), "{t}");
        assert!(t.contains("kong_upstream_latency_ms_bucket{service=\"svc\",route=\"r\",workspace=\"default\",le=\"50\"} 1"));
    }

    #[test]
    fn no_log_statistics_no_ai_metrics() {
        let m = Metrics::new("n", "v").unwrap();
        let mut rec = record();
        if let Some(a) = rec.ai.as_mut() {
            a.log_statistics = false;
        }
        log(&m, &PrometheusConfig::default(), &rec);
        assert!(!m.render().contains("kong_ai_llm_requests_total{"));
    }
}
