//! The last check of `apply`: no two entities share an id or a unique field (name, username,
//! key, SNI, vault prefix, …), and no two plugins share a scope (name + route + service +
//! consumer) or two targets an upstream and address.

use foldhash::{HashMap, HashSet, HashSetExt};

use proto::schema::{Config, FieldError, ForeignKey, ENTITY_KINDS};
use uuid::Uuid;

/// A unique key's value, borrowed from the config (written out only in a message).
#[derive(PartialEq, Eq, Hash)]
enum Key<'c> {
    Text(&'c str),
    /// An upstream or consumer, and a target address or ACL group.
    Pair(Uuid, &'c str),
    /// A plugin's name, route, service and consumer.
    Scope(&'c str, Option<Uuid>, Option<Uuid>, Option<Uuid>),
}

impl std::fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fk = |id: &Option<Uuid>| id.map_or_else(|| "null".to_string(), |id| id.to_string());
        match self {
            Key::Text(t) => f.write_str(t),
            Key::Pair(id, t) => write!(f, "{id}, {t}"),
            Key::Scope(name, route, service, consumer) => {
                write!(
                    f,
                    "{name}, {}, {}, {}",
                    fk(route),
                    fk(service),
                    fk(consumer)
                )
            }
        }
    }
}

/// Collects keys and reports each duplicate at the place of its second occurrence.
struct Seen<'a, 'c> {
    ids: HashSet<(&'static str, Uuid)>,
    keys: HashSet<(&'static str, &'static str, Key<'c>)>,
    paths: &'a HashMap<Uuid, String>,
    errs: Vec<FieldError>,
}

impl<'a, 'c> Seen<'a, 'c> {
    fn new(paths: &'a HashMap<Uuid, String>) -> Self {
        Seen {
            ids: HashSet::new(),
            keys: HashSet::new(),
            paths,
            errs: Vec::new(),
        }
    }

    fn key(&mut self, kind: &'static str, field: &'static str, value: Option<Key<'c>>, id: Uuid) {
        let Some(value) = value else { return };
        let key = (kind, field, value);
        if self.keys.contains(&key) {
            self.duplicate(kind, field, &key.2.to_string(), id);
        } else {
            self.keys.insert(key);
        }
    }

    /// `key(kind, "id", …)` without writing every id out.
    fn id(&mut self, kind: &'static str, id: Uuid) {
        if !self.ids.insert((kind, id)) {
            self.duplicate(kind, "id", &id.to_string(), id);
        }
    }

    fn duplicate(&mut self, kind: &str, field: &str, value: &str, id: Uuid) {
        let at = self.paths.get(&id).cloned().unwrap_or_default();
        self.errs.push(FieldError::new(
            at,
            format!("uniqueness violation: '{kind}' entity with {field} set to '{value}' already declared"),
        ));
    }
}

fn fk(f: &Option<ForeignKey>) -> Option<Uuid> {
    f.map(|f| f.id)
}

fn text(t: &Option<String>) -> Option<Key<'_>> {
    t.as_deref().map(Key::Text)
}

/// Reports every duplicate in `cfg`; `paths` maps ids to their place in the files.
pub fn check(cfg: &Config, paths: &HashMap<Uuid, String>) -> Vec<FieldError> {
    let mut s = Seen::new(paths);
    for kind in ENTITY_KINDS {
        ids(cfg, kind, &mut s);
    }
    for kind in FIELD_ORDER {
        fields(cfg, kind, &mut s);
    }
    s.errs
}

/// The duplicates among the entities of one kind (every unique key is unique within a kind):
/// what `check` reports for that kind, in the same order.
pub fn check_kind(cfg: &Config, kind: &str, paths: &HashMap<Uuid, String>) -> Vec<FieldError> {
    let mut s = Seen::new(paths);
    ids(cfg, kind, &mut s);
    fields(cfg, kind, &mut s);
    s.errs
}

/// The kinds with unique fields besides the id, in the order `check` looks at them.
const FIELD_ORDER: &[&str] = &[
    "services",
    "routes",
    "upstreams",
    "snis",
    "vaults",
    "consumers",
    "keyauth_credentials",
    "basicauth_credentials",
    "hmacauth_credentials",
    "jwt_secrets",
    "oauth2_credentials",
    "targets",
    "acls",
    "plugins",
];

/// No two entities of `kind` share an id.
fn ids(cfg: &Config, kind: &str, s: &mut Seen<'_, '_>) {
    macro_rules! ids {
        ($($field:ident),*) => {
            match kind {
                $(stringify!($field) => for e in &cfg.$field {
                    s.id(stringify!($field), e.id);
                },)*
                _ => {}
            }
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
}

/// No two entities of `kind` share a unique field (or plugin scope, target address, …).
fn fields<'c>(cfg: &'c Config, kind: &str, s: &mut Seen<'_, 'c>) {
    match kind {
        "services" => {
            for e in &cfg.services {
                s.key("services", "name", text(&e.name), e.id);
            }
        }
        "routes" => {
            for e in &cfg.routes {
                s.key("routes", "name", text(&e.name), e.id);
            }
        }
        "upstreams" => {
            for e in &cfg.upstreams {
                s.key("upstreams", "name", Some(Key::Text(&e.name)), e.id);
            }
        }
        "snis" => {
            for e in &cfg.snis {
                s.key("snis", "name", Some(Key::Text(&e.name)), e.id);
            }
        }
        "vaults" => {
            for e in &cfg.vaults {
                s.key("vaults", "prefix", Some(Key::Text(&e.prefix)), e.id);
            }
        }
        "consumers" => {
            for e in &cfg.consumers {
                s.key("consumers", "username", text(&e.username), e.id);
                s.key("consumers", "custom_id", text(&e.custom_id), e.id);
            }
        }
        "keyauth_credentials" => {
            for e in &cfg.keyauth_credentials {
                s.key("keyauth_credentials", "key", Some(Key::Text(&e.key)), e.id);
            }
        }
        "basicauth_credentials" => {
            for e in &cfg.basicauth_credentials {
                s.key(
                    "basicauth_credentials",
                    "username",
                    Some(Key::Text(&e.username)),
                    e.id,
                );
            }
        }
        "hmacauth_credentials" => {
            for e in &cfg.hmacauth_credentials {
                s.key(
                    "hmacauth_credentials",
                    "username",
                    Some(Key::Text(&e.username)),
                    e.id,
                );
            }
        }
        "jwt_secrets" => {
            for e in &cfg.jwt_secrets {
                s.key("jwt_secrets", "key", Some(Key::Text(&e.key)), e.id);
            }
        }
        "oauth2_credentials" => {
            for e in &cfg.oauth2_credentials {
                s.key(
                    "oauth2_credentials",
                    "client_id",
                    Some(Key::Text(&e.client_id)),
                    e.id,
                );
            }
        }
        "targets" => {
            for e in &cfg.targets {
                s.key(
                    "targets",
                    "upstream, target",
                    Some(Key::Pair(e.upstream.id, &e.target)),
                    e.id,
                );
            }
        }
        "acls" => {
            for e in &cfg.acls {
                s.key(
                    "acls",
                    "consumer, group",
                    Some(Key::Pair(e.consumer.id, &e.group)),
                    e.id,
                );
            }
        }
        "plugins" => {
            for p in &cfg.plugins {
                let scope = Key::Scope(&p.name, fk(&p.route), fk(&p.service), fk(&p.consumer));
                s.key(
                    "plugins",
                    "name, route, service, consumer",
                    Some(scope),
                    p.id,
                );
                s.key("plugins", "instance_name", text(&p.instance_name), p.id);
            }
        }
        _ => {}
    }
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

    #[test]
    fn one_kind_is_checked_as_in_the_whole_config() {
        let svc = |name: &str| {
            serde_json::from_value::<proto::schema::Service>(
                serde_json::json!({"id": Uuid::new_v4(), "name": name, "host": "h"}),
            )
            .unwrap()
        };
        let plugin: proto::schema::Plugin =
            serde_json::from_value(serde_json::json!({"id": Uuid::new_v4(), "name": "cors"}))
                .unwrap();
        let mut twin = plugin.clone();
        twin.id = Uuid::new_v4();
        let cfg = Config {
            services: vec![svc("a"), svc("b"), svc("a")],
            plugins: vec![plugin, twin],
            ..Default::default()
        };
        let all = check(&cfg, &HashMap::default());
        assert_eq!(all.len(), 2);
        for kind in ["services", "plugins"] {
            let one = check_kind(&cfg, kind, &HashMap::default());
            let expected: Vec<_> = all
                .iter()
                .filter(|e| e.message.contains(&format!("'{kind}'")))
                .cloned()
                .collect();
            assert_eq!(one, expected, "{kind}");
        }
        assert!(check_kind(&cfg, "routes", &HashMap::default()).is_empty());
    }

    #[test]
    fn a_duplicate_id_is_reported_at_its_second_place() {
        let one: proto::schema::Service = serde_json::from_value(
            serde_json::json!({"id": Uuid::new_v4(), "name": "a", "host": "h"}),
        )
        .unwrap();
        let mut two = one.clone();
        two.name = Some("b".into());
        let id = one.id;
        let cfg = Config {
            services: vec![one, two],
            ..Default::default()
        };
        let mut paths = HashMap::default();
        paths.insert(id, "services[1]".to_string());
        let errs = check(&cfg, &paths);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].path, "services[1]");
        assert_eq!(
            errs[0].message,
            format!(
                "uniqueness violation: 'services' entity with id set to '{id}' already declared"
            )
        );
    }
}
