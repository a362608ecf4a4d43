//! Admin API errors as Kong answers them: the status code, and `{"message": …}` or Kong's coded
//! body (`code`, `name`, `message`, `fields`) from `kong/db/errors.lua`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use proto::schema::FieldError;
use serde_json::{json, Map, Value};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("Not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("declarative config is invalid")]
    InvalidConfig(Vec<FieldError>),
    /// The same, with Kong's `flattened_errors` list (`?flatten_errors=1`).
    #[error("declarative config is invalid")]
    InvalidConfigFlattened(Vec<FieldError>, Value),
    /// Code 2: the entity breaks its schema; every field error at once.
    #[error("schema violation")]
    Schema(Vec<FieldError>),
    /// Code 4: a reference to an entity that does not exist, or a delete that others block.
    #[error("{message}")]
    ForeignKey { message: String, fields: Value },
    /// Code 5: a unique field already taken (HTTP 409).
    #[error("{message}")]
    Unique { message: String, fields: Value },
    /// Code 7.
    #[error("'{0}' is not a valid offset: bad base64 encoding")]
    InvalidOffset(String),
    /// Code 9.
    #[error("size must be {0}")]
    InvalidSize(&'static str),
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// The body could not be read (too large, or cut short).
    #[error("{why}")]
    Body { status: StatusCode, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            AdminError::NotFound => (StatusCode::NOT_FOUND, json!({"message": "Not found"})),
            AdminError::BadRequest(m) => (StatusCode::BAD_REQUEST, json!({"message": m})),
            AdminError::InvalidConfig(errs) => (StatusCode::BAD_REQUEST, invalid_config(errs)),
            AdminError::InvalidConfigFlattened(errs, flat) => {
                let mut body = invalid_config(errs);
                body["flattened_errors"] = flat.clone();
                (StatusCode::BAD_REQUEST, body)
            }
            AdminError::Schema(errs) => (StatusCode::BAD_REQUEST, schema_violation(errs)),
            AdminError::ForeignKey { message, fields } => (
                StatusCode::BAD_REQUEST,
                json!({"code": 4, "name": "foreign key violation", "message": message, "fields": fields}),
            ),
            AdminError::Unique { message, fields } => (
                StatusCode::CONFLICT,
                json!({"code": 5, "name": "unique constraint violation", "message": message, "fields": fields}),
            ),
            AdminError::InvalidOffset(_) => (
                StatusCode::BAD_REQUEST,
                json!({"code": 7, "name": "invalid offset", "message": self.to_string()}),
            ),
            AdminError::InvalidSize(_) => (
                StatusCode::BAD_REQUEST,
                json!({"code": 9, "name": "invalid size", "message": self.to_string()}),
            ),
            AdminError::Body { status, why } => (
                *status,
                json!({"message": format!("request body refused: {why}")}),
            ),
            AdminError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"message": "Method not allowed"}),
            ),
            AdminError::Store(e @ StoreError::Stale { .. }) => {
                (StatusCode::CONFLICT, json!({"message": e.to_string()}))
            }
            AdminError::Store(e) if e.is_unreachable() => {
                tracing::error!("store error: {e}");
                let message = "failed to connect to database: nothing was changed, retry later";
                (StatusCode::SERVICE_UNAVAILABLE, json!({"message": message}))
            }
            AdminError::Store(e) => {
                tracing::error!("store error: {e}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"message": "An unexpected error occurred"}),
                )
            }
        };
        (status, Json(body)).into_response()
    }
}

/// `fields` nested the way Kong nests them: `config.key_names` → `{"config":{"key_names":…}}`,
/// an array element at its index with nulls before it (`paths[1]` → `{"paths":[null,…]}`, as
/// cjson encodes Kong's sparse error tables), entity-level messages as a list under `@entity`.
/// A field keeps its first message.
pub fn nested_fields(errs: &[FieldError]) -> Value {
    let mut root = Value::Object(Map::new());
    for e in errs {
        let path = if e.path.is_empty() {
            "@entity"
        } else {
            e.path.as_str()
        };
        let segs = segments(path);
        let Some((last, parents)) = segs.split_last() else {
            continue;
        };
        let mut node = &mut root;
        for seg in parents {
            node = step(node, seg);
        }
        let slot = step(node, last);
        match (last, &mut *slot) {
            (Seg::Key("@entity"), Value::Array(list)) => list.push(json!(e.message)),
            (Seg::Key("@entity"), v) => *v = json!([e.message]),
            (_, v @ Value::Null) => *v = json!(e.message),
            _ => {}
        }
    }
    root
}

/// One step of an error path: a field name or an array index.
#[derive(Debug, PartialEq, Eq)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// `services[0].routes[1].paths[0]` → services, 0, routes, 1, paths, 0.
fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        if !name.is_empty() {
            out.push(Seg::Key(name));
        }
        while let Some((inside, after)) = rest.split_once(']') {
            out.push(match inside.parse() {
                Ok(i) => Seg::Index(i),
                Err(_) => Seg::Key(inside),
            });
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    out
}

