//! `POST /schemas/{entity}/validate` and `POST /schemas/plugins/validate`: the check a write
//! runs (write.rs: the entity's schema, its references and unique fields against the CP's
//! current config), without the write. decK's `gateway validate` calls these per entity.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use proto::schema::FieldError;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::collection::{by_kind, by_path};
use super::{body, write, AdminError, AppState};

pub async fn entity(
    State(s): State<AppState>,
    Path(entity): Path<String>,
    h: HeaderMap,
    b: Bytes,
) -> Result<Json<Value>, AdminError> {
    check(&s, &entity, body::parse(&h, &b)?)
}

pub async fn plugin(
    State(s): State<AppState>,
    h: HeaderMap,
    b: Bytes,
) -> Result<Json<Value>, AdminError> {
    check(&s, "plugins", body::parse(&h, &b)?)
}

/// `entity` is a path (`key-auths`) or a stored kind (`keyauth_credentials`).
fn check(s: &AppState, entity: &str, body: Map<String, Value>) -> Result<Json<Value>, AdminError> {
    let col = by_path(entity)
        .or_else(|| by_kind(entity))
        .ok_or_else(|| AdminError::BadRequest(format!("No entity named '{entity}'")))?;
    // An entity with an id is checked as the replace of that id; one without, as a new one.
    let id = match body.get("id") {
        None | Some(Value::Null) => Uuid::new_v4(),
        Some(v) => v
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| {
                AdminError::Schema(vec![FieldError::new("id", "expected a valid UUID")])
            })?,
    };
    write::upsert(&s.publisher.current(), col, id, body, false)?;
    Ok(Json(json!({"message": "schema validation successful"})))
}
