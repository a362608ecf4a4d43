//! The last check of `apply`: no two entities share an id or a unique field (name, username,
//! key, SNI, vault prefix, …), and no two plugins share a scope (name + route + service +
//! consumer) or two targets an upstream and address.

use foldhash::{HashMap, HashSet, HashSetExt};

use proto::schema::{Config, FieldError, ForeignKey};
use uuid::Uuid;

/// Collects keys and reports each duplicate at the place of its second occurrence.
struct Seen<'a> {
    keys: HashSet<(&'static str, &'static str, String)>,
    paths: &'a HashMap<Uuid, String>,
    errs: Vec<FieldError>,
}

impl Seen<'_> {
    fn key(&mut self, kind: &'static str, field: &'static str, value: Option<String>, id: Uuid) {
        let Some(value) = value else { return };
        if !self.keys.insert((kind, field, value.clone())) {
            let at = self.paths.get(&id).cloned().unwrap_or_default();
            self.errs.push(FieldError::new(
                at,
                format!("uniqueness violation: '{kind}' entity with {field} set to '{value}' already declared"),
            ));
        }
    }
}

fn fk(f: &Option<ForeignKey>) -> String {
    f.map_or_else(|| "null".to_string(), |f| f.id.to_string())
}

/// Reports every duplicate in `cfg`; `paths` maps ids to their place in the files.
pub fn check(cfg: &Config, paths: &HashMap<Uuid, String>) -> Vec<FieldError> {
    let mut s = Seen {
        keys: HashSet::new(),
        paths,
        errs: Vec::new(),
    };
    macro_rules! ids {
        ($($field:ident),*) => {
            $(for e in &cfg.$field {
                s.key(stringify!($field), "id", Some(e.id.to_string()), e.id);
            })*
        };
    }
    ids!(
        certificates,
        ca_certificates,
        vaults,
        services,
        routes,
        snis,
        upstreams,
        targets,
        consumers,
        keyauth_credentials,
        basicauth_credentials,
        hmacauth_credentials,
        jwt_secrets,
        acls,
        oauth2_credentials,
        mtls_auth_credentials,
        plugins
    );
    for e in &cfg.services {
        s.key("services", "name", e.name.clone(), e.id);
    }
    for e in &cfg.routes {
        s.key("routes", "name", e.name.clone(), e.id);
    }
    for e in &cfg.upstreams {
        s.key("upstreams", "name", Some(e.name.clone()), e.id);
    }
    for e in &cfg.snis {
        s.key("snis", "name", Some(e.name.clone()), e.id);
    }
    for e in &cfg.vaults {
        s.key("vaults", "prefix", Some(e.prefix.clone()), e.id);
    }
    for e in &cfg.consumers {
        s.key("consumers", "username", e.username.clone(), e.id);
        s.key("consumers", "custom_id", e.custom_id.clone(), e.id);
    }
    for e in &cfg.keyauth_credentials {
        s.key("keyauth_credentials", "key", Some(e.key.clone()), e.id);
    }
    for e in &cfg.basicauth_credentials {
        s.key(
            "basicauth_credentials",
            "username",
            Some(e.username.clone()),
            e.id,
        );
    }
    for e in &cfg.hmacauth_credentials {
        s.key(
            "hmacauth_credentials",
            "username",
            Some(e.username.clone()),
            e.id,
        );
    }
    for e in &cfg.jwt_secrets {
        s.key("jwt_secrets", "key", Some(e.key.clone()), e.id);
    }
    for e in &cfg.oauth2_credentials {
        s.key(
            "oauth2_credentials",
            "client_id",
            Some(e.client_id.clone()),
            e.id,
        );
    }
    for e in &cfg.targets {
        s.key(
            "targets",
            "upstream, target",
            Some(format!("{}, {}", e.upstream.id, e.target)),
            e.id,
        );
    }
    for e in &cfg.acls {
        s.key(
            "acls",
            "consumer, group",
            Some(format!("{}, {}", e.consumer.id, e.group)),
            e.id,
        );
    }
    for p in &cfg.plugins {
        let scope = format!(
            "{}, {}, {}, {}",
            p.name,
            fk(&p.route),
            fk(&p.service),
            fk(&p.consumer)
        );
        s.key(
            "plugins",
            "name, route, service, consumer",
            Some(scope),
            p.id,
        );
        s.key("plugins", "instance_name", p.instance_name.clone(), p.id);
    }
    s.errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_plugin_scopes_and_targets_are_found() {
        let json = serde_json::json!({"id": Uuid::new_v4(), "name": "prometheus"});
        let p1: proto::schema::Plugin = serde_json::from_value(json.clone()).unwrap();
        let mut p2 = p1.clone();
        p2.id = Uuid::new_v4();
        let cfg = Config {
            plugins: vec![p1, p2],
            ..Default::default()
        };
        let errs = check(&cfg, &HashMap::default());
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0]
                .message
                .contains("'plugins' entity with name, route, service, consumer"),
            "{}",
            errs[0].message
        );
    }
}
