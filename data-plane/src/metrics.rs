//! Metrics: every Prometheus family the data plane exports, defined and registered here, and the
//! text rendering served on the status port's `/metrics` (labels in Kong's order, not sorted).

use prometheus::proto::MetricType;
use prometheus::{
    CounterVec, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts,
    Registry,
};

/// Buckets of `kong_kong_latency_ms` (Kong OSS exporter).
pub const KONG_LATENCY_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0, 75.0, 100.0, 200.0, 500.0, 750.0, 1000.0,
    3000.0, 6000.0,
];
/// Buckets of `kong_upstream_latency_ms` and `kong_request_latency_ms`.
pub const UPSTREAM_LATENCY_BUCKETS: &[f64] = &[
    25.0, 50.0, 80.0, 100.0, 250.0, 400.0, 700.0, 1000.0, 2000.0, 5000.0, 10000.0, 30000.0, 60000.0,
];
/// Buckets of `kong_ai_llm_provider_latency_ms`.
pub const AI_LATENCY_BUCKETS: &[f64] = &[
    250.0, 500.0, 1000.0, 1500.0, 2000.0, 2500.0, 3000.0, 3500.0, 4000.0, 4500.0, 5000.0, 10000.0,
    30000.0, 60000.0,
];

const HTTP_LABELS: &[&str] = &[
    "service",
    "route",
    "code",
    "source",
    "workspace",
    "consumer",
];
const LATENCY_LABELS: &[&str] = &["service", "route", "workspace"];
const UPSTREAM_HEALTH_LABELS: &[&str] = &["upstream", "target", "address", "state", "subsystem"];
/// The `state` values of `kong_upstream_target_health`, one series each (1 = current state).
const TARGET_STATES: &[&str] = &["healthchecks_off", "healthy", "unhealthy", "dns_error"];
const BANDWIDTH_LABELS: &[&str] = &["service", "route", "direction", "workspace", "consumer"];
/// Labels of the `kong_ai_llm_*` families (except tokens).
pub const AI_LABELS: &[&str] = &[
    "ai_provider",
    "ai_model",
    "cache_status",
    "vector_db",
    "embeddings_provider",
    "embeddings_model",
    "workspace",
];
/// Buckets of `kong_ai_llm_tpot_latency_ms` (ms per output token) [EE list unverified].
pub const AI_TPOT_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
];
/// Buckets of `kong_ai_mcp_response_body_size_bytes` [Kong's list unverified].
pub const MCP_BODY_BUCKETS: &[f64] = &[
    64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
];
/// Labels of `kong_ai_mcp_latency_ms` and `kong_ai_mcp_response_body_size_bytes` (EE).
pub const MCP_LABELS: &[&str] = &["service", "route", "method", "workspace", "tool_name"];
/// Labels of `kong_ai_mcp_error_total` (EE).
pub const MCP_ERROR_LABELS: &[&str] = &[
    "service",
    "route",
    "type",
    "method",
    "workspace",
    "tool_name",
];
/// Labels of `kong_ai_llm_mcp_calls_total` (ours, not Kong's).
pub const AI_MCP_LABELS: &[&str] = &[
    "ai_provider",
    "ai_model",
    "server_label",
    "tool",
    "type",
    "status",
    "workspace",
];
const AI_TOKEN_LABELS: &[&str] = &[
    "ai_provider",
    "ai_model",
    "cache_status",
    "vector_db",
    "embeddings_provider",
    "embeddings_model",
    "token_type",
    "workspace",
];
const NODE_INFO_LABELS: &[&str] = &["node_id", "version"];
const NGINX_REQ_LABELS: &[&str] = &["node_id", "subsystem"];
const NGINX_CONN_LABELS: &[&str] = &["node_id", "subsystem", "state"];

#[derive(Debug, thiserror::Error)]
#[error("metrics registry: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

