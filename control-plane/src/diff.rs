//! What a new config changes against the stored one, entity by entity, named the way decK
//! names them (`creating service svc1`, `deleting plugin key-auth (global)`).

use std::borrow::Borrow;
use std::cell::OnceCell;
use std::cmp::Ordering;

use foldhash::{HashMap, HashSet};

use proto::schema::canonical_cmp;
use proto::v1;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// decK's kind: `service`, `route`, `consumer`, `key-auth`, `plugin`.
    pub kind: String,
    pub name: String,
    pub id: String,
    /// For updates: the entity before and after (timestamps left out), for a field-level diff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    pub creating: Vec<Change>,
    pub updating: Vec<Change>,
    pub deleting: Vec<Change>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.creating.is_empty() && self.updating.is_empty() && self.deleting.is_empty()
    }
}

/// Compares two entity lists, ignoring timestamps. Creates and updates come in dependency
/// order (as given); deletes in reverse. Linear in the number of entities; only entities whose
/// bytes differ are parsed, and display names are looked up only when something changed.
/// `new` may hold the entities or references to them (shared with the published snapshot, in
/// which case an unchanged entity is the same object and its bytes are not compared).
pub fn compute<N: Borrow<v1::Entity>>(old: &[v1::Entity], new: &[N]) -> Changes {
    let new: Vec<&v1::Entity> = new.iter().map(Borrow::borrow).collect();
    let old_names = OnceCell::new();
    let new_names = OnceCell::new();
    let old_names = || old_names.get_or_init(|| Names::of(old.iter()));
    let new_names = || new_names.get_or_init(|| Names::of(new.iter().copied()));
    let mut out = Changes::default();
    let mut update = |before: &v1::Entity, e: &v1::Entity| {
        if std::ptr::eq(before, e) || before.json == e.json {
            return;
        }
        let (b, a) = (comparable(before), comparable(e));
        if b != a {
            let mut c = new_names().change(e);
            c.old = Some(b);
            c.new = Some(a);
            out.updating.push(c);
        }
    };
    let mut deleted: Vec<&v1::Entity> = Vec::new();
    let mut created: Vec<&v1::Entity> = Vec::new();
    if canonical(old.iter()) && canonical(new.iter().copied()) {
        // Both in canonical order (as configs encode): one walk side by side.
        let (mut i, mut j) = (0, 0);
        loop {
            match (old.get(i), new.get(j)) {
                (Some(o), Some(n)) => match canonical_cmp(o, n) {
                    Ordering::Less => {
                        deleted.push(o);
                        i += 1;
                    }
                    Ordering::Greater => {
                        created.push(n);
                        j += 1;
                    }
                    Ordering::Equal => {
                        update(o, n);
                        i += 1;
                        j += 1;
                    }
                },
                (Some(o), None) => {
                    deleted.push(o);
                    i += 1;
                }
                (None, Some(n)) => {
                    created.push(n);
                    j += 1;
                }
                (None, None) => break,
            }
        }
    } else {
        let old_map: HashMap<(&str, &str), &v1::Entity> = old
            .iter()
            .map(|e| ((e.kind.as_str(), e.id.as_str()), e))
            .collect();
        let new_keys: HashSet<(&str, &str)> = new
            .iter()
            .map(|e| (e.kind.as_str(), e.id.as_str()))
            .collect();
        for e in new.iter().copied() {
            match old_map.get(&(e.kind.as_str(), e.id.as_str())) {
                None => created.push(e),
                Some(before) => update(before, e),
            }
        }
        deleted.extend(
            old.iter()
                .filter(|e| !new_keys.contains(&(e.kind.as_str(), e.id.as_str()))),
        );
    }
    out.creating = created.into_iter().map(|e| new_names().change(e)).collect();
    out.deleting = deleted
        .into_iter()
        .rev()
        .map(|e| old_names().change(e))
        .collect();
    out
}

/// Whether entities are in strictly increasing canonical order (`Config::to_entities` order).
fn canonical<'a>(entities: impl Iterator<Item = &'a v1::Entity>) -> bool {
    let mut last: Option<&v1::Entity> = None;
    for e in entities {
        if last.is_some_and(|l| canonical_cmp(l, e).is_ge()) {
            return false;
        }
        last = Some(e);
    }
    true
}

/// decK shows only the last 5 characters of a key.
fn tail(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    chars[chars.len().saturating_sub(5)..].iter().collect()
}

fn comparable(e: &v1::Entity) -> Value {
    let mut v: Value = serde_json::from_slice(&e.json).unwrap_or(Value::Null);
    if let Some(m) = v.as_object_mut() {
        m.remove("created_at");
        m.remove("updated_at");
    }
    v
}

