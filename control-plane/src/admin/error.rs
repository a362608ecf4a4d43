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

/// `fields` nested the way Kong nests them: `config.key_names` → `{"config":{"key_names":…}}`.
pub fn nested_fields(errs: &[FieldError]) -> Value {
    let mut root = Map::new();
    for e in errs {
        let path = if e.path.is_empty() {
            "@entity"
        } else {
            e.path.as_str()
        };
        let mut parts: Vec<&str> = path.split('.').collect();
        let last = parts.pop().unwrap_or("@entity");
        let mut node = &mut root;
        for p in parts {
            node = child(node, p);
        }
        node.insert(last.to_string(), json!(e.message));
    }
    Value::Object(root)
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

fn schema_violation(errs: &[FieldError]) -> Value {
    let mut parts: Vec<String> = errs
        .iter()
        .map(|e| {
            if e.path.is_empty() {
                e.message.clone()
            } else {
                format!("{}: {}", e.path, e.message)
            }
        })
        .collect();
    parts.sort();
    let message = match parts.len() {
        1 => format!("schema violation ({})", parts[0]),
        n => format!("{n} schema violations ({})", parts.join("; ")),
    };
    json!({"code": 2, "name": "schema violation", "message": message, "fields": nested_fields(errs)})
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
        ]);
        assert_eq!(
            v,
            json!({"config": {"key_names": "bad", "realm": "worse"}, "@entity": "entity level"})
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
    }
}