/// All metric handles of one data-plane process.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    node_id: String,
    pub http_requests: IntCounterVec,
    pub kong_latency: HistogramVec,
    pub upstream_latency: HistogramVec,
    pub request_latency: HistogramVec,
    pub bandwidth: IntCounterVec,
    pub ai_requests: IntCounterVec,
    pub ai_cost: CounterVec,
    pub ai_tokens: IntCounterVec,
    pub ai_latency: HistogramVec,
    /// `kong_ai_llm_ttft_latency_ms` (EE): time to the first token.
    pub ai_ttft: HistogramVec,
    /// `kong_ai_llm_tpot_latency_ms` (EE): time per output token.
    pub ai_tpot: HistogramVec,
    /// `kong_ai_llm_mcp_calls_total` (ours): MCP items seen in Responses API replies.
    pub ai_mcp_calls: IntCounterVec,
    /// `kong_ai_mcp_latency_ms` (EE, ai-mcp-proxy).
    pub mcp_latency: HistogramVec,
    /// `kong_ai_mcp_response_body_size_bytes` (EE, ai-mcp-proxy).
    pub mcp_body_size: HistogramVec,
    /// `kong_ai_mcp_error_total` (EE, ai-mcp-proxy).
    pub mcp_errors: IntCounterVec,
    pub node_info: GaugeVec,
    pub control_plane_connected: IntGauge,
    pub nginx_requests: GaugeVec,
    pub nginx_connections: GaugeVec,
    pub config_version: Gauge,
    /// `kong_data_plane_config_hash_info{hash}`: 1 for the config served now (one series).
    pub config_hash_info: GaugeVec,
    /// `kong_data_plane_sync_received_bytes_total{message}`: protobuf bytes received from the CP.
    pub sync_bytes: IntCounterVec,
    /// `kong_log_dropped_total{plugin}` (ours): log entries a log plugin (file-log, http-log)
    /// dropped because its queue was full or delivery failed for good.
    pub log_dropped: IntCounterVec,
    /// `kong_upstream_target_health` (prometheus `upstream_health_metrics`), set at scrape time.
    pub upstream_target_health: GaugeVec,
    /// This node's child of `nginx_requests`, pre-resolved: updated on every request.
    node_requests: Gauge,
    /// Identifies this registry (shared by clones) for caches of resolved handles.
    id: u64,
}

