//! Runtime: one config compiled for the request path (router, plugin instances, consumer and
//! credential indexes). Built by `sync` off the request path and swapped in atomically; a delta
//! recompiles from `Sources` and reuses what unchanged entities built.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use proto::schema::plugins::PluginConfig;
use proto::schema::{Config, Consumer, Plugin, Route, Service};
use uuid::Uuid;

pub mod server_tls;
pub mod sources;
mod tls;
pub use server_tls::{ServerCerts, ServerTlsError};
pub use sources::Sources;

use crate::plugins::key_auth::ConsumerHeaders;
use crate::plugins::resolved::{self, RoutePlugins};
use crate::plugins::{Instance, PluginIndex};
use crate::proxy::forward::{TlsProfile, TlsProfiles};
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
    #[error(
        "services[{service}]: ca_certificates: ca_certificate {ca_certificate} does not exist"
    )]
    MissingCaCertificate { service: Uuid, ca_certificate: Uuid },
    #[error("services[{service}]: client_certificate: certificate {certificate} does not exist")]
    MissingCertificate { service: Uuid, certificate: Uuid },
    #[error("services[{service}]: upstream TLS: {message}")]
    ServiceTls { service: Uuid, message: String },
    #[error(transparent)]
    ServerTls(#[from] ServerTlsError),
}

/// A route with what the proxy needs after matching it.
#[derive(Debug, Clone)]
pub struct CompiledRoute {
    pub route: Arc<Route>,
    pub service: Option<Arc<Service>>,
    /// The upstream named by the service's host, when there is one: requests are balanced
    /// over its targets instead of resolving the host.
    pub balancer: Option<Arc<Balancer>>,
    /// The service's own upstream TLS settings, compiled; `None`: the node's defaults.
    pub tls: Option<Arc<TlsProfile>>,
    /// The plugins that apply to it, resolved from the plugin index.
    pub plugins: RoutePlugins,
    /// The service's `host:port` as a URI authority, parsed once per service (`None`: no
    /// service, or a host no URI can carry).
    pub authority: Option<http::uri::Authority>,
    /// The `Host` an upstream request to the service carries unless the route preserves the
    /// client's: the host, with `:port` when the port is not the scheme's default.
    pub upstream_host: Option<http::HeaderValue>,
    /// The `service` and `route` labels of its metrics and logs, made once per config.
    labels: (Arc<str>, Arc<str>),
}

impl CompiledRoute {
    /// The `route` label: name, else id.
    pub fn label(&self) -> Arc<str> {
        self.labels.1.clone()
    }

    /// The `service` label: name, else host, else "".
    pub fn service_label(&self) -> Arc<str> {
        self.labels.0.clone()
    }
}

/// A service's `host:port` as a URI authority, and the `Host` its requests carry.
type ServiceAddress = (Option<http::uri::Authority>, Option<http::HeaderValue>);

fn service_address(s: &Service) -> ServiceAddress {
    let authority = http::uri::Authority::try_from(format!("{}:{}", s.host, s.port)).ok();
    let host = if s.port == s.default_port() {
        http::HeaderValue::from_str(&s.host).ok()
    } else {
        authority
            .as_ref()
            .and_then(|a| http::HeaderValue::from_str(a.as_str()).ok())
    };
    (authority, host)
}

/// The `service` and `route` labels of `route` (to `service`).
fn labels(route: &Route, service: Option<&Service>) -> (Arc<str>, Arc<str>) {
    let service = service.map_or("", |s| s.name.as_deref().unwrap_or(&s.host));
    let route = match &route.name {
        Some(n) => Arc::from(n.as_str()),
        None => Arc::from(route.id.to_string()),
    };
    (Arc::from(service), route)
}

/// Consumers and their key-auth credentials.
#[derive(Debug, Default)]
pub struct ConsumerIndex {
    by_id: HashMap<Uuid, Arc<Consumer>>,
    by_username: HashMap<String, Arc<Consumer>>,
    by_key: HashMap<String, KeyOwner>,
}

/// The owner of an API key: its credential, its consumer and the headers key-auth sets for them.
#[derive(Debug)]
pub struct KeyOwner {
    pub credential: Uuid,
    pub consumer: Arc<Consumer>,
    pub headers: ConsumerHeaders,
}

impl ConsumerIndex {
    /// The credential and consumer owning API key `key`.
    pub fn by_key(&self, key: &str) -> Option<&KeyOwner> {
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
    /// Shared with the next runtime when no plugin or service changed.
    pub plugins: Arc<PluginIndex>,
    /// Shared with the next runtime when no consumer or credential changed.
    pub consumers: Arc<ConsumerIndex>,
    pub upstreams: Balancers,
    /// Whether an enabled prometheus plugin has `upstream_health_metrics` on.
    pub upstream_health_metrics: bool,
    /// Each enabled plugin's instance and the entity it was built from, for the next compile.
    instances: Arc<Instances>,
    /// The services' TLS profiles, for the next compile to reuse.
    tls_profiles: Arc<TlsProfiles>,
    /// The certificates served to clients on `ssl` listeners, by SNI; shared with the next
    /// runtime when no certificate or SNI changed.
    pub server_certs: Arc<ServerCerts>,
}

/// Plugin id → (the plugin entity, the instance built from it).
type Instances = HashMap<Uuid, (Arc<Plugin>, Arc<Instance>)>;

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
    compile_sources(&Sources::from_config(cfg.clone()), None, version, hash)
}

