//! Config → the typed entities `runtime::compile` reads, each behind an `Arc` and keyed by id
//! (canonical order). A delta replaces only what it names, so unchanged entities keep their
//! `Arc` and `compile` can tell them apart from changed ones by pointer, and reuse what it built
//! from them (plugin instances, upstream balancers).

use std::collections::BTreeMap;
use std::sync::Arc;

use proto::schema::{
    CaCertificate, Certificate, Config, Consumer, KeyAuthCredential, Plugin, Route, Service, Sni,
    Target, Upstream,
};
use proto::v1::EntityRef;
use uuid::Uuid;

/// The entity kinds the runtime is compiled from; other kinds are parsed (a config with a bad
/// one is refused) but not kept.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub services: BTreeMap<Uuid, Arc<Service>>,
    pub routes: BTreeMap<Uuid, Arc<Route>>,
    pub plugins: BTreeMap<Uuid, Arc<Plugin>>,
    pub consumers: BTreeMap<Uuid, Arc<Consumer>>,
    pub keyauth_credentials: BTreeMap<Uuid, Arc<KeyAuthCredential>>,
    pub upstreams: BTreeMap<Uuid, Arc<Upstream>>,
    pub targets: BTreeMap<Uuid, Arc<Target>>,
    /// For services' (and upstreams') `client_certificate`.
    pub certificates: BTreeMap<Uuid, Arc<Certificate>>,
    /// For services' `ca_certificates`.
    pub ca_certificates: BTreeMap<Uuid, Arc<CaCertificate>>,
    /// The names client TLS certificates are served for (`ssl` proxy listeners).
    pub snis: BTreeMap<Uuid, Arc<Sni>>,
}

fn insert_all<T>(map: &mut BTreeMap<Uuid, Arc<T>>, items: Vec<T>, id: impl Fn(&T) -> Uuid) {
    for item in items {
        map.insert(id(&item), Arc::new(item));
    }
}

impl Sources {
    /// A whole config (a snapshot).
    pub fn from_config(cfg: Config) -> Self {
        let mut s = Sources::default();
        s.upsert(cfg);
        s
    }

    /// A copy of these sources with `deletes` removed and the entities of `upserts` (a delta's,
    /// parsed) added or replaced.
    pub fn apply(&self, upserts: Config, deletes: &[EntityRef]) -> Self {
        let mut s = self.clone();
        for d in deletes {
            let Ok(id) = Uuid::parse_str(&d.id) else {
                continue;
            };
            match d.kind.as_str() {
                "services" => drop(s.services.remove(&id)),
                "routes" => drop(s.routes.remove(&id)),
                "plugins" => drop(s.plugins.remove(&id)),
                "consumers" => drop(s.consumers.remove(&id)),
                "keyauth_credentials" => drop(s.keyauth_credentials.remove(&id)),
                "upstreams" => drop(s.upstreams.remove(&id)),
                "targets" => drop(s.targets.remove(&id)),
                "certificates" => drop(s.certificates.remove(&id)),
                "ca_certificates" => drop(s.ca_certificates.remove(&id)),
                "snis" => drop(s.snis.remove(&id)),
                _ => {}
            }
        }
        s.upsert(upserts);
        s
    }

    fn upsert(&mut self, cfg: Config) {
        insert_all(&mut self.services, cfg.services, |e| e.id);
        insert_all(&mut self.routes, cfg.routes, |e| e.id);
        insert_all(&mut self.plugins, cfg.plugins, |e| e.id);
        insert_all(&mut self.consumers, cfg.consumers, |e| e.id);
        insert_all(
            &mut self.keyauth_credentials,
            cfg.keyauth_credentials,
            |e| e.id,
        );
        insert_all(&mut self.upstreams, cfg.upstreams, |e| e.id);
        insert_all(&mut self.targets, cfg.targets, |e| e.id);
        insert_all(&mut self.certificates, cfg.certificates, |e| e.id);
        insert_all(&mut self.ca_certificates, cfg.ca_certificates, |e| e.id);
        insert_all(&mut self.snis, cfg.snis, |e| e.id);
    }

    /// Whether upstreams and targets are the very same entities as in `other` (then the
    /// balancers built from `other` still hold).
    pub fn same_upstreams(&self, other: &Sources) -> bool {
        same(&self.upstreams, &other.upstreams) && same(&self.targets, &other.targets)
    }

    /// Whether plugins and services (whose `enabled` gates their plugins) are the very same.
    pub fn same_plugins(&self, other: &Sources) -> bool {
        same(&self.plugins, &other.plugins) && same(&self.services, &other.services)
    }

    /// Whether consumers and key-auth credentials are the very same.
    pub fn same_consumers(&self, other: &Sources) -> bool {
        same(&self.consumers, &other.consumers)
            && same(&self.keyauth_credentials, &other.keyauth_credentials)
    }

    /// Whether certificates and SNIs are the very same (then the served certificates hold).
    pub fn same_server_certs(&self, other: &Sources) -> bool {
        same(&self.certificates, &other.certificates) && same(&self.snis, &other.snis)
    }

    /// Upstreams and targets as a `Config`, for `upstream::compile`.
    pub fn upstream_config(&self) -> Config {
        Config {
            upstreams: self.upstreams.values().map(|u| (**u).clone()).collect(),
            targets: self.targets.values().map(|t| (**t).clone()).collect(),
            ..Config::default()
        }
    }
}

fn same<T>(a: &BTreeMap<Uuid, Arc<T>>, b: &BTreeMap<Uuid, Arc<T>>) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && Arc::ptr_eq(va, vb))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: serde_json::Value) -> Config {
        let mut entities = Vec::new();
        for kind in proto::schema::ENTITY_KINDS {
            for e in json[kind].as_array().cloned().unwrap_or_default() {
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
    const U1: &str = "50000000-0000-0000-0000-000000000001";

    #[test]
    fn a_delta_replaces_only_what_it_names() {
        let base = Sources::from_config(cfg(serde_json::json!({
            "services": [{"id": S1, "host": "a"}, {"id": S2, "host": "b"}],
            "upstreams": [{"id": U1, "name": "up"}],
        })));
        let next = base.apply(
            cfg(serde_json::json!({"services": [{"id": S2, "host": "b2"}]})),
            &[EntityRef {
                kind: "services".into(),
                id: S1.into(),
            }],
        );
        assert_eq!(base.services.len(), 2, "the base is untouched");
        assert_eq!(next.services.len(), 1);
        let s2 = Uuid::parse_str(S2).unwrap();
        assert_eq!(next.services[&s2].host, "b2");
        assert!(next.same_upstreams(&base));
        assert!(next.same_consumers(&base));
        assert!(!next.same_plugins(&base), "a service changed");
        assert!(next.same_plugins(&next.clone()));
        let changed = next.apply(
            cfg(serde_json::json!({"upstreams": [{"id": U1, "name": "up"}]})),
            &[],
        );
        assert!(!changed.same_upstreams(&next), "a re-sent upstream is new");
        assert_eq!(changed.upstream_config().upstreams.len(), 1);
    }
}