/// The next `Metrics::id`.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Metrics {
    pub fn new(node_id: &str, version: &str) -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok::<_, prometheus::Error>(c)
        };
        let hist = |name: &str, help: &str, labels: &[&str], buckets: &[f64]| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                labels,
            )?;
            registry.register(Box::new(h.clone()))?;
            Ok::<_, prometheus::Error>(h)
        };
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            let g = GaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(g.clone()))?;
            Ok::<_, prometheus::Error>(g)
        };
        let nginx_requests = gauge_vec(
            "kong_nginx_requests_total",
            "Number of requests total",
            NGINX_REQ_LABELS,
        )?;
        let m = Metrics {
            http_requests: counter(
                "kong_http_requests_total",
                "HTTP status codes per consumer/service/route in Kong",
                HTTP_LABELS,
            )?,
            kong_latency: hist(
                "kong_kong_latency_ms",
                "Latency added by Kong and enabled plugins for each service/route in Kong",
                LATENCY_LABELS,
                KONG_LATENCY_BUCKETS,
            )?,
            upstream_latency: hist(
                "kong_upstream_latency_ms",
                "Latency added by upstream response for each service/route in Kong",
                LATENCY_LABELS,
                UPSTREAM_LATENCY_BUCKETS,
            )?,
            request_latency: hist(
                "kong_request_latency_ms",
                "Total latency incurred during requests for each service/route in Kong",
                LATENCY_LABELS,
                UPSTREAM_LATENCY_BUCKETS,
            )?,
            bandwidth: counter(
                "kong_bandwidth_bytes",
                "Total bandwidth (ingress/egress) throughput in bytes",
                BANDWIDTH_LABELS,
            )?,
            ai_requests: counter(
                "kong_ai_llm_requests_total",
                "AI requests total per ai_provider in Kong",
                AI_LABELS,
            )?,
            ai_cost: {
                let c = CounterVec::new(
                    Opts::new(
                        "kong_ai_llm_cost_total",
                        "AI requests cost per ai_provider/cache in Kong",
                    ),
                    AI_LABELS,
                )?;
                registry.register(Box::new(c.clone()))?;
                c
            },
            ai_tokens: counter(
                "kong_ai_llm_tokens_total",
                "AI requests cost per ai_provider/cache in Kong",
                AI_TOKEN_LABELS,
            )?,
            ai_latency: hist(
                "kong_ai_llm_provider_latency_ms",
                "LLM response Latency for each AI plugins per ai_provider in Kong",
                AI_LABELS,
                AI_LATENCY_BUCKETS,
            )?,
            ai_ttft: hist(
                "kong_ai_llm_ttft_latency_ms",
                "LLM time to first token latency for each AI plugins per ai_provider in Kong",
                AI_LABELS,
                AI_LATENCY_BUCKETS,
            )?,
            ai_tpot: hist(
                "kong_ai_llm_tpot_latency_ms",
                "LLM time per token latency for each AI plugins per ai_provider in Kong",
                AI_LABELS,
                AI_TPOT_BUCKETS,
            )?,
            ai_mcp_calls: counter(
                "kong_ai_llm_mcp_calls_total",
                "MCP items (mcp_list_tools, mcp_call) seen in Responses API replies, per server_label and tool",
                AI_MCP_LABELS,
            )?,
            mcp_latency: hist(
                "kong_ai_mcp_latency_ms",
                "MCP request latency per method and tool in Kong",
                MCP_LABELS,
                UPSTREAM_LATENCY_BUCKETS,
            )?,
            mcp_body_size: hist(
                "kong_ai_mcp_response_body_size_bytes",
                "MCP response body size per method and tool in Kong",
                MCP_LABELS,
                MCP_BODY_BUCKETS,
            )?,
            mcp_errors: counter(
                "kong_ai_mcp_error_total",
                "MCP errors per method and tool in Kong",
                MCP_ERROR_LABELS,
            )?,
            node_info: gauge_vec(
                "kong_node_info",
                "Kong Node metadata information",
                NODE_INFO_LABELS,
            )?,
            control_plane_connected: {
                let g = IntGauge::new(
                    "kong_control_plane_connected",
                    "Kong connected to control plane, 0 is unconnected",
                )?;
                registry.register(Box::new(g.clone()))?;
                g
            },
            nginx_connections: gauge_vec(
                "kong_nginx_connections_total",
                "Number of connections by subsystem",
                NGINX_CONN_LABELS,
            )?,
            config_version: {
                let g = Gauge::new(
                    "kong_data_plane_config_version",
                    "Version of the configuration this data plane serves",
                )?;
                registry.register(Box::new(g.clone()))?;
                g
            },
            config_hash_info: gauge_vec(
                "kong_data_plane_config_hash_info",
                "The configuration hash this data plane serves (value 1)",
                &["hash"],
            )?,
            sync_bytes: counter(
                "kong_data_plane_sync_received_bytes_total",
                "Bytes of config sync messages received from the control plane (decoded protobuf)",
                &["message"],
            )?,
            log_dropped: counter(
                "kong_log_dropped_total",
                "Log entries dropped by a log plugin (queue full or delivery failed)",
                &["plugin"],
            )?,
            upstream_target_health: gauge_vec(
                "kong_upstream_target_health",
                "Health status of targets of upstream. States = healthchecks_off|healthy|unhealthy|dns_error, value is 1 when state is populated.",
                UPSTREAM_HEALTH_LABELS,
            )?,
            node_requests: nginx_requests.with_label_values(&[node_id, "http"]),
            nginx_requests,
            registry,
            node_id: node_id.to_string(),
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        };
        m.node_info.with_label_values(&[node_id, version]).set(1.0);
        for state in ["accepted", "active", "handled"] {
            m.nginx_connections
                .with_label_values(&[node_id, "http", state])
                .set(0.0);
        }
        m.nginx_requests
            .with_label_values(&[node_id, "http"])
            .set(0.0);
        Ok(m)
    }

    /// The target health series: one per (upstream, target, address) and state, 1 for the
    /// target's `state`; the previous series go.
    pub fn set_upstream_health(&self, rows: &[(String, String, String, &str)]) {
        self.upstream_target_health.reset();
        for (upstream, target, address, state) in rows {
            for s in TARGET_STATES {
                let v = if s == state { 1.0 } else { 0.0 };
                self.upstream_target_health
                    .with_label_values(&[upstream.as_str(), target, address, s, "http"])
                    .set(v);
            }
        }
    }

    /// The config served now is `hash`: its series is the only one of `config_hash_info`.
    pub fn set_config_hash(&self, hash: &str) {
        self.config_hash_info.reset();
        self.config_hash_info.with_label_values(&[hash]).set(1.0);
    }

    /// Identifies this registry; clones share it.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// One more request seen by the proxy listener.
    pub fn request_seen(&self) {
        self.node_requests.inc();
    }

    /// One more connection accepted (and now active).
    pub fn connection_opened(&self) {
        for state in ["accepted", "handled", "active"] {
            self.nginx_connections
                .with_label_values(&[self.node_id.as_str(), "http", state])
                .inc();
        }
    }

    pub fn connection_closed(&self) {
        self.nginx_connections
            .with_label_values(&[self.node_id.as_str(), "http", "active"])
            .dec();
    }

    /// Current value of a `kong_nginx_connections_total` state.
    pub fn connections(&self, state: &str) -> u64 {
        let v = self
            .nginx_connections
            .with_label_values(&[self.node_id.as_str(), "http", state])
            .get();
        v.max(0.0) as u64
    }

    pub fn total_requests(&self) -> u64 {
        let v = self
            .nginx_requests
            .with_label_values(&[self.node_id.as_str(), "http"])
            .get();
        v.max(0.0) as u64
    }

    /// The Prometheus text exposition (format 0.0.4), labels in each family's declared order.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for fam in self.registry.gather() {
            let name = fam.name();
            let order = label_order(name);
            let kind = fam.get_field_type();
            let type_name = match kind {
                MetricType::COUNTER => "counter",
                MetricType::GAUGE => "gauge",
                MetricType::HISTOGRAM => "histogram",
                _ => "untyped",
            };
            out.push_str(&format!("# HELP {name} {}\n", fam.help()));
            out.push_str(&format!("# TYPE {name} {type_name}\n"));
            for m in fam.get_metric() {
                let mut pairs: Vec<(String, String)> = m
                    .get_label()
                    .iter()
                    .map(|l| (l.name().to_string(), l.value().to_string()))
                    .collect();
                pairs.sort_by_key(|(n, _)| order.iter().position(|o| o == n).unwrap_or(usize::MAX));
                match kind {
                    MetricType::COUNTER => {
                        line(&mut out, name, &pairs, None, m.get_counter().get_value())
                    }
                    MetricType::GAUGE => {
                        line(&mut out, name, &pairs, None, m.get_gauge().get_value())
                    }
                    MetricType::HISTOGRAM => {
                        let h = m.get_histogram();
                        let bucket = format!("{name}_bucket");
                        for b in h.get_bucket() {
                            let le = fmt_num(b.upper_bound());
                            line(
                                &mut out,
                                &bucket,
                                &pairs,
                                Some(&le),
                                b.cumulative_count() as f64,
                            );
                        }
                        line(
                            &mut out,
                            &bucket,
                            &pairs,
                            Some("+Inf"),
                            h.get_sample_count() as f64,
                        );
                        line(
                            &mut out,
                            &format!("{name}_count"),
                            &pairs,
                            None,
                            h.get_sample_count() as f64,
                        );
                        line(
                            &mut out,
                            &format!("{name}_sum"),
                            &pairs,
                            None,
                            h.get_sample_sum(),
                        );
                    }
                    _ => {}
                }
            }
        }
        out
    }
}

