//! One Admin API write (create, upsert, patch, delete) applied to the whole config: the change
//! is checked like a declarative file (schema, references, uniqueness), stored in one
//! transaction, and published to the DPs as a new version. Writes are serialized.

use std::collections::BTreeMap;

use proto::schema::{canonical_key, Config, FieldError};
use proto::v1;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::collection::{by_kind, Collection, COLLECTIONS};
use super::{basic_auth, AdminError, AppState};
use crate::declarative;
use crate::store::StoreError;

pub enum Op {
    /// Insert or replace the entity with this id. `create` refuses an existing id.
    Upsert {
        id: Uuid,
        body: Map<String, Value>,
        create: bool,
    },
    Delete {
        id: Uuid,
    },
}

/// How many times a write based on a config another CP has since changed is redone.
pub const MAX_STALE_RETRIES: usize = 5;

/// Applies `op` to collection `col` and returns the stored entity (None after a delete).
pub async fn write(
    state: &AppState,
    col: &'static Collection,
    op: Op,
) -> Result<Option<Value>, AdminError> {
    let _serial = state.write_lock.lock().await;
    let mut stale = 0;
    let target_id = loop {
        let cfg = state.publisher.current_config();
        let (new, target_id) = match &op {
            Op::Upsert { id, body, create } => (
                upsert(state, &cfg, col, *id, body.clone(), *create)?,
                Some(*id),
            ),
            Op::Delete { id } => (delete_one(&cfg, col, *id)?, None),
        };
        let known = state.publisher.current();
        // An upsert changes one entity: the others keep the bytes already published.
        let entities = match target_id {
            Some(id) => spliced(&known.entities, &new, col.kind, id),
            None => None,
        }
        .unwrap_or_else(|| new.to_entities());
        let known = Some((known.version, known.entities.as_slice()));
        match state.store.replace_known(known, &entities, false).await {
            Ok(applied) => {
                if !applied.changes.is_empty() {
                    let snap = state.publisher.publish(applied.version, new, entities);
                    tracing::info!(version = snap.version, hash = %snap.hash, "config changed through the Admin API");
                }
                break target_id;
            }
            // Another CP on the same database wrote first: load its config and apply this
            // change on top of it (after a few rounds, 409 and the client retries).
            Err(StoreError::Stale { .. }) if stale < MAX_STALE_RETRIES => {
                stale += 1;
                let snap = state.publisher.refresh().await?;
                tracing::info!(
                    version = snap.version,
                    "another control plane wrote first; redoing this write on top of its config"
                );
            }
            Err(e) => return Err(e.into()),
        }
    };
    match target_id {
        Some(id) => Ok(state
            .store
            .get(col.kind, &id.to_string())
            .await?
            .and_then(|e| serde_json::from_slice(&e.json).ok())),
        None => Ok(None),
    }
}

/// The published entities with the one of `kind` and `id` taken from `cfg` (inserted or
/// replaced at its place in `Config::to_entities` order: kinds in order, ids ascending), or
/// None when the kind is unknown.
fn spliced(
    published: &[v1::Entity],
    cfg: &Config,
    kind: &str,
    id: Uuid,
) -> Option<Vec<v1::Entity>> {
    let one = cfg.entity(kind, id)?;
    let mut out = published.to_vec();
    match out.binary_search_by(|e| canonical_key(e).cmp(&canonical_key(&one))) {
        Ok(at) => out[at] = one,
        Err(at) => out.insert(at, one),
    }
    Some(out)
}

/// An insert or replace, checked on its own against the current config: the entity's schema,
/// its references and the unique fields (a basic-auth password is hashed first). Only the
/// collections involved are read as JSON. Returns the config with the entity in it, unstored:
/// `POST /schemas/{entity}/validate` runs the same check.
pub(super) fn upsert(
    state: &AppState,
    cfg: &Config,
    col: &'static Collection,
    id: Uuid,
    mut body: Map<String, Value>,
    create: bool,
) -> Result<Config, AdminError> {
    let mut kinds: Vec<&str> = vec![col.kind];
    kinds.extend(col.foreign.iter().map(|(_, k)| *k));
    let map = lists_for(state, &kinds);
    body.insert("id".into(), json!(id));
    if create && list(&map, col.kind).any(|e| e["id"] == json!(id)) {
        return Err(AdminError::Unique {
            message: format!("primary key violation on key '{{id=\"{id}\"}}'"),
            fields: json!({"id": id}),
        });
    }
    check_unique(&map, col, id, &body)?;
    let mut body_map = body;
    check_foreign(&map, col, &mut body_map)?;
    if col.kind == "basicauth_credentials" {
        let stored = list(&map, col.kind).find(|e| e["id"] == json!(id));
        basic_auth::hash_body(&mut body_map, stored);
    }
    let one =
        declarative::check_entity(col.kind, Value::Object(body_map)).map_err(AdminError::Schema)?;
    let mut new = cfg.clone();
    new.upsert(one);
    let dups = declarative::check_unique(&new);
    if let Some(e) = dups.first() {
        return Err(AdminError::Unique {
            message: e.message.clone(),
            fields: json!({}),
        });
    }
    Ok(new)
}

