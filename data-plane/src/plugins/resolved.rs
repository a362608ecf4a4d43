//! The plugins of one route, resolved when the config is compiled (`runtime::compile`): for each
//! plugin the proxy asks about on every request, the instance Kong's precedence picks for the
//! route and its service when no consumer is involved, and whether some instance of it is
//! consumer-scoped (only then does a request with a consumer ask the index again).

use std::sync::Arc;

use uuid::Uuid;

use super::{Instance, PluginIndex};

/// The plugins the request path looks up by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    Prometheus,
    CorrelationId,
    Cors,
    KeyAuth,
    RateLimiting,
    RequestTransformer,
    AiProxyAdvanced,
    AiProxy,
    AiMcpProxy,
    HttpLog,
    FileLog,
}

const ALL: [Known; 11] = [
    Known::Prometheus,
    Known::CorrelationId,
    Known::Cors,
    Known::KeyAuth,
    Known::RateLimiting,
    Known::RequestTransformer,
    Known::AiProxyAdvanced,
    Known::AiProxy,
    Known::AiMcpProxy,
    Known::HttpLog,
    Known::FileLog,
];

impl Known {
    /// Kong's name of the plugin.
    pub const fn name(self) -> &'static str {
        match self {
            Known::Prometheus => "prometheus",
            Known::CorrelationId => "correlation-id",
            Known::Cors => "cors",
            Known::KeyAuth => "key-auth",
            Known::RateLimiting => "rate-limiting",
            Known::RequestTransformer => "request-transformer",
            Known::AiProxyAdvanced => "ai-proxy-advanced",
            Known::AiProxy => "ai-proxy",
            Known::AiMcpProxy => "ai-mcp-proxy",
            Known::HttpLog => "http-log",
            Known::FileLog => "file-log",
        }
    }
}

/// What applies to one route (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct RoutePlugins {
    found: [Option<Arc<Instance>>; ALL.len()],
    /// Bit `p as usize`: some instance of `p` is scoped to a consumer.
    consumer_scoped: u16,
}

/// Which known plugins have a consumer-scoped instance in `index` (bit `p as usize`): the same
/// for every route, worked out once per index.
pub fn consumer_scoped(index: &PluginIndex) -> u16 {
    ALL.iter()
        .filter(|p| index.consumer_scoped(p.name()))
        .fold(0, |mask, &p| mask | 1 << p as u16)
}

impl RoutePlugins {
    /// Resolves every known plugin for `route` (of `service`) in `index`; `consumer_scoped`:
    /// what [`consumer_scoped`] says of `index`.
    pub fn resolve(
        index: &PluginIndex,
        consumer_scoped: u16,
        route: Uuid,
        service: Option<Uuid>,
    ) -> Self {
        let mut found: [Option<Arc<Instance>>; ALL.len()] = Default::default();
        for p in ALL {
            found[p as usize] = index.lookup(p.name(), route, service, None);
        }
        RoutePlugins {
            found,
            consumer_scoped,
        }
    }

    /// Whether no instance of any of `ps` can apply to a request of this route, whoever the
    /// consumer.
    pub fn none_of(&self, ps: &[Known]) -> bool {
        ps.iter().all(|&p| {
            self.found.get(p as usize).is_none_or(Option::is_none)
                && self.consumer_scoped & (1 << p as u16) == 0
        })
    }

    /// The instance of `p` that applies to a request of this route (of `service`) by
    /// `consumer`: what `index.lookup` would answer, without asking it unless a consumer-scoped
    /// instance of `p` may apply.
    pub fn get(
        &self,
        p: Known,
        index: &PluginIndex,
        route: Uuid,
        service: Option<Uuid>,
        consumer: Option<Uuid>,
    ) -> Option<Arc<Instance>> {
        if consumer.is_some() && self.consumer_scoped & (1 << p as u16) != 0 {
            return index.lookup(p.name(), route, service, consumer);
        }
        self.found.get(p as usize).cloned().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::schema::plugins::prometheus::PrometheusConfig;

    fn prom(latency: bool) -> Instance {
        Instance::Prometheus(PrometheusConfig {
            latency_metrics: latency,
            ..Default::default()
        })
    }

    fn latency(i: &Option<Arc<Instance>>) -> Option<bool> {
        match i.as_deref() {
            Some(Instance::Prometheus(c)) => Some(c.latency_metrics),
            _ => None,
        }
    }

    #[test]
    fn resolved_plugins_answer_what_the_index_answers() {
        let (route, other, service, consumer) = (
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(3),
            Uuid::from_u128(4),
        );
        let mut idx = PluginIndex::default();
        idx.insert("prometheus", (None, None, None), prom(false));
        idx.insert("prometheus", (Some(route), None, None), prom(true));
        idx.insert("key-auth", (None, Some(service), None), prom(true));
        let mut scoped = PluginIndex::default();
        scoped.insert("prometheus", (None, None, None), prom(false));
        scoped.insert("prometheus", (None, None, Some(consumer)), prom(true));
        for index in [&idx, &scoped] {
            for r in [route, other] {
                for s in [None, Some(service)] {
                    let resolved = RoutePlugins::resolve(index, consumer_scoped(index), r, s);
                    for c in [None, Some(consumer), Some(Uuid::from_u128(5))] {
                        for p in ALL {
                            assert_eq!(
                                latency(&resolved.get(p, index, r, s, c)),
                                latency(&index.lookup(p.name(), r, s, c)),
                                "{p:?} route {r} service {s:?} consumer {c:?}"
                            );
                            assert_eq!(
                                resolved.get(p, index, r, s, c).is_some(),
                                index.lookup(p.name(), r, s, c).is_some()
                            );
                        }
                    }
                }
            }
        }
        // The consumer-scoped instance is found through the index.
        let resolved = RoutePlugins::resolve(&scoped, consumer_scoped(&scoped), other, None);
        let with = resolved.get(Known::Prometheus, &scoped, other, None, Some(consumer));
        assert_eq!(latency(&with), Some(true));
    }
}