fn label_order(family: &str) -> &'static [&'static str] {
    match family {
        "kong_http_requests_total" => HTTP_LABELS,
        "kong_kong_latency_ms" | "kong_upstream_latency_ms" | "kong_request_latency_ms" => {
            LATENCY_LABELS
        }
        "kong_bandwidth_bytes" => BANDWIDTH_LABELS,
        "kong_ai_llm_tokens_total" => AI_TOKEN_LABELS,
        "kong_ai_llm_requests_total"
        | "kong_ai_llm_cost_total"
        | "kong_ai_llm_provider_latency_ms"
        | "kong_ai_llm_ttft_latency_ms"
        | "kong_ai_llm_tpot_latency_ms" => AI_LABELS,
        "kong_ai_llm_mcp_calls_total" => AI_MCP_LABELS,
        "kong_ai_mcp_latency_ms" | "kong_ai_mcp_response_body_size_bytes" => MCP_LABELS,
        "kong_ai_mcp_error_total" => MCP_ERROR_LABELS,
        "kong_node_info" => NODE_INFO_LABELS,
        "kong_nginx_requests_total" => NGINX_REQ_LABELS,
        "kong_nginx_connections_total" => NGINX_CONN_LABELS,
        "kong_upstream_target_health" => UPSTREAM_HEALTH_LABELS,
        _ => &[],
    }
}