/// The fields a change is named by; the rest of the entity (a plugin's config) is skipped.
#[derive(Default, serde::Deserialize)]
struct Shown {
    name: Option<Value>,
    username: Option<Value>,
    custom_id: Option<Value>,
    key: Option<Value>,
    target: Option<Value>,
    group: Option<Value>,
    client_id: Option<Value>,
    subject_name: Option<Value>,
    prefix: Option<Value>,
    service: Option<Value>,
    route: Option<Value>,
    consumer: Option<Value>,
    upstream: Option<Value>,
}

impl Shown {
    fn of(e: &v1::Entity) -> Shown {
        serde_json::from_slice(&e.json).unwrap_or_default()
    }

    fn get(&self, field: &str) -> Option<&Value> {
        match field {
            "name" => self.name.as_ref(),
            "username" => self.username.as_ref(),
            "custom_id" => self.custom_id.as_ref(),
            "key" => self.key.as_ref(),
            "target" => self.target.as_ref(),
            "group" => self.group.as_ref(),
            "client_id" => self.client_id.as_ref(),
            "subject_name" => self.subject_name.as_ref(),
            "prefix" => self.prefix.as_ref(),
            "service" => self.service.as_ref(),
            "route" => self.route.as_ref(),
            "consumer" => self.consumer.as_ref(),
            "upstream" => self.upstream.as_ref(),
            _ => None,
        }
    }
}

/// Display names of the entities of one config, read only for the entities that changed.
struct Names<'a> {
    by_id: HashMap<&'a str, &'a v1::Entity>,
}

impl<'a> Names<'a> {
    fn of(entities: impl Iterator<Item = &'a v1::Entity>) -> Self {
        Names {
            by_id: entities.map(|e| (e.id.as_str(), e)).collect(),
        }
    }

    fn body(&self, id: &str) -> Shown {
        self.by_id.get(id).map(|e| Shown::of(e)).unwrap_or_default()
    }

    /// The name shown for an entity: its name, username or custom_id, else its id.
    fn display(&self, id: &str) -> String {
        let v = self.body(id);
        ["name", "username", "custom_id"]
            .iter()
            .find_map(|k| v.get(k).and_then(Value::as_str))
            .map_or_else(|| id.to_string(), str::to_string)
    }

    fn name_of(&self, v: &Shown, field: &str) -> Option<String> {
        let id = v.get(field)?.get("id")?.as_str()?;
        Some(self.display(id))
    }

    fn change(&self, e: &v1::Entity) -> Change {
        let v = Shown::of(e);
        let field = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let owner = |f: &str, what: &str| {
            self.name_of(&v, f)
                .map(|n| format!(" for {what} {n}"))
                .unwrap_or_default()
        };
        let named = || self.display(&e.id);
        let (kind, name) = match e.kind.as_str() {
            "services" => ("service", named()),
            "routes" => ("route", named()),
            "consumers" => ("consumer", named()),
            "upstreams" => ("upstream", field("name")),
            "targets" => (
                "target",
                format!("{}{}", field("target"), owner("upstream", "upstream")),
            ),
            "certificates" => ("certificate", e.id.clone()),
            "ca_certificates" => ("ca-certificate", e.id.clone()),
            "snis" => ("sni", field("name")),
            "vaults" => ("vault", field("prefix")),
            "keyauth_credentials" => (
                "key-auth",
                format!("{}{}", tail(&field("key")), owner("consumer", "consumer")),
            ),
            "basicauth_credentials" => (
                "basic-auth",
                format!("{}{}", field("username"), owner("consumer", "consumer")),
            ),
            "hmacauth_credentials" => (
                "hmac-auth",
                format!("{}{}", field("username"), owner("consumer", "consumer")),
            ),
            "jwt_secrets" => (
                "jwt-auth",
                format!("{}{}", field("key"), owner("consumer", "consumer")),
            ),
            "acls" => (
                "acl-group",
                format!("{}{}", field("group"), owner("consumer", "consumer")),
            ),
            "oauth2_credentials" => (
                "oauth2-cred",
                format!("{}{}", field("client_id"), owner("consumer", "consumer")),
            ),
            "mtls_auth_credentials" => (
                "mtls-auth",
                format!("{}{}", field("subject_name"), owner("consumer", "consumer")),
            ),
            _ => ("plugin", self.plugin_name(&v)),
        };
        Change {
            kind: kind.into(),
            name,
            id: e.id.clone(),
            old: None,
            new: None,
        }
    }

    fn plugin_name(&self, v: &Shown) -> String {
        let name = v.get("name").and_then(Value::as_str).unwrap_or_default();
        let scopes: Vec<String> = ["service", "route", "consumer"]
            .iter()
            .filter_map(|f| self.name_of(v, f).map(|n| format!("{f} {n}")))
            .collect();
        if scopes.is_empty() {
            format!("{name} (global)")
        } else {
            format!("{name} for {}", scopes.join(" and "))
        }
    }
}

#[cfg(test)]
mod tests;
