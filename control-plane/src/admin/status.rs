//! Node endpoints: `GET /` (Kong's node info), `/status`, `/status/ready`,
//! `/clustering/data-planes` and the CP's `/metrics`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::AppState;
use crate::metrics;

pub async fn root(State(state): State<AppState>) -> Json<Value> {
    let plugins: serde_json::Map<String, Value> = proto::schema::plugins::AVAILABLE
        .iter()
        .map(|(name, priority)| {
            (
                (*name).to_string(),
                json!({"version": env!("CARGO_PKG_VERSION"), "priority": priority}),
            )
        })
        .collect();
    Json(json!({
        "tagline": "Welcome to kong",
        "version": "3.10.0",
        "edition": "community",
        "hostname": hostname(),
        "node_id": state.node_id,
        "plugins": {"available_on_server": plugins, "enabled_in_cluster": []},
        "configuration": {"database": state.store.backend(), "role": "control_plane"},
    }))
}

pub async fn status(State(state): State<AppState>) -> Json<Value> {
    let snap = state.publisher.current();
    Json(json!({
        "database": {"reachable": state.store.ping().await},
        "server": {"uptime_seconds": state.started.elapsed().as_secs()},
        "config_version": snap.version,
        "config_hash": snap.hash,
    }))
}

pub async fn ready(State(state): State<AppState>) -> Response {
    if state.store.ping().await {
        (StatusCode::OK, Json(json!({"message": "ready"}))).into_response()
    } else {
        let body = json!({"message": "failed to connect to database"});
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

pub async fn data_planes(State(state): State<AppState>) -> Json<Value> {
    let cp_id = state.node_id.to_string();
    let data = crate::cluster_nodes::list(&state.store, &state.nodes, &cp_id).await;
    Json(json!({"data": data, "next": null}))
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let cp_id = state.node_id.to_string();
    let rows = crate::cluster_nodes::list(&state.store, &state.nodes, &cp_id).await;
    let text = metrics::render(&rows);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}
