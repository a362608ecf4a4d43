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
    pub node_info: GaugeVec,
    pub control_plane_connected: IntGauge,
    pub nginx_requests: GaugeVec,
    pub nginx_connections: GaugeVec,
    pub config_version: Gauge,
}

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
            nginx_requests: gauge_vec(
                "kong_nginx_requests_total",
                "Number of requests total",
                NGINX_REQ_LABELS,
            )?,
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
            registry,
            node_id: node_id.to_string(),
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

    /// One more request seen by the proxy listener.
    pub fn request_seen(&self) {
        self.nginx_requests
            .with_label_values(&[self.node_id.as_str(), "http"])
            .inc();
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
        | "kong_ai_llm_provider_latency_ms" => AI_LABELS,
        "kong_node_info" => NODE_INFO_LABELS,
        "kong_nginx_requests_total" => NGINX_REQ_LABELS,
        "kong_nginx_connections_total" => NGINX_CONN_LABELS,
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
