//! Third step of `apply`: nested decK entities become flat, typed entities. Ids are given or
//! derived (Kong's UUIDv5 rule), references by name or id are resolved across every file, each
//! entity passes Kong's checks, and duplicates are refused. Every error names its place.

use std::collections::{HashMap, HashSet};

use proto::schema::{ids, Config, Consumer, FieldError, KeyAuthCredential, Plugin, Route, Service};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::url::expand_service_url;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Service,
    Route,
    Consumer,
    KeyAuth,
    Plugin,
}

impl Kind {
    fn collection(self) -> &'static str {
        match self {
            Kind::Service => "services",
            Kind::Route => "routes",
            Kind::Consumer => "consumers",
            Kind::KeyAuth => "keyauth_credentials",
            Kind::Plugin => "plugins",
        }
    }
}

#[derive(Debug, Clone)]
enum Ref {
    /// A UUID-shaped value: an id, or failing that a name.
    Id(Uuid, String),
    Name(String),
}

struct PendingRef {
    field: &'static str,
    target: Kind,
    spec: Ref,
}

struct Pending {
    kind: Kind,
    path: String,
    id: Uuid,
    explicit: bool,
    body: Map<String, Value>,
    refs: Vec<PendingRef>,
}

#[derive(Default)]
struct Walker {
    pending: Vec<Pending>,
    errs: Vec<FieldError>,
}

/// Flattens the top-level maps of one or more documents (label → map). With several files the
/// label prefixes every error path (`b.yaml:services[0].host`).
pub fn flatten(
    docs: &[(String, &Map<String, Value>)],
) -> Result<(Config, HashSet<Uuid>), Vec<FieldError>> {
    let mut w = Walker::default();
    for (label, doc) in docs {
        let base = if docs.len() > 1 {
            format!("{label}:")
        } else {
            String::new()
        };
        for (key, kind) in [
            ("services", Kind::Service),
            ("routes", Kind::Route),
            ("consumers", Kind::Consumer),
            ("keyauth_credentials", Kind::KeyAuth),
            ("plugins", Kind::Plugin),
        ] {
            for (i, item) in doc
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let path = format!("{base}{key}[{i}]");
                match item.as_object() {
                    Some(obj) => w.entity(kind, obj.clone(), path, None),
                    None => w.errs.push(FieldError::new(path, "expected a map")),
                }
            }
        }
    }
    w.finish()
}

impl Walker {
    /// Walks one entity and its nested children. `parent` is the nesting parent, if any.
    fn entity(
        &mut self,
        kind: Kind,
        mut body: Map<String, Value>,
        path: String,
        parent: Option<(Kind, Uuid)>,
    ) {
        body.remove("_comment");
        body.remove("_ignore");
        let children: Vec<(&str, Kind)> = match kind {
            Kind::Service => vec![("routes", Kind::Route), ("plugins", Kind::Plugin)],
            Kind::Route => vec![("plugins", Kind::Plugin)],
            Kind::Consumer => vec![
                ("keyauth_credentials", Kind::KeyAuth),
                ("plugins", Kind::Plugin),
            ],
            Kind::KeyAuth | Kind::Plugin => vec![],
        };
        let nested: Vec<(String, Kind, Value)> = children
            .into_iter()
            .filter_map(|(k, kind)| body.remove(k).map(|v| (k.to_string(), kind, v)))
            .collect();
        if kind == Kind::Service {
            if let Err(e) = expand_service_url(&mut body) {
                self.errs.push(e.under(&path));
            }
        }
        let mut refs = Vec::new();
        let mut written: HashMap<&'static str, String> = HashMap::new();
        for &(field, target) in foreign_fields(kind) {
            if let Some((pk, pid)) = parent.filter(|(pk, _)| *pk == target) {
                if body.get(field).is_some_and(|v| !v.is_null()) {
                    self.errs.push(FieldError::new(
                        format!("{path}.{field}"),
                        format!(
                            "must not be set on an entity nested under a {}",
                            singular(pk)
                        ),
                    ));
                }
                refs.push(PendingRef {
                    field,
                    target,
                    spec: Ref::Id(pid, pid.to_string()),
                });
                written.insert(field, pid.to_string());
                continue;
            }
            match take_ref(&mut body, field, target) {
                Ok(Some(spec)) => {
                    let w = match &spec {
                        Ref::Id(_, s) | Ref::Name(s) => s.clone(),
                    };
                    written.insert(field, w);
                    refs.push(PendingRef {
                        field,
                        target,
                        spec,
                    });
                }
                Ok(None) => {}
                Err(e) => self.errs.push(e.under(&path)),
            }
        }
        let explicit = body.get("id").is_some_and(|v| !v.is_null());
        let id = match self.id_of(kind, &body, &written) {
            Ok(id) => id,
            Err(e) => {
                self.errs.push(e.under(&path));
                Uuid::nil()
            }
        };
        for (key, child_kind, value) in nested {
            match value {
                Value::Array(items) => {
                    for (i, item) in items.into_iter().enumerate() {
                        let cpath = format!("{path}.{key}[{i}]");
                        match item {
                            Value::Object(obj) => {
                                self.entity(child_kind, obj, cpath, Some((kind, id)))
                            }
                            _ => self.errs.push(FieldError::new(cpath, "expected a map")),
                        }
                    }
                }
                Value::Null => {}
                _ => self.errs.push(FieldError::new(
                    format!("{path}.{key}"),
                    "expected an array",
                )),
            }
        }
        self.pending.push(Pending {
            kind,
            path,
            id,
            explicit,
            body,
            refs,
        });
    }

