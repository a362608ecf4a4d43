//! The Admin API (axum): Kong-shaped endpoints over the store. Writes go through `POST /config`,
//! which replaces the config in one transaction and publishes a new snapshot to the DPs.

mod config;
mod entities;
mod error;
mod status;

use std::time::Instant;

use axum::routing::{get, post};
use axum::Router;

use crate::snapshot::Publisher;
use crate::store::Store;
use crate::sync::nodes::Nodes;

pub use error::AdminError;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub publisher: Publisher,
    pub nodes: Nodes,
    pub node_id: uuid::Uuid,
    pub started: Instant,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(status::root))
        .route("/status", get(status::status))
        .route("/status/ready", get(status::ready))
        .route("/metrics", get(status::metrics))
        .route("/clustering/data-planes", get(status::data_planes))
        .route("/config", post(config::post))
        .route("/{collection}", get(entities::list))
        .route("/{collection}/{id}", get(entities::get))
        .fallback(|| async { AdminError::NotFound })
        .with_state(state)
}
