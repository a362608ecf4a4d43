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
    // Only the key fields are read; everything else is skipped, not built.
    let keys: Keys = serde_json::from_slice(json).ok()?;
    match field {
        "name" => keys.name,
        "username" => keys.username,
        "key" => keys.key,
        _ => keys.prefix,
    }
    .and_then(KeyValue::into_string)
}

/// The fields `unique_name` reads.
#[derive(serde::Deserialize)]
struct Keys {
    name: Option<KeyValue>,
    username: Option<KeyValue>,
    key: Option<KeyValue>,
    prefix: Option<KeyValue>,
}

/// A key field's value: text, or anything else (which is not a unique name).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum KeyValue {
    Text(String),
    Other(serde::de::IgnoredAny),
}

impl KeyValue {
    fn into_string(self) -> Option<String> {
        match self {
            KeyValue::Text(s) => Some(s),
            KeyValue::Other(_) => None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::unique_name;

    #[test]
    fn the_unique_name_is_the_kinds_key_field_when_it_is_text() {
        let cases = [
            (
                "services",
                r#"{"id":"x","name":"svc","host":"h","tags":["a"]}"#,
                Some("svc"),
            ),
            ("services", r#"{"id":"x","name":null}"#, None),
            ("routes", r#"{"paths":["/"],"service":{"id":"s"}}"#, None),
            (
                "consumers",
                r#"{"username":"u","custom_id":"c"}"#,
                Some("u"),
            ),
            (
                "keyauth_credentials",
                r#"{"key":"k1","consumer":{"id":"c"}}"#,
                Some("k1"),
            ),
            (
                "vaults",
                r#"{"prefix":"env","name":"env","config":{"prefix":"X"}}"#,
                Some("env"),
            ),
            ("plugins", r#"{"name":"key-auth"}"#, None),
            ("services", r#"{"name":7}"#, None),
            ("services", r#"{"name":{"nested":"svc"}}"#, None),
            ("services", "not json", None),
        ];
        for (kind, json, want) in cases {
            assert_eq!(
                unique_name(kind, json.as_bytes()).as_deref(),
                want,
                "{kind} {json}"
            );
        }
    }
}
