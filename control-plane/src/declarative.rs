//! decK files in, a typed `Config` out: render `${{ env "DECK_…" }}` → parse YAML/JSON → check the
//! top level → flatten nested entities, resolve references, fill defaults and validate. Used by
//! the CLI (`apply`, `validate`) and by the Admin API's `POST /config`, so both refuse the same
//! inputs with the same messages.

mod adopt;
pub mod ca_refs;
pub mod document;
mod flatten;
mod index;
mod info;
mod kinds;
pub mod raw_items;
mod refs;
pub mod render;
pub mod reuse;
mod typed;
mod unique;
mod url;
pub mod yaml_fast;
pub mod yaml_items;

use proto::schema::{Config, FieldError};
use serde_json::{json, Value};

use render::Env;

/// One input file: a label for messages (its path) and its text.
pub struct Source {
    pub label: String,
    pub text: String,
}

/// Every problem found in the inputs, each a line naming its file and place.
#[derive(Debug, thiserror::Error)]
#[error("{}", .errors.join("\n"))]
pub struct LoadError {
    pub errors: Vec<String>,
}

/// Renders, parses and flattens one or more files into one config.
pub fn load(sources: &[Source], env: &dyn Env) -> Result<Config, LoadError> {
    let docs = render_and_parse(sources, env)?;
    from_owned_documents(docs, None).map_err(|errs| LoadError {
        errors: errs.iter().map(ToString::to_string).collect(),
    })
}

/// Renders templates and parses each file; every file's problems are reported.
pub fn render_and_parse(
    sources: &[Source],
    env: &dyn Env,
) -> Result<Vec<(String, Value)>, LoadError> {
    let mut errors = Vec::new();
    let mut docs = Vec::new();
    for src in sources {
        let text = match render::render(&src.text, env) {
            Ok(t) => t,
            Err(errs) => {
                errors.extend(errs.into_iter().map(|e| format!("{}: {e}", src.label)));
                continue;
            }
        };
        match document::parse(&text) {
            Ok(doc) => docs.push((src.label.clone(), doc)),
            Err(e) => errors.push(format!("{}: {e}", src.label)),
        }
    }
    if errors.is_empty() {
        Ok(docs)
    } else {
        Err(LoadError { errors })
    }
}

/// Flattens already-parsed documents (label, tree). Errors carry their path in the document.
/// With the CP's `existing` config, entities without an explicit id take over the id of the
/// existing entity with the same natural key, as decK does.
pub fn from_documents(
    docs: &[(String, Value)],
    existing: Option<&Config>,
) -> Result<Config, Vec<FieldError>> {
    from_owned_documents(docs.to_vec(), existing)
}

/// `from_documents`, taking the trees: their entities are moved into the config, not copied.
pub fn from_owned_documents(
    docs: Vec<(String, Value)>,
    existing: Option<&Config>,
) -> Result<Config, Vec<FieldError>> {
    from_owned(docs, existing, None).map(|c| c.config)
}

/// A document for `from_document_reusing`: a tree, or JSON or YAML split into its items'
/// texts (`raw_items`, `yaml_items`).
pub enum Input<'t> {
    Tree(Value),
    Split(raw_items::Split<'t>),
}

impl Input<'_> {
    /// The document's top-level map (with unparsed items as `null` when split).
    pub fn doc(&self) -> &Value {
        match self {
            Input::Tree(v) => v,
            Input::Split(s) => &s.doc,
        }
    }
}

/// What, besides its own text, decides how an item reads: the caller's `context` (the reading
/// of scalars), `_info` and `_transform`.
pub fn reuse_context(context: &[u8], doc: &Value) -> Vec<u8> {
    let mut key = context.to_vec();
    for field in ["_info", "_transform"] {
        key.push(0);
        if let Some(v) = doc.get(field) {
            key.extend(serde_json::to_vec(v).unwrap_or_default());
        }
    }
    key
}

