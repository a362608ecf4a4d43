//! One Admin API write (create, upsert, patch, delete) applied to the whole config: the change
//! is checked for what it affects (the entity's schema, its references, the unique fields of
//! its kind, who refers to a deleted entity), stored in one transaction, and published to the
//! DPs as a new version. Writes are serialized.

use proto::schema::{canonical_cmp, Config};
use proto::v1;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::collection::Collection;
use super::{basic_auth, lookup, stale, AdminError, AppState};
use crate::declarative;
use crate::snapshot::Snapshot;

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

/// Applies `op` to collection `col` and returns the stored entity (None after a delete).
pub async fn write(
    state: &AppState,
    col: &'static Collection,
    op: Op,
) -> Result<Option<Value>, AdminError> {
    let _serial = state.write_lock.lock().await;
    let op = &op;
    let target_id = stale::redo_on_stale(state, || async move {
        let known = state.publisher.current();
        let (new, entities, target_id) = match op {
            Op::Upsert { id, body, create } => {
                let new = upsert(&known, col, *id, body.clone(), *create)?;
                // An upsert changes one entity: the others keep the bytes already published.
                let entities = spliced(&known.entities, &new, col.kind, *id)
                    .unwrap_or_else(|| new.to_entities());
                (new, entities, Some(*id))
            }
            Op::Delete { id } => {
                let (new, entities) = delete_one(&known, col, *id)?;
                (new, entities, None)
            }
        };
        let published = Some((known.version, known.entities.as_slice()));
        let applied = state.store.replace_known(published, &entities, false).await?;
        if !applied.changes.is_empty() {
            let snap = state.publisher.publish(applied.version, new, entities);
            tracing::info!(version = snap.version, hash = %snap.hash, "config changed through the Admin API");
        }
        Ok(target_id)
    })
    .await?;
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
    match out.binary_search_by(|e| canonical_cmp(e, &one)) {
        Ok(at) => out[at] = one,
        Err(at) => out.insert(at, one),
    }
    Some(out)
}

/// An insert or replace, checked on its own against the published config: the entity's
/// schema, its references and the unique fields (a basic-auth password is hashed first). Only
/// the entities that can clash or be referred to are read. Returns the config with the entity
/// in it, unstored: `POST /schemas/{entity}/validate` runs the same check.
pub(super) fn upsert(
    known: &Snapshot,
    col: &'static Collection,
    id: Uuid,
    mut body: Map<String, Value>,
    create: bool,
) -> Result<Config, AdminError> {
    let published = known.entities.as_slice();
    body.insert("id".into(), json!(id));
    if create && lookup::by_id(published, col.kind, &id.to_string()).is_some() {
        return Err(AdminError::Unique {
            message: format!("primary key violation on key '{{id=\"{id}\"}}'"),
            fields: json!({"id": id}),
        });
    }
    lookup::check_unique(published, col, id, &body)?;
    let mut body_map = body;
    lookup::check_foreign(published, col, &mut body_map)?;
    if col.kind == "basicauth_credentials" {
        let stored = lookup::by_id(published, col.kind, &id.to_string())
            .and_then(|e| serde_json::from_slice::<Value>(&e.json).ok());
        basic_auth::hash_body(&mut body_map, stored.as_ref());
    }
    // Kong's Admin API types: JSON as sent, form text read by the schema (admin/body.rs).
    let one = proto::schema::with_scalars(super::body::scalars(), || {
        declarative::check_entity(col.kind, Value::Object(body_map))
    })
    .map_err(AdminError::Schema)?;
    let mut new = (*known.config).clone();
    new.upsert(one);
    if let Some((_, ca)) = declarative::ca_refs::missing(&new, Some(id)).first() {
        return Err(AdminError::ForeignKey {
            message: format!("the foreign key '{{id=\"{ca}\"}}' does not reference an existing 'ca_certificates' entity."),
            fields: json!({"ca_certificates": [ca]}),
        });
    }
    // Unique fields are unique within a kind and the published config holds no duplicate:
    // only the written entity's kind can hold one now.
    let dups = declarative::check_unique_kind(&new, col.kind);
    if let Some(e) = dups.first() {
        return Err(AdminError::Unique {
            message: e.message.clone(),
            fields: json!({}),
        });
    }
    Ok(new)
}

/// A delete with Kong's cascade: the config and the published entities without what the
/// delete removes (nothing else changes, so nothing else is checked again).
fn delete_one(
    known: &Snapshot,
    col: &'static Collection,
    id: Uuid,
) -> Result<(Config, Vec<v1::Entity>), AdminError> {
    if col.kind == "ca_certificates" {
        if let Some(service) = declarative::ca_refs::user(&known.config, id) {
            return Err(AdminError::ForeignKey {
                message: format!(
                    "ca certificate {id} is still referenced by services (id = {service})"
                ),
                fields: json!({}),
            });
        }
    }
    let plan = lookup::delete_plan(&known.entities, col, id)?;
    let mut new = (*known.config).clone();
    for (kind, ids) in &plan {
        new.remove(kind, ids);
    }
    let gone = |e: &v1::Entity| {
        plan.iter().any(|(kind, ids)| {
            *kind == e.kind && Uuid::parse_str(&e.id).is_ok_and(|id| ids.contains(&id))
        })
    };
    let entities = known
        .entities
        .iter()
        .filter(|e| !gone(e))
        .cloned()
        .collect();
    Ok((new, entities))
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