/// Compiles `src`, reusing from `prev` (the sources and runtime now serving) what was built from
/// entities that did not change: plugin instances (with their state, e.g. rate-limit counters),
/// and whole indexes when none of their entities changed — the plugin index (plugins and
/// services), the consumer index (consumers and key-auth credentials) and the balancers
/// (upstreams and targets, with their health). Routes and the router are always rebuilt.
pub fn compile_sources(
    src: &Sources,
    prev: Option<(&Sources, &Runtime)>,
    version: u64,
    hash: &str,
) -> Result<Runtime, CompileError> {
    let services = &src.services;
    let upstreams = match prev {
        Some((ps, pr)) if src.same_upstreams(ps) => pr.upstreams.clone(),
        _ => upstream::compile(&src.upstream_config())?,
    };
    let (plugins, instances, upstream_health_metrics) = match prev {
        Some((ps, pr)) if src.same_plugins(ps) => (
            pr.plugins.clone(),
            pr.instances.clone(),
            pr.upstream_health_metrics,
        ),
        _ => {
            let reuse = prev.map(|(_, rt)| rt.instances.as_ref());
            let (plugins, instances) = plugin_index(src, reuse)?;
            let health = src.plugins.values().any(|p| {
                p.enabled
                    && p.name == "prometheus"
                    && p.config["upstream_health_metrics"] == serde_json::Value::Bool(true)
            });
            (Arc::new(plugins), Arc::new(instances), health)
        }
    };
    let consumer_scoped = resolved::consumer_scoped(&plugins);
    let mut routes = Vec::new();
    let mut authorities: HashMap<Uuid, ServiceAddress> = HashMap::new();
    let mut tls_profiles = TlsProfiles::new();
    let prev_tls = prev.map(|(_, rt)| rt.tls_profiles.as_ref());
    for r in src.routes.values() {
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
        let tls = match &service {
            Some(s) => tls::profile(src, s, prev_tls, &mut tls_profiles)?,
            None => None,
        };
        let resolved = RoutePlugins::resolve(
            &plugins,
            consumer_scoped,
            r.id,
            service.as_ref().map(|s| s.id),
        );
        let (authority, upstream_host) = service.as_ref().map_or((None, None), |s| {
            authorities
                .entry(s.id)
                .or_insert_with(|| service_address(s))
                .clone()
        });
        let labels = labels(r, service.as_deref());
        routes.push(CompiledRoute {
            route: r.clone(),
            service,
            balancer,
            tls,
            plugins: resolved,
            authority,
            upstream_host,
            labels,
        });
    }
    let specs: Vec<RouteSpec> = routes.iter().map(|c| spec(&c.route)).collect();
    let server_certs = match prev {
        Some((ps, pr)) if src.same_server_certs(ps) => pr.server_certs.clone(),
        _ => Arc::new(ServerCerts::compile(src)?),
    };
    let router = Router::new(&specs)?;
    let consumers = match prev {
        Some((ps, pr)) if src.same_consumers(ps) => pr.consumers.clone(),
        _ => Arc::new(consumer_index(src)?),
    };
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
        upstream_health_metrics,
        instances,
        tls_profiles: Arc::new(tls_profiles),
        server_certs,
    })
}

fn spec(r: &Route) -> RouteSpec {
    RouteSpec {
        id: r.id,
        methods: r.methods.clone().unwrap_or_default(),
        hosts: r.hosts.clone().unwrap_or_default(),
        paths: r.paths.clone().unwrap_or_default(),
        headers: r.headers.clone().unwrap_or_default().into_iter().collect(),
        regex_priority: r.regex_priority,
        snis: r.snis.clone().unwrap_or_default(),
    }
}

fn consumer_index(src: &Sources) -> Result<ConsumerIndex, CompileError> {
    let mut consumers = ConsumerIndex::default();
    for c in src.consumers.values() {
        consumers.by_id.insert(c.id, c.clone());
        if let Some(u) = &c.username {
            consumers.by_username.insert(u.clone(), c.clone());
        }
    }
    for k in src.keyauth_credentials.values() {
        let Some(c) = consumers.by_id.get(&k.consumer.id) else {
            return Err(CompileError::MissingConsumer {
                credential: k.id,
                consumer: k.consumer.id,
            });
        };
        let owner = KeyOwner {
            credential: k.id,
            consumer: c.clone(),
            headers: ConsumerHeaders::new(c, Some(&k.id)),
        };
        consumers.by_key.insert(k.key.clone(), owner);
    }
    Ok(consumers)
}

/// The enabled plugins by name and scope; an instance whose plugin entity is the very one it
/// was built from last time is reused.
fn plugin_index(
    src: &Sources,
    reuse: Option<&Instances>,
) -> Result<(PluginIndex, Instances), CompileError> {
    let mut plugins = PluginIndex::default();
    let mut instances = Instances::new();
    for p in src.plugins.values().filter(|p| p.enabled) {
        if let Some(s) = p.service.and_then(|fk| src.services.get(&fk.id)) {
            if !s.enabled {
                continue;
            }
        }
        let instance = match reuse.and_then(|r| r.get(&p.id)) {
            Some((from, inst)) if Arc::ptr_eq(from, p) => inst.clone(),
            _ => Arc::new(instance(p)?),
        };
        let scope = (
            p.route.map(|f| f.id),
            p.service.map(|f| f.id),
            p.consumer.map(|f| f.id),
        );
        plugins.insert_shared(&p.name, scope, instance.clone());
        instances.insert(p.id, (p.clone(), instance));
    }
    Ok((plugins, instances))
}

fn instance(p: &Plugin) -> Result<Instance, CompileError> {
    let typed = PluginConfig::parse(&p.name, &p.config).map_err(|errs| CompileError::Plugin {
        id: p.id,
        name: p.name.clone(),
        message: errs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    })?;
    Ok(Instance::new(p.id, typed))
}

#[cfg(test)]
mod tests;
