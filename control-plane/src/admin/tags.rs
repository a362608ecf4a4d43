//! `GET /tags` and `GET /tags/{tags}`: every tagged entity as `{tag, entity_name, entity_id}`,
//! paged like other lists (decK probes `/tags` to learn that tags are supported).

use axum::extract::{Path, Query, State};
use axum::Json;
use serde_json::{json, Value};

use super::page::{page, PageQuery};
use super::{AdminError, AppState};

pub async fn all(
    State(s): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, AdminError> {
    Ok(Json(tagged(&s, None, &q)?))
}

pub async fn one(
    State(s): State<AppState>,
    Path(tag): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, AdminError> {
    Ok(Json(tagged(&s, Some(&tag), &q)?))
}

fn tagged(s: &AppState, only: Option<&str>, q: &PageQuery) -> Result<Value, AdminError> {
    let snapshot = s.publisher.current();
    let mut rows = Vec::new();
    for e in &snapshot.entities {
        let body: Value = serde_json::from_slice(&e.json).unwrap_or(Value::Null);
        for tag in body["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if only.is_none_or(|t| t == tag) {
                // `id` first so the list pages by entity id like the others.
                rows.push(
                    json!({"id": e.id, "tag": tag, "entity_name": e.kind, "entity_id": e.id}),
                );
            }
        }
    }
    rows.sort_by(|a, b| {
        a["id"]
            .as_str()
            .cmp(&b["id"].as_str())
            .then(a["tag"].as_str().cmp(&b["tag"].as_str()))
    });
    let path = only.map_or_else(|| "tags".to_string(), |t| format!("tags/{t}"));
    let q = PageQuery {
        tags: None,
        size: q.size.clone(),
        offset: q.offset.clone(),
    };
    let mut body = page(&path, rows, &q)?;
    if let Some(list) = body["data"].as_array_mut() {
        for row in list.iter_mut() {
            if let Some(m) = row.as_object_mut() {
                m.remove("id");
            }
        }
    }
    Ok(body)
}
