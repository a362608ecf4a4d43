//! Runtime: one config compiled for the request path (router, plugin instances, consumer and
//! credential indexes). Built by `sync` off the request path and swapped in atomically.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use proto::schema::plugins::PluginConfig;
use proto::schema::{Config, Consumer, Route, Service};
use uuid::Uuid;

use crate::plugins::{Instance, PluginIndex};
use crate::router::{RouteSpec, Router, RouterError};
use crate::upstream::{self, Balancer, Balancers, UpstreamError};

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error(transparent)]
    Router(#[from] RouterError),
    #[error("plugins[{id}] ({name}): {message}")]
    Plugin {
        id: Uuid,
        name: String,
        message: String,
    },
    #[error("routes[{route}]: service {service} does not exist")]
    MissingService { route: Uuid, service: Uuid },
    #[error("keyauth_credentials[{credential}]: consumer {consumer} does not exist")]
    MissingConsumer { credential: Uuid, consumer: Uuid },
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

/// A route with what the proxy needs after matching it.
#[derive(Debug, Clone)]
pub struct CompiledRoute {
    pub route: Route,
    pub service: Option<Arc<Service>>,
    /// The upstream named by the service's host, when there is one: requests are balanced
    /// over its targets instead of resolving the host.
    pub balancer: Option<Arc<Balancer>>,
}

impl CompiledRoute {
    /// The `route` label: name, else id.
    pub fn label(&self) -> String {
        self.route
            .name
            .clone()
            .unwrap_or_else(|| self.route.id.to_string())
    }

    /// The `service` label: name, else host, else "".
    pub fn service_label(&self) -> String {
        self.service
            .as_ref()
            .map(|s| s.name.clone().unwrap_or_else(|| s.host.clone()))
            .unwrap_or_default()
    }
}

/// Consumers and their key-auth credentials.
#[derive(Debug, Default)]
pub struct ConsumerIndex {
    by_id: HashMap<Uuid, Arc<Consumer>>,
    by_username: HashMap<String, Arc<Consumer>>,
    by_key: HashMap<String, (Uuid, Arc<Consumer>)>,
}

impl ConsumerIndex {
    /// The credential id and consumer owning API key `key`.
    pub fn by_key(&self, key: &str) -> Option<&(Uuid, Arc<Consumer>)> {
        self.by_key.get(key)
    }

    /// A consumer by id or, failing that, by username (key-auth `anonymous`).
    pub fn by_id_or_username(&self, s: &str) -> Option<&Arc<Consumer>> {
        Uuid::parse_str(s)
            .ok()
            .and_then(|id| self.by_id.get(&id))
            .or_else(|| self.by_username.get(s))
    }
}

/// One compiled config; requests hold an `Arc` of it from start to end.
#[derive(Debug, Default)]
pub struct Runtime {
    pub version: u64,
    pub hash: String,
    /// Unix seconds when this runtime was swapped in; `None` for the initial empty one.
    pub loaded_at: Option<u64>,
    pub router: Router,
    pub routes: Vec<CompiledRoute>,
    pub plugins: PluginIndex,
    pub consumers: ConsumerIndex,
    pub upstreams: Balancers,
    /// Whether an enabled prometheus plugin has `upstream_health_metrics` on.
    pub upstream_health_metrics: bool,
}

impl Runtime {
    /// The runtime before any config arrived.
    pub fn empty() -> Self {
        Runtime {
            hash: proto::schema::hash::EMPTY.to_string(),
            ..Default::default()
        }
    }

    /// Whether a non-empty config is loaded (readiness).
    pub fn is_loaded(&self) -> bool {
        self.loaded_at.is_some() && self.hash != proto::schema::hash::EMPTY
    }
}

/// Compiles `cfg`. Disabled services (with their routes and plugins) and disabled plugins are
/// skipped. `version` and `hash` are the snapshot's.
pub fn compile(cfg: &Config, version: u64, hash: &str) -> Result<Runtime, CompileError> {
    let services: HashMap<Uuid, Arc<Service>> = cfg
        .services
        .iter()
        .map(|s| (s.id, Arc::new(s.clone())))
        .collect();

    let upstreams = upstream::compile(cfg)?;
    let mut routes = Vec::new();
    for r in &cfg.routes {
        let service = match r.service {
            Some(fk) => match services.get(&fk.id) {
                Some(s) if !s.enabled => continue,
                Some(s) => Some(s.clone()),
                None => {
                    return Err(CompileError::MissingService {
                        route: r.id,
                        service: fk.id,
                    })
                }
            },
            None => None,
        };
        if !r.protocols.iter().any(|p| p == "http" || p == "https") {
            continue;
        }
        let balancer = service
            .as_ref()
            .and_then(|s| upstreams.get(&s.host).cloned());
        routes.push(CompiledRoute {
            route: r.clone(),
            service,
            balancer,
        });
    }
    let specs: Vec<RouteSpec> = routes
        .iter()
        .map(|c| RouteSpec {
            id: c.route.id,
            methods: c.route.methods.clone().unwrap_or_default(),
            hosts: c.route.hosts.clone().unwrap_or_default(),
            paths: c.route.paths.clone().unwrap_or_default(),
            headers: c
                .route
                .headers
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            regex_priority: c.route.regex_priority,
        })
        .collect();
    let router = Router::new(&specs)?;

    let mut consumers = ConsumerIndex::default();
    for c in &cfg.consumers {
        let c = Arc::new(c.clone());
        consumers.by_id.insert(c.id, c.clone());
        if let Some(u) = &c.username {
            consumers.by_username.insert(u.clone(), c.clone());
        }
    }
    for k in &cfg.keyauth_credentials {
        let Some(c) = consumers.by_id.get(&k.consumer.id) else {
            return Err(CompileError::MissingConsumer {
                credential: k.id,
                consumer: k.consumer.id,
            });
        };
        consumers.by_key.insert(k.key.clone(), (k.id, c.clone()));
    }

    let mut plugins = PluginIndex::default();
    for p in cfg.plugins.iter().filter(|p| p.enabled) {
        if let Some(s) = p.service.and_then(|fk| services.get(&fk.id)) {
            if !s.enabled {
                continue;
            }
        }
        let typed =
            PluginConfig::parse(&p.name, &p.config).map_err(|errs| CompileError::Plugin {
                id: p.id,
                name: p.name.clone(),
                message: errs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            })?;
        let scope = (
            p.route.map(|f| f.id),
            p.service.map(|f| f.id),
            p.consumer.map(|f| f.id),
        );
        plugins.insert(&p.name, scope, Instance::new(p.id, typed));
    }

    let loaded_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    Ok(Runtime {
        version,
        hash: hash.to_string(),
        loaded_at: Some(loaded_at),
        router,
        routes,
        plugins,
        consumers,
        upstreams,
        upstream_health_metrics: cfg.plugins.iter().any(|p| {
            p.enabled
                && p.name == "prometheus"
                && p.config["upstream_health_metrics"] == serde_json::Value::Bool(true)
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(v: serde_json::Value) -> Config {
        let mut entities = Vec::new();
        for kind in proto::schema::ENTITY_KINDS {
            for e in v[kind].as_array().cloned().unwrap_or_default() {
                entities.push(proto::v1::Entity {
                    kind: kind.to_string(),
                    id: e["id"].as_str().unwrap().to_string(),
                    json: e.to_string().into_bytes(),
                });
            }
        }
        Config::from_entities(&entities).unwrap()
    }

    const S1: &str = "00000000-0000-0000-0000-000000000001";
    const S2: &str = "00000000-0000-0000-0000-000000000002";

    #[test]
    fn disabled_services_and_plugins_are_skipped() {
        let cfg = config(json!({
            "services": [
                {"id": S1, "host": "a.test"},
                {"id": S2, "host": "b.test", "enabled": false}
            ],
            "routes": [
                {"id": "10000000-0000-0000-0000-000000000001", "paths": ["/a"], "service": {"id": S1}},
                {"id": "10000000-0000-0000-0000-000000000002", "paths": ["/b"], "service": {"id": S2}}
            ],
            "plugins": [
                {"id": "20000000-0000-0000-0000-000000000001", "name": "prometheus", "config": {}},
                {"id": "20000000-0000-0000-0000-000000000002", "name": "key-auth", "enabled": false, "config": {}}
            ]
        }));
        let rt = compile(&cfg, 3, "abc").unwrap();
        assert_eq!(rt.routes.len(), 1);
        assert_eq!(rt.plugins.len(), 1);
        assert_eq!(rt.version, 3);
        assert!(rt.is_loaded());
    }

    #[test]
    fn credential_index_finds_consumer() {
        let cfg = config(json!({
            "consumers": [{"id": S1, "username": "alice"}],
            "keyauth_credentials": [{"id": S2, "key": "secret", "consumer": {"id": S1}}]
        }));
        let rt = compile(&cfg, 1, "h").unwrap();
        let (cred, c) = rt.consumers.by_key("secret").unwrap();
        assert_eq!(cred.to_string(), S2);
        assert_eq!(c.username.as_deref(), Some("alice"));
        assert!(rt.consumers.by_key("nope").is_none());
        assert!(rt.consumers.by_id_or_username("alice").is_some());
        assert!(rt.consumers.by_id_or_username(S1).is_some());
    }

    #[test]
    fn services_named_after_an_upstream_get_its_balancer() {
        let up = "50000000-0000-0000-0000-000000000001";
        let cfg = config(json!({
            "upstreams": [{"id": up, "name": "backend.up"}],
            "targets": [{"id": "60000000-0000-0000-0000-000000000001", "upstream": {"id": up}, "target": "10.0.0.1:80"}],
            "services": [{"id": S1, "host": "backend.up"}, {"id": S2, "host": "a.test"}],
            "routes": [
                {"id": "10000000-0000-0000-0000-000000000001", "paths": ["/a"], "service": {"id": S1}},
                {"id": "10000000-0000-0000-0000-000000000002", "paths": ["/b"], "service": {"id": S2}}
            ],
            "plugins": [{"id": "20000000-0000-0000-0000-000000000001", "name": "prometheus",
                         "config": {"upstream_health_metrics": true}}]
        }));
        let rt = compile(&cfg, 1, "h").unwrap();
        let by_path = |p: &str| {
            rt.routes
                .iter()
                .find(|r| r.route.paths.as_deref() == Some(&[p.to_string()][..]))
                .unwrap()
        };
        let b = by_path("/a").balancer.as_ref().unwrap();
        assert_eq!(b.name, "backend.up");
        assert_eq!(b.targets().len(), 1);
        assert!(by_path("/b").balancer.is_none());
        assert!(rt.upstream_health_metrics);
        assert_eq!(rt.upstreams.len(), 1);
    }

    #[test]
    fn empty_runtime_is_not_ready() {
        assert!(!Runtime::empty().is_loaded());
    }
}