/// `POST /config`'s check of one document against the CP's config: `from_owned_documents`,
/// except that top-level items unchanged since `prev` (the last accepted document, when the
/// config it produced is still `existing`) take their entities from `existing` instead of being
/// checked again. `context` names what else the items' reading depends on (the reading of
/// scalars). When the document is refused, it is checked again whole (`again` gives its tree
/// anew), so the errors and their places are exactly a full check's. Also returns what the next
/// check may reuse, when this one can be reused from.
pub fn from_document_reusing(
    input: Input<'_>,
    again: impl FnOnce() -> Option<Value>,
    existing: &Config,
    prev: Option<&reuse::Reuse>,
    context: &[u8],
) -> Result<Checked, Vec<FieldError>> {
    let (doc, raw, read) = match input {
        Input::Tree(doc) => (doc, Default::default(), raw_items::read_item as Read),
        Input::Split(s) => (s.doc, s.raw, s.read),
    };
    let key = reuse_context(context, &doc);
    match from_owned(
        vec![("config".into(), doc)],
        Some(existing),
        Some((prev, key, raw, read)),
    ) {
        Err(errs) if prev.is_some() => match again() {
            Some(doc) => {
                let key = reuse_context(context, &doc);
                let raw = Default::default();
                let reusing = Some((None, key, raw, raw_items::read_item as Read));
                from_owned(vec![("config".into(), doc)], Some(existing), reusing)
            }
            None => Err(errs),
        },
        done => done,
    }
}

/// Reads one top-level item's text (JSON or YAML) into its map.
type Read = fn(&str) -> Option<serde_json::Map<String, Value>>;

type Reusing<'a> = Option<(
    Option<&'a reuse::Reuse>,
    Vec<u8>,
    foldhash::HashMap<(kinds::Kind, usize), &'a str>,
    Read,
)>;