    /// The entity's id: explicit, or derived from its natural key as Kong DB-less does.
    fn id_of(
        &self,
        kind: Kind,
        body: &Map<String, Value>,
        written: &HashMap<&str, String>,
    ) -> Result<Uuid, FieldError> {
        if let Some(v) = body.get("id").filter(|v| !v.is_null()) {
            return v
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| FieldError::new("id", "expected a valid UUID"));
        }
        let s = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let key = match kind {
            Kind::Service | Kind::Route => s("name").map(str::to_string),
            Kind::Consumer => s("username")
                .map(str::to_string)
                .or_else(|| s("custom_id").map(|c| format!("custom_id:{c}"))),
            Kind::KeyAuth => s("key").map(str::to_string),
            Kind::Plugin => {
                let name =
                    s("name").ok_or_else(|| FieldError::new("name", "required field missing"))?;
                let w = |f: &str| written.get(f).cloned().unwrap_or_default();
                return Ok(ids::plugin(
                    name,
                    &w("route"),
                    &w("service"),
                    &w("consumer"),
                ));
            }
        };
        match (kind, key) {
            (_, Some(k)) => Ok(ids::generate(kind.collection(), &k)),
            (Kind::KeyAuth, None) => Err(FieldError::new("key", "required field missing")),
            (Kind::Consumer, None) => Err(FieldError::new(
                "@entity",
                "at least one of these fields must be non-empty: 'custom_id', 'username'",
            )),
            (_, None) => Err(FieldError::new(
                "@entity",
                "at least one of these fields must be non-empty: 'id', 'name'",
            )),
        }
    }

    fn finish(mut self) -> Result<(Config, HashSet<Uuid>), Vec<FieldError>> {
        let index = Index::build(&self.pending);
        let explicit: HashSet<Uuid> = self
            .pending
            .iter()
            .filter(|p| p.explicit)
            .map(|p| p.id)
            .collect();
        let mut cfg = Config::default();
        for p in std::mem::take(&mut self.pending) {
            let Pending {
                kind,
                path,
                id,
                mut body,
                refs,
                ..
            } = p;
            let mut ok = true;
            for r in refs {
                match index.resolve(r.target, &r.spec) {
                    Some(rid) => {
                        body.insert(r.field.into(), json!({ "id": rid }));
                    }
                    None => {
                        let shown = match &r.spec {
                            Ref::Id(_, s) | Ref::Name(s) => s.clone(),
                        };
                        self.errs.push(FieldError::new(
                            format!("{path}.{}", r.field),
                            format!(
                                "invalid reference '{}: {shown}' (no such entry in '{}')",
                                r.field,
                                r.target.collection()
                            ),
                        ));
                        ok = false;
                    }
                }
            }
            if !ok {
                continue;
            }
            body.insert("id".into(), json!(id));
            let value = Value::Object(body);
            if let Err(errs) = push_typed(&mut cfg, kind, &value) {
                self.errs.extend(errs.into_iter().map(|e| e.under(&path)));
            }
        }
        if self.errs.is_empty() {
            self.errs.extend(super::unique::check(&cfg, &index.paths));
        }
        if self.errs.is_empty() {
            Ok((cfg, explicit))
        } else {
            Err(self.errs)
        }
    }
}

