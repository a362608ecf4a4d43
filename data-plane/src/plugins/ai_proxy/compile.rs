//! Compiling an AI plugin instance from its config (ai-proxy: one target; ai-proxy-advanced:
//! targets, balancer, fail-over criteria and timeouts), once per config swap; auth secrets
//! (`{vault://env/…}`) are resolved here.

use proto::schema::plugins::ai_proxy::AiProxyConfig;
use proto::schema::plugins::ai_proxy_advanced::{
    AiProxyAdvancedConfig, Balancer as BalancerConfig,
};
use uuid::Uuid;

use super::client::{Clients, Timeouts};
use super::{secrets, AiPlugin, AiTarget, Streaming};
use crate::llm::balancer::{Balancer, Criteria};

/// Whether a model block has `$(…)` templates to resolve per request.
/// `model.options.upstream_url`, parsed once (`None` when absent or not a URI: then it is
/// parsed per request, which reports the error).
fn parsed_upstream(m: &proto::schema::plugins::ai::Model) -> Option<http::Uri> {
    m.options.as_ref()?.upstream_url.as_deref()?.parse().ok()
}

fn templated(m: &proto::schema::plugins::ai::Model) -> bool {
    let o = m.options.clone().unwrap_or_default();
    crate::llm::template::templated(m.name.as_deref(), &o)
}

fn parse_streaming(s: &str) -> Streaming {
    match s {
        "deny" => Streaming::Deny,
        "always" => Streaming::Always,
        _ => Streaming::Allow,
    }
}

impl AiPlugin {
    pub fn from_ai_proxy(id: Uuid, c: AiProxyConfig) -> Self {
        AiPlugin {
            id,
            id_text: id.to_string(),
            targets: vec![AiTarget {
                route_type: c.route_type,
                options: c.model.options.clone().unwrap_or_default(),
                upstream_url: parsed_upstream(&c.model),
                templated: templated(&c.model),
                model: c.model,
                auth: c.auth.map(|mut a| {
                    secrets::resolve_auth(&mut a);
                    a
                }),
                logging: c.logging,
            }],
            balancer: Balancer::new(&BalancerConfig::default(), &[1]),
            criteria: Criteria::default(),
            retries: 0,
            hash_header: String::new(),
            streaming: parse_streaming(&c.response_streaming),
            max_request_body_size: c.max_request_body_size,
            model_name_header: c.model_name_header,
            timeouts: None,
            clients: Clients::default(),
        }
    }

    pub fn from_advanced(id: Uuid, c: AiProxyAdvancedConfig) -> Self {
        let weights: Vec<u32> = c.targets.iter().map(|t| t.weight).collect();
        AiPlugin {
            id,
            id_text: id.to_string(),
            targets: c
                .targets
                .into_iter()
                .map(|t| AiTarget {
                    route_type: t.route_type,
                    options: t.model.options.clone().unwrap_or_default(),
                    upstream_url: parsed_upstream(&t.model),
                    templated: templated(&t.model),
                    model: t.model,
                    auth: t.auth.map(|mut a| {
                        secrets::resolve_auth(&mut a);
                        a
                    }),
                    logging: t.logging,
                })
                .collect(),
            balancer: Balancer::new(&c.balancer, &weights),
            criteria: Criteria::parse(&c.balancer.failover_criteria),
            retries: c.balancer.retries,
            hash_header: c.balancer.hash_on_header.clone(),
            streaming: parse_streaming(&c.response_streaming),
            max_request_body_size: c.max_request_body_size,
            model_name_header: c.model_name_header,
            timeouts: Some(Timeouts {
                connect_ms: c.balancer.connect_timeout,
                read_ms: c.balancer.read_timeout,
                write_ms: c.balancer.write_timeout,
            }),
            clients: Clients::default(),
        }
    }
}
