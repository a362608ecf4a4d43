//! The Admin API (axum): Kong-shaped endpoints over the store. Writes go through `POST /config`,
//! which replaces the config in one transaction and publishes a new snapshot to the DPs.

mod basic_auth;
mod body;
mod collection;
mod config;
mod crud;
mod error;
mod flat_errors;
mod lookup;
mod page;
mod schemas;
mod stale;
mod status;
mod tags;
mod validate;
mod write;

use std::time::Instant;

use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Mutex;

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
    /// Serializes Admin API writes: each reads, changes and stores the whole config.
    pub write_lock: std::sync::Arc<Mutex<()>>,
    /// What the last `POST /config` checked, for the next one to reuse.
    pub reuse: config::LastCheck,
}

impl AppState {
    pub fn new(store: Store, publisher: Publisher, nodes: Nodes) -> Self {
        Self {
            store,
            publisher,
            nodes,
            node_id: uuid::Uuid::new_v4(),
            started: Instant::now(),
            write_lock: Default::default(),
            reuse: Default::default(),
        }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(status::root))
        .route("/status", get(status::status))
        .route("/status/ready", get(status::ready))
        .route("/metrics", get(status::metrics))
        .route("/clustering/data-planes", get(status::data_planes))
        .route(
            "/config",
            post(config::post).layer(axum::extract::DefaultBodyLimit::max(
                config::MAX_CONFIG_BYTES,
            )),
        )
        .route("/schemas/plugins/validate", post(validate::plugin))
        .route("/schemas/plugins/{name}", get(schemas::plugin))
        .route("/schemas/{entity}/validate", post(validate::entity))
        .route("/tags", get(tags::all))
        .route("/tags/{tag}", get(tags::one))
        .route("/schemas/{entity}", get(schemas::entity))
        .route("/{collection}", get(crud::list).post(crud::post))
        .route(
            "/{collection}/{id}",
            get(crud::get)
                .put(crud::put)
                .patch(crud::patch)
                .delete(crud::delete),
        )
        .route(
            "/{parent}/{pid}/{collection}",
            get(crud::nested_list).post(crud::nested_post),
        )
        .route(
            "/{parent}/{pid}/{collection}/{id}",
            get(crud::nested_get)
                .put(crud::nested_put)
                .patch(crud::nested_patch)
                .delete(crud::nested_delete),
        )
        .fallback(|| async { AdminError::NotFound })
        .layer(axum::middleware::from_fn(body::by_content_type))
        .with_state(state)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_basic_auth;
#[cfg(test)]
mod tests_config_reuse;
#[cfg(test)]
mod tests_kong_types;
