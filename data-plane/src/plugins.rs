//! Plugins: the compiled instance of each configured plugin, and the scope lookup that picks the
//! one instance per plugin name that applies to a request (Kong's `plugins_iterator` precedence).

pub mod ai_mcp_proxy;
pub mod ai_proxy;
pub mod correlation_id;
pub mod cors;
pub mod file_log;
pub mod http_log;
pub mod key_auth;
pub mod log;
pub mod prometheus;
pub mod rate_limiting;
pub mod request_transformer;
pub mod resolved;
pub mod response_headers;

use std::collections::HashMap;
use std::sync::Arc;

use proto::schema::plugins::correlation_id::CorrelationIdConfig;
use proto::schema::plugins::key_auth::KeyAuthConfig;
use proto::schema::plugins::prometheus::PrometheusConfig;
use proto::schema::plugins::request_transformer::RequestTransformerConfig;
use proto::schema::plugins::PluginConfig;
use uuid::Uuid;

/// A plugin ready to run: its typed config plus any per-instance state (balancer).
#[derive(Debug)]
pub enum Instance {
    KeyAuth(KeyAuthConfig),
    Ai(ai_proxy::AiPlugin),
    Mcp(ai_mcp_proxy::McpProxy),
    Prometheus(PrometheusConfig),
    CorrelationId(CorrelationIdConfig),
    FileLog(file_log::FileLog),
    HttpLog(http_log::HttpLog),
    RequestTransformer(Box<RequestTransformerConfig>),
    Cors(cors::Cors),
    RateLimiting(rate_limiting::RateLimiter),
}

impl Instance {
    pub fn new(id: Uuid, cfg: PluginConfig) -> Self {
        match cfg {
            PluginConfig::KeyAuth(c) => Instance::KeyAuth(c),
            PluginConfig::Prometheus(c) => Instance::Prometheus(c),
            PluginConfig::CorrelationId(c) => Instance::CorrelationId(c),
            PluginConfig::FileLog(c) => Instance::FileLog(file_log::FileLog::new(c)),
            PluginConfig::HttpLog(c) => Instance::HttpLog(http_log::HttpLog::new(*c)),
            PluginConfig::RequestTransformer(c) => Instance::RequestTransformer(c),
            PluginConfig::Cors(c) => Instance::Cors(cors::Cors::new(c)),
            PluginConfig::RateLimiting(c) => {
                Instance::RateLimiting(rate_limiting::RateLimiter::new(id, c))
            }
            PluginConfig::AiProxy(c) => Instance::Ai(ai_proxy::AiPlugin::from_ai_proxy(id, *c)),
            PluginConfig::AiMcpProxy(c) => Instance::Mcp(ai_mcp_proxy::McpProxy::new(&c)),
            PluginConfig::AiProxyAdvanced(c) => {
                Instance::Ai(ai_proxy::AiPlugin::from_advanced(id, *c))
            }
        }
    }
}

/// (route, service, consumer) a plugin instance is scoped to; `None` = any.
pub type Scope = (Option<Uuid>, Option<Uuid>, Option<Uuid>);

/// Every enabled plugin instance, by name and scope.
#[derive(Debug, Default)]
pub struct PluginIndex {
    by_name: HashMap<String, Scoped, Fold>,
}

/// The hasher of the plugin index: looked up a dozen times per request, with keys from the
/// config (not from clients), so a fast non-keyed hash is safe.
type Fold = foldhash::fast::FixedState;

/// The instances of one plugin name, and which of the 8 scope shapes (bit `i` = entry `i` of
/// the precedence list in [`PluginIndex::lookup`]) occur, so a lookup skips absent shapes.
#[derive(Debug, Default)]
struct Scoped {
    shapes: u8,
    by_scope: HashMap<Scope, Arc<Instance>, Fold>,
    /// The global instance (also in `by_scope`), read without hashing a scope.
    global: Option<Arc<Instance>>,
}

/// Kong's precedence list of scope shapes: (route, service, consumer) set or not.
const SHAPES: [(bool, bool, bool); 8] = [
    (true, true, true),
    (true, false, true),
    (false, true, true),
    (true, true, false),
    (false, false, true),
    (true, false, false),
    (false, true, false),
    (false, false, false),
];

