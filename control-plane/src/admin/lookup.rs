//! What a single-entity write (write.rs) checks against the published snapshot: unique fields,
//! references, and what a delete takes with it. Only the entities that can matter are read:
//! the published list is in canonical order (kind, then id), so an id is a binary search, and
//! an entity whose JSON bytes do not hold a value's JSON encoding cannot hold that value, so
//! only the entities that do are parsed.

use std::collections::HashSet;

use memchr::memmem;
use proto::schema::{kind_rank, FieldError};
use proto::v1;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::collection::{by_kind, Collection, COLLECTIONS};
use super::AdminError;

/// The published entities of `kind` (a contiguous run in canonical order).
pub fn of_kind<'a>(entities: &'a [v1::Entity], kind: &str) -> &'a [v1::Entity] {
    let key = (kind_rank(kind), kind);
    let start = entities.partition_point(|e| (kind_rank(&e.kind), e.kind.as_str()) < key);
    let len = entities[start..].partition_point(|e| e.kind == kind);
    &entities[start..start + len]
}

/// The published entity of `kind` with this id.
pub fn by_id<'a>(entities: &'a [v1::Entity], kind: &str, id: &str) -> Option<&'a v1::Entity> {
    let run = of_kind(entities, kind);
    run.binary_search_by(|e| e.id.as_str().cmp(id))
        .ok()
        .map(|at| &run[at])
}

/// The JSON encoding of `v`, as it appears inside a stored entity's bytes.
fn needle(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// The entities of `kind`, parsed, in canonical order, skipping those whose bytes hold none of
/// `needles` (None: every entity).
fn candidates<'a>(
    entities: &'a [v1::Entity],
    kind: &str,
    needles: Option<&[Vec<u8>]>,
) -> impl Iterator<Item = Value> + 'a {
    let finders: Option<Vec<memmem::Finder<'static>>> = needles.map(|n| {
        n.iter()
            .map(|n| memmem::Finder::new(n).into_owned())
            .collect()
    });
    of_kind(entities, kind)
        .iter()
        .filter(move |e| match &finders {
            Some(f) => f.iter().any(|f| f.find(&e.json).is_some()),
            None => true,
        })
        .filter_map(|e| serde_json::from_slice::<Value>(&e.json).ok())
}

