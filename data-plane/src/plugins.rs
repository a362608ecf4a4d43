//! Plugins: the compiled instance of each configured plugin, and the scope lookup that picks the
//! one instance per plugin name that applies to a request (Kong's `plugins_iterator` precedence).

pub mod ai_proxy;
pub mod key_auth;
pub mod prometheus;

use std::collections::HashMap;
use std::sync::Arc;

use proto::schema::plugins::key_auth::KeyAuthConfig;
use proto::schema::plugins::prometheus::PrometheusConfig;
use proto::schema::plugins::PluginConfig;
use uuid::Uuid;

/// A plugin ready to run: its typed config plus any per-instance state (balancer).
#[derive(Debug)]
pub enum Instance {
    KeyAuth(KeyAuthConfig),
    Ai(ai_proxy::AiPlugin),
    Prometheus(PrometheusConfig),
}

impl Instance {
    pub fn new(id: Uuid, cfg: PluginConfig) -> Self {
        match cfg {
            PluginConfig::KeyAuth(c) => Instance::KeyAuth(c),
            PluginConfig::Prometheus(c) => Instance::Prometheus(c),
            PluginConfig::AiProxy(c) => Instance::Ai(ai_proxy::AiPlugin::from_ai_proxy(id, *c)),
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
    by_name: HashMap<String, HashMap<Scope, Arc<Instance>>>,
}

impl PluginIndex {
    pub fn insert(&mut self, name: &str, scope: Scope, instance: Instance) {
        self.by_name
            .entry(name.to_string())
            .or_default()
            .insert(scope, Arc::new(instance));
    }

    pub fn len(&self) -> usize {
        self.by_name.values().map(HashMap::len).sum()
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
        let scopes = self.by_name.get(name)?;
        let r = Some(route);
        let combos: [Scope; 8] = [
            (r, service, consumer),
            (r, None, consumer),
            (None, service, consumer),
            (r, service, None),
            (None, None, consumer),
            (r, None, None),
            (None, service, None),
            (None, None, None),
        ];
        combos
            .iter()
            .filter(|combo| {
                let needs_consumer = combo.2.is_some();
                let needs_service = combo.1.is_some();
                (!needs_consumer || consumer.is_some()) && (!needs_service || service.is_some())
            })
            .find_map(|combo| scopes.get(combo).cloned())
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
}
