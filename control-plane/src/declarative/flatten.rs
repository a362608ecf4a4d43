//! Third step of `apply`: nested decK entities become flat, typed entities. Ids are given or
//! derived (Kong's UUIDv5 rule), references by name or id are resolved across every file, each
//! entity passes Kong's checks, and duplicates are refused. Every error names its place.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use proto::schema::{Config, FieldError};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::info::{has_all_tags, Info};
use super::kinds::{Kind, TOP_LEVEL};
use super::refs::{id_of, take_ref, Ref};
use super::typed::push_typed;
use super::url::expand_service_url;

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

struct Walker<'a> {
    info: &'a Info,
    external: Option<&'a Config>,
    pending: Vec<Pending>,
    errs: Vec<FieldError>,
}

/// Flattens the top-level maps of one or more documents (label → map). With several files the
/// label prefixes every error path (`b.yaml:services[0].host`). Also returns the ids the files
/// wrote explicitly.
/// `external` is the CP's current config, where references covered by `_info.default_lookup_tags`
/// are looked up; offline (None) such references are accepted unresolved.
pub fn flatten(
    docs: Vec<(String, Map<String, Value>)>,
    info: &Info,
    external: Option<&Config>,
) -> Result<(Config, HashSet<Uuid>), Vec<FieldError>> {
    let mut w = Walker {
        info,
        external,
        pending: Vec::new(),
        errs: Vec::new(),
    };
    let several = docs.len() > 1;
    for (label, mut doc) in docs {
        let base = if several {
            format!("{label}:")
        } else {
            String::new()
        };
        for kind in TOP_LEVEL {
            let key = kind.info().collection;
            // The entities are moved out of the document, not copied.
            let Some(Value::Array(items)) = doc.remove(key) else {
                continue;
            };
            for (i, item) in items.into_iter().enumerate() {
                let path = format!("{base}{key}[{i}]");
                match item {
                    Value::Object(obj) => w.entity(*kind, obj, path, None),
                    _ => w.errs.push(FieldError::new(path, "expected a map")),
                }
            }
        }
    }
    w.finish()
}

impl Walker<'_> {
    /// Walks one entity and its nested children. `parent` is the nesting parent, if any.
    fn entity(
        &mut self,
        kind: Kind,
        mut body: Map<String, Value>,
        path: String,
        parent: Option<(Kind, Uuid)>,
    ) {
        let info = kind.info();
        body.remove("_comment");
        body.remove("_ignore");
        // Timestamps are the store's to keep; a dumped file's values are not taken over.
        body.remove("created_at");
        body.remove("updated_at");
        self.info.apply(info.singular, &mut body);
        let nested: Vec<(&str, Kind, Value)> = info
            .children
            .iter()
            .filter_map(|(k, child)| body.remove(*k).map(|v| (*k, *child, v)))
            .collect();
        if kind == Kind::Service {
            if let Err(e) = expand_service_url(&mut body) {
                self.errs.push(e.under(&path));
            }
        }
        if kind == Kind::Consumer {
            // Consumer-group membership (EE) is not stored; refuse rather than drop it.
            if body
                .get("groups")
                .is_some_and(|g| g.as_array().is_some_and(|a| !a.is_empty()))
            {
                self.errs.push(FieldError::new(
                    format!("{path}.groups"),
                    "consumer groups are not supported by this gateway yet",
                ));
            }
            body.remove("groups");
        }
        let mut refs = Vec::new();
        let mut written: HashMap<&'static str, String> = HashMap::new();
        for &(field, target) in info.foreign {
            if let Some((pk, pid)) = parent.filter(|(pk, _)| *pk == target) {
                if body.get(field).is_some_and(|v| !v.is_null()) {
                    self.errs.push(FieldError::new(
                        format!("{path}.{field}"),
                        format!(
                            "must not be set on an entity nested under a {}",
                            pk.info().singular
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
                    written.insert(field, spec.written().to_string());
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
        let id = match id_of(kind, &body, &written) {
            Ok(id) => id,
            Err(e) => {
                self.errs.push(e.under(&path));
                Uuid::nil()
            }
        };
        for (key, child, value) in nested {
            match value {
                Value::Array(items) => {
                    for (i, item) in items.into_iter().enumerate() {
                        let cpath = format!("{path}.{key}[{i}]");
                        match item {
                            Value::Object(obj) => self.entity(child, obj, cpath, Some((kind, id))),
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

    fn finish(mut self) -> Result<(Config, HashSet<Uuid>), Vec<FieldError>> {
        let mut index = Index::build(&self.pending);
        index.add_external(self.info, self.external);
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
                        self.errs.push(FieldError::new(
                            format!("{path}.{}", r.field),
                            format!(
                                "invalid reference '{}: {}' (no such entry in '{}')",
                                r.field,
                                r.spec.written(),
                                r.target.info().collection
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
            if let Err(errs) = push_typed(&mut cfg, kind, Value::Object(body)) {
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
    ids: HashSet<(Kind, Uuid)>,
    names: HashMap<(Kind, String), Uuid>,
    paths: HashMap<Uuid, String>,
    /// Kinds whose references may point outside the files (`_info.default_lookup_tags`) while
    /// the CP's state is not at hand: accepted unresolved.
    deferred: HashSet<Kind>,
}

impl Index {
    fn build(pending: &[Pending]) -> Self {
        let mut ix = Index {
            ids: HashSet::new(),
            names: HashMap::new(),
            paths: HashMap::new(),
            deferred: HashSet::new(),
        };
        for p in pending {
            ix.ids.insert((p.kind, p.id));
            ix.paths.entry(p.id).or_insert_with(|| p.path.clone());
            for f in p.kind.info().names {
                if let Some(n) = p.body.get(*f).and_then(Value::as_str) {
                    ix.names.entry((p.kind, n.to_string())).or_insert(p.id);
                }
            }
        }
        ix
    }

    /// Makes entities on the CP that carry a kind's lookup tags referable from the files.
    fn add_external(&mut self, info: &Info, external: Option<&Config>) {
        for (collection, tags) in &info.lookup_tags {
            let Some(kind) = TOP_LEVEL
                .iter()
                .copied()
                .find(|k| k.info().collection == collection)
            else {
                continue;
            };
            let Some(cfg) = external else {
                self.deferred.insert(kind);
                continue;
            };
            for e in cfg.to_entities().iter().filter(|e| e.kind == *collection) {
                let body: Value = serde_json::from_slice(&e.json).unwrap_or(Value::Null);
                let Ok(id) = Uuid::parse_str(&e.id) else {
                    continue;
                };
                if !has_all_tags(&body, tags) {
                    continue;
                }
                self.ids.insert((kind, id));
                for f in kind.info().names {
                    if let Some(n) = body[*f].as_str() {
                        self.names.entry((kind, n.to_string())).or_insert(id);
                    }
                }
            }
        }
    }

    fn resolve(&self, kind: Kind, spec: &Ref) -> Option<Uuid> {
        if self.deferred.contains(&kind) && self.lookup(kind, spec).is_none() {
            return Some(Uuid::nil());
        }
        self.lookup(kind, spec)
    }

    fn lookup(&self, kind: Kind, spec: &Ref) -> Option<Uuid> {
        match spec {
            Ref::Id(id, s) => self
                .ids
                .contains(&(kind, *id))
                .then_some(*id)
                .or_else(|| self.names.get(&(kind, s.clone())).copied()),
            Ref::Name(n) => self.names.get(&(kind, n.clone())).copied(),
        }
    }
}