/// Kong's 409: another entity of the collection already holds a unique value of this one.
pub fn check_unique(
    entities: &[v1::Entity],
    col: &Collection,
    id: Uuid,
    body: &Map<String, Value>,
) -> Result<(), AdminError> {
    // An other entity can only clash if its bytes hold one of these values.
    let mut needles: Vec<Vec<u8>> = col
        .keys
        .iter()
        .filter_map(|k| body.get(*k).filter(|v| !v.is_null()))
        .map(needle)
        .collect();
    let mut all = false;
    if col.kind == "plugins" {
        match body.get("name").filter(|v| !v.is_null()) {
            Some(name) => needles.push(needle(name)),
            // A plugin without a name is compared with every other (and refused later).
            None => all = true,
        }
    }
    let id_v = json!(id);
    let others = candidates(entities, col.kind, (!all).then_some(needles.as_slice()))
        .filter(|e| e["id"] != id_v);
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
pub fn check_foreign(
    entities: &[v1::Entity],
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
        // The id or a unique field equal to `wanted`: the bytes hold `"wanted"`.
        let needles = [needle(&Value::String(wanted.clone()))];
        let found = candidates(entities, kind, Some(&needles)).find(|e| {
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

/// What deleting the entity `id` of `col` removes: the entity and what belongs to it (Kong's
/// cascade), as (kind, ids). An entity still referenced otherwise (a route pointing at a
/// service) blocks the delete, as in Kong. Nothing points at the cascaded children, and no
/// other field of the remaining entities changes, so what remains needs no new check.
pub fn delete_plan(
    entities: &[v1::Entity],
    col: &Collection,
    id: Uuid,
) -> Result<Vec<(&'static str, HashSet<Uuid>)>, AdminError> {
    let id_v = json!(id);
    let needles = [needle(&id_v)];
    let mut plan: Vec<(&'static str, HashSet<Uuid>)> = Vec::new();
    for other in COLLECTIONS {
        for (field, kind) in other.foreign {
            if *kind != col.kind {
                continue;
            }
            let refs = |e: &Value| e.get(*field).and_then(|f| f.get("id")) == Some(&id_v);
            let mut referring = candidates(entities, other.kind, Some(&needles)).filter(refs);
            if CASCADE.contains(&(other.kind, *field)) {
                let ids: HashSet<Uuid> = referring
                    .filter_map(|e| e["id"].as_str().and_then(|s| Uuid::parse_str(s).ok()))
                    .collect();
                if !ids.is_empty() {
                    plan.push((other.kind, ids));
                }
            } else if referring.next().is_some() {
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
    plan.push((col.kind, HashSet::from([id])));
    Ok(plan)
}

fn fk_id(v: Option<&Value>) -> Option<String> {
    v?.get("id")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::schema::Config;

    fn cfg() -> Config {
        serde_json::from_value::<Vec<proto::schema::Service>>(json!([
            {"id": Uuid::new_v4(), "name": "a", "host": "h"},
            {"id": Uuid::new_v4(), "name": "b", "host": "h"},
        ]))
        .map(|services| Config {
            services,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn of_kind_and_by_id_find_runs_and_ids() {
        let mut c = cfg();
        c.routes = serde_json::from_value(json!([
            {"id": Uuid::new_v4(), "name": "r", "paths": ["/"], "service": {"id": c.services[0].id}}
        ]))
        .unwrap();
        let entities = c.to_entities();
        assert_eq!(of_kind(&entities, "services").len(), 2);
        assert_eq!(of_kind(&entities, "routes").len(), 1);
        assert!(of_kind(&entities, "plugins").is_empty());
        let id = c.services[1].id.to_string();
        assert_eq!(by_id(&entities, "services", &id).unwrap().id, id);
        assert!(by_id(&entities, "routes", &id).is_none());
    }

    #[test]
    fn needles_never_hide_a_clash_or_a_reference() {
        let c = cfg();
        let entities = c.to_entities();
        let col = by_kind("services").unwrap();
        let mut body = Map::new();
        body.insert("name".into(), json!("b"));
        let err = check_unique(&entities, col, Uuid::new_v4(), &body).unwrap_err();
        assert!(matches!(err, AdminError::Unique { .. }));
        // The entity itself is not a clash; another name is free.
        assert!(check_unique(&entities, col, c.services[1].id, &body).is_ok());
        body.insert("name".into(), json!("c"));
        assert!(check_unique(&entities, col, Uuid::new_v4(), &body).is_ok());
        // A reference by name resolves to the id.
        let routes = by_kind("routes").unwrap();
        let mut route = Map::new();
        route.insert("service".into(), json!({"name": "a"}));
        check_foreign(&entities, routes, &mut route).unwrap();
        assert_eq!(route["service"], json!({"id": c.services[0].id}));
        route.insert("service".into(), json!({"name": "zz"}));
        assert!(check_foreign(&entities, routes, &mut route).is_err());
    }

    #[test]
    fn delete_cascades_plugins_and_is_blocked_by_routes() {
        let mut c = cfg();
        let (s0, s1) = (c.services[0].id, c.services[1].id);
        c.routes = serde_json::from_value(json!([
            {"id": Uuid::new_v4(), "name": "r", "paths": ["/"], "service": {"id": s0}}
        ]))
        .unwrap();
        c.plugins = serde_json::from_value(json!([
            {"id": Uuid::new_v4(), "name": "key-auth", "service": {"id": s1}},
            {"id": Uuid::new_v4(), "name": "cors", "service": {"id": s0}}
        ]))
        .unwrap();
        let entities = c.to_entities();
        let services = by_kind("services").unwrap();
        assert!(matches!(
            delete_plan(&entities, services, s0),
            Err(AdminError::ForeignKey { .. })
        ));
        let plan = delete_plan(&entities, services, s1).unwrap();
        assert_eq!(
            plan,
            vec![
                ("plugins", HashSet::from([c.plugins[0].id])),
                ("services", HashSet::from([s1]))
            ]
        );
    }
}