fn line(out: &mut String, name: &str, labels: &[(String, String)], le: Option<&str>, v: f64) {
    out.push_str(name);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        let mut first = true;
        for (k, val) in labels {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&format!("{k}=\"{}\"", escape(val)));
        }
        if let Some(le) = le {
            if !first {
                out.push(',');
            }
            out.push_str(&format!("le=\"{le}\""));
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(&fmt_num(v));
    out.push('\n');
}

fn fmt_num(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_render_in_kong_order() {
        let m = Metrics::new("node-1", "0.1.0").unwrap();
        m.ai_tokens
            .with_label_values(&["openai", "gpt-4", "", "", "", "", "total_tokens", "default"])
            .inc_by(37);
        m.http_requests
            .with_label_values(&["svc", "r1", "200", "service", "default", ""])
            .inc();
        let text = m.render();
        assert!(text.contains(
            "kong_ai_llm_tokens_total{ai_provider=\"openai\",ai_model=\"gpt-4\",cache_status=\"\",vector_db=\"\",embeddings_provider=\"\",embeddings_model=\"\",token_type=\"total_tokens\",workspace=\"default\"} 37\n"
        ), "{text}");
        assert!(text.contains(
            "kong_http_requests_total{service=\"svc\",route=\"r1\",code=\"200\",source=\"service\",workspace=\"default\",consumer=\"\"} 1\n"
        ));
        assert!(text.contains("kong_node_info{node_id=\"node-1\",version=\"0.1.0\"} 1\n"));
        assert!(text.contains("kong_control_plane_connected 0\n"));
    }

    #[test]
    fn histogram_uses_ai_buckets() {
        let m = Metrics::new("n", "v").unwrap();
        m.ai_latency
            .with_label_values(&["openai", "gpt-4", "", "", "", "", "default"])
            .observe(1200.0);
        let text = m.render();
        assert!(text.contains("le=\"1000\"} 0\n"), "{text}");
        assert!(text.contains("le=\"1500\"} 1\n"));
        assert!(text.contains("le=\"+Inf\"} 1\n"));
        assert!(text.contains("kong_ai_llm_provider_latency_ms_sum{ai_provider=\"openai\""));
        assert_eq!(
            text.matches("# TYPE kong_ai_llm_provider_latency_ms histogram")
                .count(),
            1
        );
    }

    #[test]
    fn connection_counters_move() {
        let m = Metrics::new("n", "v").unwrap();
        m.connection_opened();
        m.connection_opened();
        m.connection_closed();
        m.request_seen();
        assert_eq!(m.connections("accepted"), 2);
        assert_eq!(m.connections("active"), 1);
        assert_eq!(m.total_requests(), 1);
    }
}
