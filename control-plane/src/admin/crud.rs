//! Entity endpoints with Kong's semantics: list (paged), get by id or unique name, POST (201),
//! PUT (upsert, 200), PATCH (merge, 200), DELETE (204), at the top level and nested under a
//! parent (`/services/{s}/routes`, `/consumers/{c}/key-auth`, …).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::collection::{by_path, nested, Collection};
use super::page::{page, PageQuery};
use super::write::{write, Op};
use super::{body, AdminError, AppState};

type Parent = Option<(&'static str, Uuid)>;

pub async fn list(
    State(s): State<AppState>,
    Path(c): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, AdminError> {
    let col = by_path(&c).ok_or(AdminError::NotFound)?;
    Ok(Json(page(col.path, all(&s, col, None).await?, &q)?))
}

pub async fn get(
    State(s): State<AppState>,
    Path((c, id)): Path<(String, String)>,
) -> Result<Json<Value>, AdminError> {
    let col = by_path(&c).ok_or(AdminError::NotFound)?;
    find(&s, col, &id, None)
        .await?
        .map(Json)
        .ok_or(AdminError::NotFound)
}

pub async fn post(
    State(s): State<AppState>,
    Path(c): Path<String>,
    h: HeaderMap,
    b: Bytes,
) -> Result<Response, AdminError> {
    let col = by_path(&c).ok_or(AdminError::NotFound)?;
    create(&s, col, None, body::parse(&h, &b)?).await
}

pub async fn put(
    State(s): State<AppState>,
    Path((c, id)): Path<(String, String)>,
    h: HeaderMap,
    b: Bytes,
) -> Result<Response, AdminError> {
    let col = by_path(&c).ok_or(AdminError::NotFound)?;
    upsert(&s, col, None, &id, body::parse(&h, &b)?).await
}

pub async fn patch(
    State(s): State<AppState>,
    Path((c, id)): Path<(String, String)>,
    h: HeaderMap,
    b: Bytes,
) -> Result<Response, AdminError> {
    let col = by_path(&c).ok_or(AdminError::NotFound)?;
    merge(&s, col, None, &id, body::parse(&h, &b)?).await
}

pub async fn delete(
    State(s): State<AppState>,
    Path((c, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let col = by_path(&c).ok_or(AdminError::NotFound)?;
    if let Some(e) = find(&s, col, &id, None).await? {
        write(&s, col, Op::Delete { id: id_of(&e)? }).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn nested_list(
    State(s): State<AppState>,
    Path((p, pid, c)): Path<(String, String, String)>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, AdminError> {
    let (col, parent) = resolve_parent(&s, &p, &pid, &c).await?;
    Ok(Json(page(col.path, all(&s, col, parent).await?, &q)?))
}

pub async fn nested_post(
    State(s): State<AppState>,
    Path((p, pid, c)): Path<(String, String, String)>,
    h: HeaderMap,
    b: Bytes,
) -> Result<Response, AdminError> {
    let (col, parent) = resolve_parent(&s, &p, &pid, &c).await?;
    create(&s, col, parent, body::parse(&h, &b)?).await
}

pub async fn nested_get(
    State(s): State<AppState>,
    Path((p, pid, c, id)): Path<(String, String, String, String)>,
) -> Result<Json<Value>, AdminError> {
    let (col, parent) = resolve_parent(&s, &p, &pid, &c).await?;
    find(&s, col, &id, parent)
        .await?
        .map(Json)
        .ok_or(AdminError::NotFound)
}

pub async fn nested_put(
    State(s): State<AppState>,
    Path((p, pid, c, id)): Path<(String, String, String, String)>,
    h: HeaderMap,
    b: Bytes,
) -> Result<Response, AdminError> {
    let (col, parent) = resolve_parent(&s, &p, &pid, &c).await?;
    upsert(&s, col, parent, &id, body::parse(&h, &b)?).await
}

pub async fn nested_patch(
    State(s): State<AppState>,
    Path((p, pid, c, id)): Path<(String, String, String, String)>,
    h: HeaderMap,
    b: Bytes,
) -> Result<Response, AdminError> {
    let (col, parent) = resolve_parent(&s, &p, &pid, &c).await?;
    merge(&s, col, parent, &id, body::parse(&h, &b)?).await
}

pub async fn nested_delete(
    State(s): State<AppState>,
    Path((p, pid, c, id)): Path<(String, String, String, String)>,
) -> Result<Response, AdminError> {
    let (col, parent) = resolve_parent(&s, &p, &pid, &c).await?;
    let e = find(&s, col, &id, parent)
        .await?
        .ok_or(AdminError::NotFound)?;
    write(&s, col, Op::Delete { id: id_of(&e)? }).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Stores `body` as entity `id` of `col` (under `parent`) and answers `status` with it.
async fn store(
    s: &AppState,
    col: &'static Collection,
    parent: Parent,
    id: Uuid,
    mut body: Map<String, Value>,
    create: bool,
    status: StatusCode,
) -> Result<Response, AdminError> {
    set_parent(&mut body, parent);
    let stored = write(s, col, Op::Upsert { id, body, create }).await?;
    Ok((status, Json(stored.unwrap_or(Value::Null))).into_response())
}

async fn create(
    s: &AppState,
    col: &'static Collection,
    parent: Parent,
    body: Map<String, Value>,
) -> Result<Response, AdminError> {
    let id = match body.get("id") {
        Some(Value::String(v)) => Uuid::parse_str(v).map_err(|_| bad_uuid())?,
        Some(Value::Null) | None => Uuid::new_v4(),
        Some(_) => return Err(bad_uuid()),
    };
    store(s, col, parent, id, body, true, StatusCode::CREATED).await
}

async fn upsert(
    s: &AppState,
    col: &'static Collection,
    parent: Parent,
    key: &str,
    mut body: Map<String, Value>,
) -> Result<Response, AdminError> {
    let id = match Uuid::parse_str(key) {
        Ok(id) => id,
        Err(_) => {
            let existing = find(s, col, key, parent).await?;
            if let Some(field) = col.keys.first() {
                body.insert((*field).into(), json!(key));
            }
            existing
                .as_ref()
                .map(id_of)
                .transpose()?
                .unwrap_or_else(Uuid::new_v4)
        }
    };
    store(s, col, parent, id, body, false, StatusCode::OK).await
}

async fn merge(
    s: &AppState,
    col: &'static Collection,
    parent: Parent,
    key: &str,
    patch: Map<String, Value>,
) -> Result<Response, AdminError> {
    let existing = find(s, col, key, parent)
        .await?
        .ok_or(AdminError::NotFound)?;
    let id = id_of(&existing)?;
    let mut merged = existing;
    deep_merge(&mut merged, Value::Object(patch));
    let Value::Object(body) = merged else {
        return Err(AdminError::NotFound);
    };
    store(s, col, parent, id, body, false, StatusCode::OK).await
}

/// Every entity of a collection, optionally only those under `parent`.
async fn all(s: &AppState, col: &Collection, parent: Parent) -> Result<Vec<Value>, AdminError> {
    let rows = s.store.list(col.kind).await?;
    Ok(rows
        .iter()
        .filter_map(|e| serde_json::from_slice::<Value>(&e.json).ok())
        .filter(|v| belongs(v, parent))
        .collect())
}

/// An entity by id or by one of its unique fields.
async fn find(
    s: &AppState,
    col: &Collection,
    key: &str,
    parent: Parent,
) -> Result<Option<Value>, AdminError> {
    // The store finds an id or the collection's unique name through its index.
    if let Some(e) = s.store.get(col.kind, key).await? {
        if let Ok(v) = serde_json::from_slice::<Value>(&e.json) {
            return Ok(belongs(&v, parent).then_some(v));
        }
    }
    // Other unique fields (a consumer's custom_id, a plugin's instance_name): a scan.
    let items = all(s, col, parent).await?;
    Ok(items.into_iter().find(|v| {
        v["id"].as_str() == Some(key) || col.keys.iter().any(|k| v[*k].as_str() == Some(key))
    }))
}

async fn resolve_parent(
    s: &AppState,
    p: &str,
    pid: &str,
    c: &str,
) -> Result<(&'static Collection, Parent), AdminError> {
    let (col, field) = nested(p, c).ok_or(AdminError::NotFound)?;
    let pcol = by_path(p).ok_or(AdminError::NotFound)?;
    let parent = find(s, pcol, pid, None)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok((col, Some((field, id_of(&parent)?))))
}

fn belongs(v: &Value, parent: Parent) -> bool {
    match parent {
        None => true,
        Some((field, id)) => v[field]["id"].as_str() == Some(id.to_string().as_str()),
    }
}

fn set_parent(body: &mut Map<String, Value>, parent: Parent) {
    if let Some((field, id)) = parent {
        body.insert(field.into(), json!({"id": id}));
    }
}

fn id_of(v: &Value) -> Result<Uuid, AdminError> {
    v["id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(bad_uuid)
}

fn bad_uuid() -> AdminError {
    AdminError::Schema(vec![proto::schema::FieldError::new(
        "id",
        "expected a valid UUID",
    )])
}

/// Kong's PATCH: maps merge field by field (plugin `config` too); anything else is replaced.
fn deep_merge(into: &mut Value, patch: Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => deep_merge(slot, v),
                    _ => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}
