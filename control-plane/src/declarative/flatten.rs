//! Third step of `apply`: nested decK entities become flat, typed entities. Ids are given or
//! derived (Kong's UUIDv5 rule), references by name or id are resolved across every file, each
//! entity passes Kong's checks, and duplicates are refused. Every error names its place.

use foldhash::{HashMap, HashMapExt, HashSet};

use proto::schema::{Config, FieldError};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::info::Info;
use super::kinds::{Kind, TOP_LEVEL};
use super::refs::{id_of, take_ref, Ref};
use super::reuse::{Draft, Fresh, Reuse};
use super::typed::push_typed;

mod reusing;
use super::url::expand_service_url;
use reusing::{holds, names_of, Hit};

struct PendingRef {
    field: &'static str,
    target: Kind,
    spec: Ref,
}

struct Pending {
    /// The top-level item it comes from (its index in `Draft::items`), when recording.
    item: usize,
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
    /// The last check's entities, when they describe `external`.
    prev: Option<&'a Reuse>,
    /// What this check records for the next one (CP only).
    draft: Option<Draft>,
    /// The top-level item being walked.
    item: usize,
    /// Items found unchanged in `prev`, not walked.
    hits: Vec<Hit<'a>>,
    /// Reads an item's text (JSON or YAML, as the document came).
    read: fn(&str) -> Option<Map<String, Value>>,
}

/// Reusing the last check on the CP: `prev` if it describes the existing config, and the
/// context (`_info`, reading of scalars) the items are read under.
pub struct Reusing<'a> {
    pub prev: Option<&'a Reuse>,
    pub context: Vec<u8>,
    /// Each top-level item's JSON text, when the document came as JSON (`raw_items`): the
    /// items `prev` holds are `null` in the tree.
    pub raw: HashMap<(Kind, usize), &'a str>,
    /// Reads one item's text.
    pub read: fn(&str) -> Option<Map<String, Value>>,
}

/// A flattened config, the ids the files wrote explicitly, and, when reusing, the draft of the
/// next `Reuse`.
pub type Flat = (Config, HashSet<Uuid>, Option<Draft>);

/// Flattens the top-level maps of one or more documents (label → map). With several files the
/// label prefixes every error path (`b.yaml:services[0].host`). Also returns the ids the files
/// wrote explicitly.
/// `external` is the CP's current config, where references covered by `_info.default_lookup_tags`
/// are looked up; offline (None) such references are accepted unresolved.
pub fn flatten<'a>(
    docs: Vec<(String, Map<String, Value>)>,
    info: &'a Info,
    external: Option<&'a Config>,
    reusing: Option<Reusing<'a>>,
) -> Result<Flat, Vec<FieldError>> {
    let (prev, draft, raw, read) = match reusing {
        Some(r) => (
            r.prev.filter(|p| p.context_is(&r.context)),
            Some(Draft {
                context: r.context,
                ..Draft::default()
            }),
            r.raw,
            r.read,
        ),
        None => (
            None,
            None,
            HashMap::new(),
            super::raw_items::read_item as fn(&str) -> Option<Map<String, Value>>,
        ),
    };
    let mut w = Walker {
        info,
        external,
        pending: Vec::new(),
        errs: Vec::new(),
        prev,
        draft,
        item: usize::MAX,
        hits: Vec::new(),
        read,
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
                let text = raw.get(&(*kind, i)).copied();
                match item {
                    Value::Object(obj) => w.top_level(*kind, Some(obj), text, path),
                    Value::Null if text.is_some() => w.top_level(*kind, None, text, path),
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
            item: self.item,
            kind,
            path,
            id,
            explicit,
            body,
            refs,
        });
    }

    fn finish(mut self) -> Result<Flat, Vec<FieldError>> {
        let positions = self.positions();
        let mut index = loop {
            let index = self.index();
            // An unchanged item holds while everything it referred to resolves as before.
            let broken: Vec<usize> = (0..self.hits.len())
                .filter(|&i| !holds(self.hits[i].entries, &index, &positions))
                .collect();
            if broken.is_empty() {
                break index;
            }
            for i in broken.into_iter().rev() {
                let h = self.hits.remove(i);
                self.item = h.item;
                // Its tree, read from its text only now that it is needed.
                let body = h.value.or_else(|| h.text.and_then(self.read));
                match body {
                    Some(body) => self.entity(h.kind, body, h.path, None),
                    None => self.errs.push(FieldError::new(h.path, "expected a map")),
                }
            }
        };
        index.add_external(self.info, self.external);
        let mut explicit: HashSet<Uuid> = self
            .pending
            .iter()
            .filter(|p| p.explicit)
            .map(|p| p.id)
            .collect();
        let mut cfg = Config::default();
        for p in std::mem::take(&mut self.pending) {
            let Pending {
                item,
                kind,
                path,
                id,
                explicit: written,
                mut body,
                refs,
            } = p;
            let mut ok = true;
            let mut resolved = Vec::new();
            for r in refs {
                match index.resolve(r.target, &r.spec) {
                    Some(rid) => {
                        body.insert(r.field.into(), json!({ "id": rid }));
                        if self.draft.is_some() {
                            resolved.push((r.target, r.spec, rid));
                        }
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
            let info = kind.info();
            let pos = cfg.count(info.collection);
            let names = match self.draft {
                Some(_) => names_of(kind, &body),
                None => Vec::new(),
            };
            body.insert("id".into(), json!(id));
            match push_typed(&mut cfg, kind, Value::Object(body)) {
                Ok(()) => {
                    if let Some(d) = self.draft.as_mut() {
                        d.fresh.push(Fresh {
                            item,
                            kind,
                            pos,
                            path,
                            explicit: written,
                            names,
                            refs: resolved,
                        });
                    }
                }
                Err(errs) => self.errs.extend(errs.into_iter().map(|e| e.under(&path))),
            }
        }
        if let (Some(existing), Some(draft)) = (self.external, self.draft.as_mut()) {
            // The unchanged items' entities, copied from the existing config kind by kind.
            let mut copies: HashMap<Kind, Vec<usize>> = HashMap::new();
            for h in &self.hits {
                for e in h.entries.iter() {
                    if let Some(&pos) = positions.get(&e.kind).and_then(|p| p.get(&e.id)) {
                        copies.entry(e.kind).or_default().push(pos);
                    }
                    if e.explicit {
                        explicit.insert(e.id);
                    }
                }
                draft.reused.push((h.item, h.entries.clone()));
            }
            for kind in TOP_LEVEL {
                if let Some(list) = copies.get(kind) {
                    cfg.extend_from(kind.info().collection, existing, list);
                }
            }
        }
        if self.errs.is_empty() {
            // A refused document is checked again whole (see `from_document_reusing`): the
            // unchanged items' places are not needed here.
            self.errs.extend(super::unique::check(&cfg, &index.paths));
        }
        if self.errs.is_empty() {
            Ok((cfg, explicit, self.draft))
        } else {
            Err(self.errs)
        }
    }
}