/// The value at `seg` under `node`, made a map or an array (padded with nulls) as needed.
fn step<'a>(node: &'a mut Value, seg: &Seg<'_>) -> &'a mut Value {
    match seg {
        Seg::Key(k) => {
            if !node.is_object() {
                *node = Value::Object(Map::new());
            }
            match node {
                Value::Object(m) => m.entry(k.to_string()).or_insert(Value::Null),
                other => other,
            }
        }
        Seg::Index(i) => {
            if !node.is_array() {
                *node = Value::Array(Vec::new());
            }
            match node {
                Value::Array(a) => {
                    if a.len() <= *i {
                        a.resize(i + 1, Value::Null);
                    }
                    &mut a[*i]
                }
                other => other,
            }
        }
    }
}

/// The map under `key` in `node`, made a map if it was anything else.
pub fn child<'a>(node: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = node
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    match entry {
        Value::Object(m) => m,
        _ => unreachable!("made a map just above"),
    }
}

/// Kong's code 2 body. The message as `kong/db/errors.lua` writes it: entity-level messages
/// first, then `field: message` in field order, array positions counted from 1 (`paths.2: …`).
fn schema_violation(errs: &[FieldError]) -> Value {
    let mut entity: Vec<String> = Vec::new();
    let mut fields: Vec<(Vec<SortKey>, String)> = Vec::new();
    for e in errs {
        if e.path.is_empty() || e.path == "@entity" {
            entity.push(e.message.clone());
        } else {
            let key = segments(&e.path)
                .into_iter()
                .map(|s| match s {
                    Seg::Index(i) => SortKey::Index(i),
                    Seg::Key(k) => SortKey::Key(k.to_string()),
                })
                .collect();
            let field = super::flat_errors::kong_field(&e.path);
            fields.push((key, format!("{field}: {}", e.message)));
        }
    }
    fields.sort();
    let parts: Vec<String> = entity
        .into_iter()
        .chain(fields.into_iter().map(|(_, p)| p))
        .collect();
    let message = match parts.len() {
        1 => format!("schema violation ({})", parts[0]),
        n => format!("{n} schema violations ({})", parts.join("; ")),
    };
    json!({"code": 2, "name": "schema violation", "message": message, "fields": nested_fields(errs)})
}

/// Field order in a message: positions numerically, before names (as Lua sorts mixed keys).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Index(usize),
    Key(String),
}

/// Kong's code 14 body; `fields` maps each error's path to its message, and `errors` keeps them
/// in order, so every problem is visible at once.
fn invalid_config(errs: &[FieldError]) -> Value {
    let summary: Vec<String> = errs.iter().map(ToString::to_string).collect();
    json!({
        "code": 14,
        "name": "invalid declarative configuration",
        "message": format!("declarative config is invalid: {}", summary.join("; ")),
        "fields": nested_fields(errs),
        "errors": errs.iter().map(|e| json!({"path": e.path, "message": e.message})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_nest_like_kong() {
        let v = nested_fields(&[
            FieldError::new("config.key_names", "bad"),
            FieldError::new("config.realm", "worse"),
            FieldError::new("", "entity level"),
            FieldError::new("@entity", "another"),
        ]);
        assert_eq!(
            v,
            json!({"config": {"key_names": "bad", "realm": "worse"}, "@entity": ["entity level", "another"]})
        );
    }

    #[test]
    fn array_elements_sit_at_their_index() {
        let msg = "should start with: / (fixed path) or ~/ (regex path)";
        let v = nested_fields(&[
            FieldError::new("paths[1]", msg),
            FieldError::new("config.targets[2].weight", "expected an integer"),
            FieldError::new("tags[0]", "expected a string"),
            FieldError::new("tags[0]", "a second message for the same element"),
        ]);
        assert_eq!(
            v,
            json!({"paths": [null, msg],
                   "config": {"targets": [null, null, {"weight": "expected an integer"}]},
                   "tags": ["expected a string"]})
        );
        // A declarative document: entities at their index too (Kong's code 14 `fields`).
        let v = nested_fields(&[
            FieldError::new("services[1].routes[0].paths[0]", "bad"),
            FieldError::new("services[1].routes[0].@entity", "must set one of"),
        ]);
        assert_eq!(
            v,
            json!({"services": [null, {"routes": [{"paths": ["bad"], "@entity": ["must set one of"]}]}]})
        );
    }

    #[test]
    fn schema_violation_message_counts() {
        let one = schema_violation(&[FieldError::new("protocol", "expected one of: http")]);
        assert_eq!(
            one["message"],
            "schema violation (protocol: expected one of: http)"
        );
        let two = schema_violation(&[FieldError::new("b", "x"), FieldError::new("a", "y")]);
        assert_eq!(two["message"], "2 schema violations (a: y; b: x)");
        let msg = "should start with: / (fixed path) or ~/ (regex path)";
        let many = schema_violation(&[
            FieldError::new("paths[10]", msg),
            FieldError::new("paths[1]", msg),
            FieldError::new("@entity", "must set one of 'methods'"),
        ]);
        assert_eq!(
            many["message"],
            format!(
                "3 schema violations (must set one of 'methods'; paths.2: {msg}; paths.11: {msg})"
            )
        );
    }
}