/// The position of `scope`'s shape in [`SHAPES`].
fn shape(scope: &Scope) -> u8 {
    let key = (scope.0.is_some(), scope.1.is_some(), scope.2.is_some());
    SHAPES
        .iter()
        .position(|s| *s == key)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(7)
}

impl PluginIndex {
    pub fn insert(&mut self, name: &str, scope: Scope, instance: Instance) {
        self.insert_shared(name, scope, Arc::new(instance));
    }

    /// [`PluginIndex::insert`] of an instance kept from the previous config.
    pub fn insert_shared(&mut self, name: &str, scope: Scope, instance: Arc<Instance>) {
        let scoped = self.by_name.entry(name.to_string()).or_default();
        scoped.shapes |= 1 << shape(&scope);
        if scope == (None, None, None) {
            scoped.global = Some(instance.clone());
        }
        scoped.by_scope.insert(scope, instance);
    }

    /// Whether some instance of `name` is scoped to a consumer.
    pub fn consumer_scoped(&self, name: &str) -> bool {
        let Some(scoped) = self.by_name.get(name) else {
            return false;
        };
        SHAPES
            .iter()
            .enumerate()
            .any(|(i, &(_, _, c))| c && scoped.shapes & (1 << i) != 0)
    }

    pub fn len(&self) -> usize {
        self.by_name.values().map(|s| s.by_scope.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The instance of `name` that applies, first match of Kong's precedence list:
    /// route+service+consumer, route+consumer, service+consumer, route+service, consumer,
    /// route, service, global.
    pub fn lookup(
        &self,
        name: &str,
        route: Uuid,
        service: Option<Uuid>,
        consumer: Option<Uuid>,
    ) -> Option<Arc<Instance>> {
        let scoped = self.by_name.get(name)?;
        SHAPES.iter().enumerate().find_map(|(i, &(r, s, c))| {
            if scoped.shapes & (1 << i) == 0
                || (s && service.is_none())
                || (c && consumer.is_none())
            {
                return None;
            }
            if !(r || s || c) {
                return scoped.global.clone();
            }
            let key = (
                r.then_some(route),
                service.filter(|_| s),
                consumer.filter(|_| c),
            );
            scoped.by_scope.get(&key).cloned()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prom(per_consumer: bool) -> Instance {
        Instance::Prometheus(PrometheusConfig {
            per_consumer,
            ..Default::default()
        })
    }

    fn is_per_consumer(i: &Instance) -> bool {
        matches!(i, Instance::Prometheus(c) if c.per_consumer)
    }

    #[test]
    fn route_scope_beats_global_and_consumer_beats_route() {
        let route = Uuid::from_u128(1);
        let service = Uuid::from_u128(2);
        let consumer = Uuid::from_u128(3);
        let mut idx = PluginIndex::default();
        idx.insert("prometheus", (None, None, None), prom(false));
        assert!(!is_per_consumer(
            &idx.lookup("prometheus", route, Some(service), None)
                .unwrap()
        ));
        idx.insert("prometheus", (Some(route), None, None), prom(true));
        assert!(is_per_consumer(
            &idx.lookup("prometheus", route, Some(service), None)
                .unwrap()
        ));
        idx.insert("prometheus", (None, None, Some(consumer)), prom(false));
        // consumer-only (5) beats route-only (6)
        assert!(!is_per_consumer(
            &idx.lookup("prometheus", route, Some(service), Some(consumer))
                .unwrap()
        ));
        // another route falls back to global
        assert!(!is_per_consumer(
            &idx.lookup("prometheus", Uuid::from_u128(9), None, None)
                .unwrap()
        ));
        assert!(idx.lookup("key-auth", route, None, None).is_none());
    }

    #[test]
    fn without_a_service_consumer_scope_still_beats_route_scope() {
        let (route, consumer) = (Uuid::from_u128(1), Uuid::from_u128(3));
        let mut idx = PluginIndex::default();
        idx.insert("prometheus", (Some(route), None, None), prom(true));
        idx.insert("prometheus", (None, None, Some(consumer)), prom(false));
        let found = idx
            .lookup("prometheus", route, None, Some(consumer))
            .unwrap();
        assert!(!is_per_consumer(&found));
        assert!(is_per_consumer(
            &idx.lookup("prometheus", route, None, None).unwrap()
        ));
    }
}
