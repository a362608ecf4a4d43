//! `GET /schemas/{entity}` and `GET /schemas/plugins/{name}`: Kong-shaped schemas decK reads to
//! fill defaults before it diffs, so files that leave defaults out show no perpetual updates.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use proto::schema::describe;
use serde_json::json;

pub async fn plugin(Path(name): Path<String>) -> Response {
    match describe::plugin(&name) {
        Some(s) => Json(s).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": format!("No plugin named '{name}'")})),
        )
            .into_response(),
    }
}

pub async fn entity(Path(name): Path<String>) -> Response {
    match describe::entity(&name) {
        Some(s) => Json(s).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": format!("No entity named '{name}'")})),
        )
            .into_response(),
    }
}