/// A delete with Kong's cascade, the whole config re-checked.
fn delete_one(cfg: &Config, col: &'static Collection, id: Uuid) -> Result<Config, AdminError> {
    let mut lists = Lists::new();
    if let Value::Object(doc) = declarative::to_document(cfg) {
        for (k, v) in doc {
            if let Value::Array(a) = v {
                lists.insert(k, a);
            }
        }
    }
    delete(&mut lists, col, id)?;
    let mut doc: Map<String, Value> = lists
        .into_iter()
        .map(|(k, v)| (k, Value::Array(v)))
        .collect();
    doc.insert("_format_version".into(), json!("3.0"));
    declarative::from_documents(&[("admin".into(), Value::Object(doc))], None)
        .map_err(|errs| classify(errs, None))
}

/// The current entities of `kinds`, as Admin API JSON, from the published snapshot.
fn lists_for(state: &AppState, kinds: &[&str]) -> Lists {
    let snap = state.publisher.current();
    let mut lists = Lists::new();
    for e in snap
        .entities
        .iter()
        .filter(|e| kinds.contains(&e.kind.as_str()))
    {
        if let Ok(v) = serde_json::from_slice::<Value>(&e.json) {
            lists.entry(e.kind.clone()).or_default().push(v);
        }
    }
    lists
}

/// The config being changed: each collection's entities as Admin API JSON.
type Lists = BTreeMap<String, Vec<Value>>;

fn list_mut<'a>(map: &'a mut Lists, kind: &str) -> &'a mut Vec<Value> {
    map.entry(kind.to_string()).or_default()
}

fn list<'a>(map: &'a Lists, kind: &str) -> impl Iterator<Item = &'a Value> {
    map.get(kind).into_iter().flatten()
}

/// Kong's 409: another entity of the collection already holds a unique value of this one.
fn check_unique(
    map: &Lists,
    col: &Collection,
    id: Uuid,
    body: &Map<String, Value>,
) -> Result<(), AdminError> {
    let others = list(map, col.kind).filter(|e| e["id"] != json!(id));
    for other in others {
        for key in col.keys {
            if let Some(v) = body.get(*key).filter(|v| !v.is_null()) {
                if other.get(*key) == Some(v) {
                    return Err(AdminError::Unique {
                        message: format!("UNIQUE violation detected on '{{{key}={v}}}'"),
                        fields: json!({ *key: v }),
                    });
                }
            }
        }
        if col.kind == "plugins"
            && other["name"] == body.get("name").cloned().unwrap_or(Value::Null)
        {
            let same = ["consumer", "route", "service"]
                .iter()
                .all(|f| fk_id(other.get(*f)) == fk_id(body.get(*f)));
            if same {
                let part = |f: &str| {
                    fk_id(body.get(f)).map_or("null".to_string(), |id| format!("{{id=\"{id}\"}}"))
                };
                return Err(AdminError::Unique {
                    message: format!(
                        "UNIQUE violation detected on '{{consumer={},name={},route={},service={}}}'",
                        part("consumer"),
                        body.get("name").cloned().unwrap_or(Value::Null),
                        part("route"),
                        part("service")
                    ),
                    fields: json!({"name": body.get("name")}),
                });
            }
        }
    }
    Ok(())
}