/// A checked document: the config, what the next check may reuse, and the entities (by
/// collection and id) copied unchanged from the existing config.
pub struct Checked {
    pub config: Config,
    pub next: Option<reuse::Reuse>,
    pub copied: foldhash::HashSet<(&'static str, uuid::Uuid)>,
}

fn from_owned(
    docs: Vec<(String, Value)>,
    existing: Option<&Config>,
    reusing: Reusing<'_>,
) -> Result<Checked, Vec<FieldError>> {
    let mut errs = Vec::new();
    let several = docs.len() > 1;
    for (label, doc) in &docs {
        match document::check_top_level(doc) {
            Ok(_) => {}
            Err(e) if several => errs.extend(
                e.into_iter()
                    .map(|e| FieldError::new(format!("{label}:{}", e.path), e.message)),
            ),
            Err(e) => errs.extend(e),
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    // check_top_level passed: every document is a map.
    let maps: Vec<(String, serde_json::Map<String, Value>)> = docs
        .into_iter()
        .filter_map(|(label, doc)| match doc {
            Value::Object(map) => Some((label, map)),
            _ => None,
        })
        .collect();
    let refs: Vec<(String, &serde_json::Map<String, Value>)> =
        maps.iter().map(|(l, m)| (l.clone(), m)).collect();
    let info = info::Info::read(&refs)?;
    drop(refs);
    // Reuse needs the whole config to come from the document: not with select tags (entities
    // outside them are kept) or lookup tags (references into the CP's other entities).
    let reusing = reusing
        .filter(|_| info.select_tags.is_empty() && info.lookup_tags.is_empty())
        .map(|(prev, context, raw, read)| flatten::Reusing {
            prev,
            context,
            raw,
            read,
        });
    let (mut cfg, explicit, draft) = flatten::flatten(maps, &info, existing, reusing)?;
    let mut remap = Default::default();
    if let Some(existing) = existing {
        remap = adopt::adopt_ids(&mut cfg, existing, &explicit);
        if !info.select_tags.is_empty() {
            keep_unselected(&mut cfg, existing, &info.select_tags)?;
        }
    }
    let errs = ca_refs::check(&cfg);
    if !errs.is_empty() {
        return Err(errs);
    }
    // Copies stay copies unless `adopt` moved an id they may refer to.
    let copied = match &draft {
        Some(d) if remap.is_empty() => d.copied(),
        _ => Default::default(),
    };
    let next = draft.map(|d| d.finish(&cfg, &remap));
    Ok(Checked {
        config: cfg,
        next,
        copied,
    })
}

/// With `select_tags`, a file manages only the entities that carry them: everything else on the
/// CP is kept as it is. Fails when a kept entity collides with one from the file.
fn keep_unselected(
    cfg: &mut Config,
    existing: &Config,
    tags: &[String],
) -> Result<(), Vec<FieldError>> {
    let mut entities = cfg.to_entities();
    let mut clashes = Vec::new();
    for e in existing.to_entities() {
        let body: Value = serde_json::from_slice(&e.json).unwrap_or(Value::Null);
        if info::has_all_tags(&body, tags) {
            continue;
        }
        if entities.iter().any(|n| n.kind == e.kind && n.id == e.id) {
            clashes.push(FieldError::new(
                "_info.select_tags",
                format!(
                    "'{}' entity {} exists on the control plane without the select tags; this file may not rewrite it",
                    e.kind,
                    body.get("name").or(body.get("username")).and_then(Value::as_str).unwrap_or(&e.id)
                ),
            ));
        } else {
            entities.push(e);
        }
    }
    if !clashes.is_empty() {
        return Err(clashes);
    }
    let merged = Config::from_entities(&entities).map_err(|e| e.errors)?;
    let errs = unique::check(&merged, &Default::default());
    if !errs.is_empty() {
        return Err(errs
            .into_iter()
            .map(|e| {
                FieldError::new(
                    "_info.select_tags",
                    format!(
                        "{} (an entity on the control plane without the select tags)",
                        e.message
                    ),
                )
            })
            .collect());
    }
    *cfg = merged;
    Ok(())
}

/// One entity of `collection` (an Admin API body, references already `{"id": …}`), checked and
/// completed on its own: a config holding just that entity. Nested children are not taken.
pub fn check_entity(collection: &str, body: Value) -> Result<Config, Vec<FieldError>> {
    let kind = kinds::TOP_LEVEL
        .iter()
        .copied()
        .find(|k| k.info().collection == collection)
        .ok_or_else(|| {
            vec![FieldError::new(
                "",
                format!("unknown entity collection '{collection}'"),
            )]
        })?;
    let Value::Object(mut body) = body else {
        return Err(vec![FieldError::new("", "expected a map")]);
    };
    for field in ["_comment", "_ignore", "created_at", "updated_at"] {
        body.remove(field);
    }
    if collection == "services" {
        url::expand_service_url(&mut body).map_err(|e| vec![e])?;
    }
    let mut cfg = Config::default();
    typed::push_typed(&mut cfg, kind, Value::Object(body))?;
    Ok(cfg)
}

/// Kong's uniqueness rules over a whole config (names, keys, plugin scopes, targets, …).
pub fn check_unique(cfg: &Config) -> Vec<FieldError> {
    unique::check(cfg, &Default::default())
}

/// Kong's uniqueness rules over the entities of one kind (`collection`): what `check_unique`
/// reports for that kind.
pub fn check_unique_kind(cfg: &Config, collection: &str) -> Vec<FieldError> {
    unique::check_kind(cfg, collection, &Default::default())
}

/// Rendered and parsed files as one document: collections concatenated in file order, the
/// first file's `_format_version` and other meta keys kept. What the CLI sends to `/config`.
pub fn merge(docs: &[(String, Value)]) -> Value {
    let mut out = serde_json::Map::new();
    for (_, doc) in docs {
        let Some(map) = doc.as_object() else { continue };
        for (k, v) in map {
            match (out.get_mut(k), v) {
                (Some(Value::Array(a)), Value::Array(b)) => a.extend(b.iter().cloned()),
                (None, _) => {
                    out.insert(k.clone(), v.clone());
                }
                _ => {}
            }
        }
    }
    Value::Object(out)
}

/// A config as one flat decK 3.0 document: every entity with its id, references by id. `load`
/// reads it back to the same config, so it is what the CLI sends and what `dump` prints.
pub fn to_document(cfg: &Config) -> Value {
    let mut doc = serde_json::Map::new();
    doc.insert("_format_version".into(), json!("3.0"));
    for e in cfg.to_entities() {
        let v: Value = serde_json::from_slice(&e.json).unwrap_or(Value::Null);
        if let Some(list) = doc
            .entry(e.kind.clone())
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
        {
            list.push(v);
        }
    }
    Value::Object(doc)
}

#[cfg(test)]
mod reuse_tests;
#[cfg(test)]
mod tests;
