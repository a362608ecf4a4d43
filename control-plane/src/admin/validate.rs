//! `POST /schemas/{entity}/validate` and `POST /schemas/plugins/validate`: the checks a write
//! would run, without the write (decK's `gateway validate` calls these per entity). References
//! are checked against the CP's current config.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::{body, AdminError, AppState};
use crate::declarative;

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

fn check(
    s: &AppState,
    entity: &str,
    body: serde_json::Map<String, Value>,
) -> Result<Json<Value>, AdminError> {
    let collection = match entity {
        "key-auths" => "keyauth_credentials",
        c if proto::schema::ENTITY_KINDS.contains(&c) => c,
        _ => {
            return Err(AdminError::BadRequest(format!(
                "No entity named '{entity}'"
            )))
        }
    };
    let existing = s.publisher.current_config();
    // The entity checked on its own, with the CP's entities around it for references.
    let mut doc = declarative::to_document(&existing);
    let list = doc[collection].as_array().cloned().unwrap_or_default();
    let index = list.len();
    let mut list = list;
    list.push(Value::Object(body));
    doc[collection] = Value::Array(list);
    let prefix = format!("{collection}[{index}]");
    match declarative::from_documents(&[("validate".into(), doc)], None) {
        Ok(_) => Ok(Json(json!({"message": "schema validation successful"}))),
        Err(errs) => {
            let mine: Vec<_> = errs
                .into_iter()
                .filter_map(|e| {
                    let rest = e.path.strip_prefix(&prefix)?;
                    Some(proto::schema::FieldError::new(
                        rest.trim_start_matches('.'),
                        e.message,
                    ))
                })
                .collect();
            if mine.is_empty() {
                Ok(Json(json!({"message": "schema validation successful"})))
            } else {
                Err(AdminError::Schema(mine))
            }
        }
    }
}