/// Kong's foreign-key check; a reference by name is turned into `{"id": …}`.
fn check_foreign(
    map: &Lists,
    col: &Collection,
    body: &mut Map<String, Value>,
) -> Result<(), AdminError> {
    for (field, kind) in col.foreign {
        let Some(v) = body.get(*field).filter(|v| !v.is_null()).cloned() else {
            continue;
        };
        let wanted = match &v {
            Value::String(s) => s.clone(),
            Value::Object(m) => ["id", "name", "username"]
                .iter()
                .find_map(|k| m.get(*k).and_then(Value::as_str))
                .unwrap_or_default()
                .to_string(),
            _ => {
                return Err(AdminError::Schema(vec![FieldError::new(
                    *field,
                    "expected a record",
                )]))
            }
        };
        let target = by_kind(kind).map_or(&[][..], |c| c.keys);
        let found = list(map, kind).find(|e| {
            e["id"].as_str() == Some(wanted.as_str())
                || target
                    .iter()
                    .any(|k| e[*k].as_str() == Some(wanted.as_str()))
        });
        match found {
            Some(e) => {
                body.insert((*field).into(), json!({"id": e["id"]}));
            }
            None => {
                return Err(AdminError::ForeignKey {
                    message: format!("the foreign key '{{id=\"{wanted}\"}}' does not reference an existing '{kind}' entity."),
                    fields: json!({ *field: {"id": wanted} }),
                })
            }
        }
    }
    Ok(())
}

/// References that cascade on delete, as in Kong's schemas: (child kind, field). Any other
/// reference blocks the delete (`on_delete = restrict`).
const CASCADE: &[(&str, &str)] = &[
    ("plugins", "service"),
    ("plugins", "route"),
    ("plugins", "consumer"),
    ("targets", "upstream"),
    ("snis", "certificate"),
    ("keyauth_credentials", "consumer"),
    ("basicauth_credentials", "consumer"),
    ("hmacauth_credentials", "consumer"),
    ("jwt_secrets", "consumer"),
    ("acls", "consumer"),
    ("oauth2_credentials", "consumer"),
    ("mtls_auth_credentials", "consumer"),
];

/// Removes an entity with what belongs to it (Kong's cascade); an entity still referenced
/// otherwise (a route pointing at a service) blocks the delete, as in Kong.
fn delete(map: &mut Lists, col: &Collection, id: Uuid) -> Result<(), AdminError> {
    let id_v = json!(id);
    for other in COLLECTIONS {
        for (field, kind) in other.foreign {
            if *kind != col.kind {
                continue;
            }
            let refs = |e: &Value| e.get(*field).and_then(|f| f.get("id")) == Some(&id_v);
            if CASCADE.contains(&(other.kind, *field)) {
                list_mut(map, other.kind).retain(|e| !refs(e));
            } else if list(map, other.kind).any(refs) {
                return Err(AdminError::ForeignKey {
                    message: format!(
                        "an existing '{}' entity references this '{}' entity",
                        other.kind, col.kind
                    ),
                    fields: json!({"@referenced_by": other.kind}),
                });
            }
        }
    }
    list_mut(map, col.kind).retain(|e| e["id"] != id_v);
    Ok(())
}

/// Sorts whole-config errors into Kong's kinds, with paths relative to the written entity.
fn classify(errs: Vec<FieldError>, at: Option<&str>) -> AdminError {
    let local: Vec<FieldError> = errs
        .into_iter()
        .map(|e| match at.and_then(|p| e.path.strip_prefix(p)) {
            Some(rest) => FieldError::new(rest.trim_start_matches('.'), e.message),
            None => e,
        })
        .collect();
    if let Some(e) = local
        .iter()
        .find(|e| e.message.starts_with("uniqueness violation"))
    {
        return AdminError::Unique {
            message: e.message.clone(),
            fields: json!({}),
        };
    }
    AdminError::Schema(local)
}

fn fk_id(v: Option<&Value>) -> Option<String> {
    v?.get("id")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::schema::Service;

    fn service(name: &str) -> Service {
        serde_json::from_value(json!({"id": Uuid::new_v4(), "name": name, "host": "h"})).unwrap()
    }

    #[test]
    fn splicing_one_entity_matches_a_full_encode() {
        let mut cfg = Config {
            services: (0..50).map(|i| service(&format!("s{i}"))).collect(),
            ..Default::default()
        };
        let published = cfg.to_entities();
        // A replaced entity keeps its place; a new one lands where a full encode puts it.
        let changed = cfg.services[17].id;
        cfg.services[17].port = 8080;
        let added = service("new");
        let added_id = added.id;
        cfg.services.push(added);
        let once = spliced(&published, &cfg, "services", changed).unwrap();
        let twice = spliced(&once, &cfg, "services", added_id).unwrap();
        assert_eq!(twice, cfg.to_entities());
        assert!(spliced(&published, &cfg, "nothing", changed).is_none());
    }
}
