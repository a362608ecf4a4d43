//! Admin API errors as Kong answers them: status code plus `{"message": …}` or a coded body.

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
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            AdminError::NotFound => (StatusCode::NOT_FOUND, json!({"message": "Not found"})),
            AdminError::BadRequest(m) => (StatusCode::BAD_REQUEST, json!({"message": m})),
            AdminError::InvalidConfig(errs) => (StatusCode::BAD_REQUEST, invalid_config(errs)),
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

/// Kong's code 14 body; `fields` maps each error's path to its message, and `errors` keeps them
/// in order, so every problem is visible at once.
fn invalid_config(errs: &[FieldError]) -> Value {
    let mut fields = Map::new();
    for e in errs {
        fields.insert(e.path.clone(), json!(e.message));
    }
    let summary: Vec<String> = errs.iter().map(ToString::to_string).collect();
    json!({
        "code": 14,
        "name": "invalid declarative configuration",
        "message": format!("declarative config is invalid: {}", summary.join("; ")),
        "fields": fields,
        "errors": errs.iter().map(|e| json!({"path": e.path, "message": e.message})).collect::<Vec<_>>(),
    })
}