/// Ids and names of every pending entity, for reference resolution and error paths.
struct Index {
    ids: HashMap<(Kind, Uuid), ()>,
    names: HashMap<(Kind, String), Uuid>,
    paths: HashMap<Uuid, String>,
}

impl Index {
    fn build(pending: &[Pending]) -> Self {
        let mut ix = Index {
            ids: HashMap::new(),
            names: HashMap::new(),
            paths: HashMap::new(),
        };
        for p in pending {
            ix.ids.insert((p.kind, p.id), ());
            ix.paths.entry(p.id).or_insert_with(|| p.path.clone());
            let fields: &[&str] = match p.kind {
                Kind::Service | Kind::Route => &["name"],
                Kind::Consumer => &["username", "custom_id"],
                _ => &[],
            };
            for f in fields {
                if let Some(n) = p.body.get(*f).and_then(Value::as_str) {
                    ix.names.entry((p.kind, n.to_string())).or_insert(p.id);
                }
            }
        }
        ix
    }

    fn resolve(&self, kind: Kind, spec: &Ref) -> Option<Uuid> {
        match spec {
            Ref::Id(id, s) => self
                .ids
                .contains_key(&(kind, *id))
                .then_some(*id)
                .or_else(|| self.names.get(&(kind, s.clone())).copied()),
            Ref::Name(n) => self.names.get(&(kind, n.clone())).copied(),
        }
    }
}

fn foreign_fields(kind: Kind) -> &'static [(&'static str, Kind)] {
    match kind {
        Kind::Route => &[("service", Kind::Service)],
        Kind::KeyAuth => &[("consumer", Kind::Consumer)],
        Kind::Plugin => &[
            ("service", Kind::Service),
            ("route", Kind::Route),
            ("consumer", Kind::Consumer),
        ],
        Kind::Service | Kind::Consumer => &[],
    }
}

fn singular(kind: Kind) -> &'static str {
    match kind {
        Kind::Service => "service",
        Kind::Route => "route",
        Kind::Consumer => "consumer",
        Kind::KeyAuth => "key-auth credential",
        Kind::Plugin => "plugin",
    }
}

/// Removes a reference field and reads it in any form decK or Kong accepts: a name or id
/// string, or a map with `id`, `name` (or `username` for consumers).
fn take_ref(
    body: &mut Map<String, Value>,
    field: &str,
    target: Kind,
) -> Result<Option<Ref>, FieldError> {
    let Some(v) = body.remove(field) else {
        return Ok(None);
    };
    let s = match &v {
        Value::Null => return Ok(None),
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => {
            let key = ["id", "name", "username", "custom_id"]
                .into_iter()
                .filter(|k| *k != "username" || target == Kind::Consumer)
                .find_map(|k| m.get(k).and_then(Value::as_str));
            key.map(str::to_string)
        }
        _ => None,
    };
    let s = s.filter(|s| !s.is_empty()).ok_or_else(|| {
        FieldError::new(field, "expected a name or id, or a map with 'id' or 'name'")
    })?;
    Ok(Some(match Uuid::parse_str(&s) {
        Ok(id) => Ref::Id(id, s),
        Err(_) => Ref::Name(s),
    }))
}

fn push_typed(cfg: &mut Config, kind: Kind, value: &Value) -> Result<(), Vec<FieldError>> {
    use proto::schema::from_value as typed;
    match kind {
        Kind::Service => {
            let s: Service = typed(value).map_err(|e| vec![e])?;
            check(s.validate())?;
            cfg.services.push(s);
        }
        Kind::Route => {
            let r: Route = typed(value).map_err(|e| vec![e])?;
            check(r.validate())?;
            cfg.routes.push(r);
        }
        Kind::Consumer => {
            let c: Consumer = typed(value).map_err(|e| vec![e])?;
            check(c.validate())?;
            cfg.consumers.push(c);
        }
        Kind::KeyAuth => {
            let k: KeyAuthCredential = typed(value).map_err(|e| vec![e])?;
            check(k.validate())?;
            cfg.keyauth_credentials.push(k);
        }
        Kind::Plugin => {
            let p: Plugin = typed(value).map_err(|e| vec![e])?;
            cfg.plugins.push(p.validated()?);
        }
    }
    Ok(())
}

fn check(errs: Vec<FieldError>) -> Result<(), Vec<FieldError>> {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}
