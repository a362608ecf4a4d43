//! Read endpoints for stored entities: `GET /{collection}` (Kong's paged list shape) and
//! `GET /{collection}/{id or name}`.

use axum::extract::{Path, State};
use axum::Json;
use proto::v1;
use serde_json::{json, Value};

use super::{AdminError, AppState};

/// Admin API path → stored entity kind.
fn kind_of(collection: &str) -> Option<&'static str> {
    Some(match collection {
        "services" => "services",
        "routes" => "routes",
        "consumers" => "consumers",
        "plugins" => "plugins",
        "key-auths" => "keyauth_credentials",
        _ => return None,
    })
}

pub async fn list(
    State(state): State<AppState>,
    Path(collection): Path<String>,
) -> Result<Json<Value>, AdminError> {
    let kind = kind_of(&collection).ok_or(AdminError::NotFound)?;
    let rows = state.store.list(kind).await?;
    let data: Vec<Value> = rows.iter().map(body).collect();
    Ok(Json(json!({ "data": data, "next": null })))
}

pub async fn get(
    State(state): State<AppState>,
    Path((collection, id)): Path<(String, String)>,
) -> Result<Json<Value>, AdminError> {
    let kind = kind_of(&collection).ok_or(AdminError::NotFound)?;
    let row = state
        .store
        .get(kind, &id)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(Json(body(&row)))
}

fn body(e: &v1::Entity) -> Value {
    serde_json::from_slice(&e.json).unwrap_or(Value::Null)
}
