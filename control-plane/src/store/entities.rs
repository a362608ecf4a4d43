//! The `entities` rows as entities: one row per entity, its Admin API JSON in `body` exactly as
//! shipped to the DPs (timestamps null), and its timestamps in their own columns, stamped into
//! the JSON only when the Admin API reads it. No SQL here (see `sql.rs`).

use proto::schema::kind_rank;
use proto::v1;
use serde_json::Value;

/// A row's `kind`, `id` and `body` as the entity shipped to the DPs.
pub fn entity(kind: String, id: String, body: String) -> v1::Entity {
    v1::Entity {
        kind,
        id,
        json: body.into_bytes(),
    }
}

/// Sorts entities the way `Config::to_entities` orders them.
pub fn sort(entities: &mut [v1::Entity]) {
    entities.sort_by_key(|e| (kind_rank(&e.kind), uuid_key(&e.id)));
}

/// The unique natural key stored in the `name` column, for kinds that have one.
pub fn unique_name(kind: &str, json: &[u8]) -> Option<String> {
    let field = match kind {
        "services" | "routes" | "upstreams" | "snis" => "name",
        "consumers" => "username",
        "keyauth_credentials" => "key",
        "vaults" => "prefix",
        _ => return None,
    };
    serde_json::from_slice::<Value>(json)
        .ok()?
        .get(field)?
        .as_str()
        .map(str::to_string)
}

/// The entity with `created_at`/`updated_at` from the row, where the entity has those fields
/// (targets keep them as float seconds, as Kong does).
pub fn stamped(mut e: v1::Entity, created: i64, updated: i64) -> v1::Entity {
    if let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(&e.json) {
        let float = e.kind == "targets";
        for (field, t) in [("created_at", created), ("updated_at", updated)] {
            if m.contains_key(field) {
                let v = if float {
                    Value::from(t as f64)
                } else {
                    Value::from(t)
                };
                m.insert(field.into(), v);
            }
        }
        e.json = Value::Object(m).to_string().into_bytes();
    }
    e
}

fn uuid_key(id: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(id).unwrap_or_default()
}
