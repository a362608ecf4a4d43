//! How flattening names entities: the id an entity gets (explicit, or Kong's UUIDv5 of its
//! natural key) and the references it makes, read in every form decK and Kong accept.

use foldhash::HashMap;

use proto::schema::{ids, FieldError};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::kinds::{IdKey, Kind};

#[derive(Debug, Clone)]
pub enum Ref {
    /// A UUID-shaped value: an id, or failing that a name.
    Id(Uuid, String),
    Name(String),
}

impl Ref {
    pub fn written(&self) -> &str {
        match self {
            Ref::Id(_, s) | Ref::Name(s) => s,
        }
    }
}

/// The entity's id: explicit, or derived from its natural key as Kong DB-less does.
pub fn id_of(
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
    // A number or boolean key is read as its text: decK files read it so, and where values are
    // typed the entity's own parse reports "expected a string" for it.
    let s = |k: &str| match body.get(k)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let w = |f: &str| written.get(f).cloned().unwrap_or_default();
    let info = kind.info();
    let key = match info.id_key {
        IdKey::Field(f) => s(f).ok_or(f),
        IdKey::Consumer => s("username")
            .or_else(|| s("custom_id").map(|c| format!("custom_id:{c}")))
            .ok_or("username"),
        IdKey::Scoped(parent, f) => s(f)
            .map(|v| format!("{}:*:{}:{v}", info.collection, w(parent)))
            .ok_or(f),
        IdKey::Plugin => {
            let name =
                s("name").ok_or_else(|| FieldError::new("name", "required field missing"))?;
            return Ok(ids::plugin(
                &name,
                &w("route"),
                &w("service"),
                &w("consumer"),
            ));
        }
    };
    match key {
        Ok(k) => Ok(ids::generate(info.collection, &k)),
        Err(_) if kind == Kind::Consumer => Err(FieldError::new(
            "@entity",
            "at least one of these fields must be non-empty: 'custom_id', 'username'",
        )),
        Err("name") => Err(FieldError::new(
            "@entity",
            "at least one of these fields must be non-empty: 'id', 'name'",
        )),
        Err(field) => Err(FieldError::new(field, "required field missing")),
    }
}

/// Removes a reference field and reads it in any form decK or Kong accepts: a name or id
/// string, or a map with `id`, `name` (or `username`/`custom_id` for consumers).
pub fn take_ref(
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
        Value::Object(m) => ["id", "name", "username", "custom_id"]
            .into_iter()
            .filter(|k| !matches!(*k, "username" | "custom_id") || target == Kind::Consumer)
            .find_map(|k| m.get(k).and_then(Value::as_str))
            .map(str::to_string),
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
