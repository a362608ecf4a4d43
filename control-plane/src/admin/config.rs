//! `POST /config`: replace everything with a declarative document (Kong DB-less style), in one
//! transaction. `?dry_run=1` (ours) reports the changes without writing; `?check_hash=1` answers
//! 304 when nothing would change.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AdminError, AppState};
use crate::declarative::{self, document};
use crate::store::StoreError;
use proto::schema::Config;

#[derive(Debug, Default, Deserialize)]
pub struct ConfigQuery {
    #[serde(default)]
    check_hash: Option<String>,
    #[serde(default)]
    dry_run: Option<String>,
    #[serde(default)]
    flatten_errors: Option<String>,
}

/// The largest declarative document `POST /config` reads (Kong's `cluster_max_payload` is 16 MiB
/// compressed; a 10,000-service file is about 5 MiB of JSON).
pub const MAX_CONFIG_BYTES: usize = 256 * 1024 * 1024;

pub async fn post(
    State(state): State<AppState>,
    Query(q): Query<ConfigQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let body = body.map_err(|e| AdminError::Body {
        status: e.status(),
        why: e.body_text(),
    })?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| AdminError::BadRequest("request body is not valid UTF-8".into()))?;
    if text.trim().is_empty() {
        return Err(AdminError::BadRequest(
            "expected a declarative configuration".into(),
        ));
    }
    let started = std::time::Instant::now();
    let text: std::sync::Arc<str> = text.into();
    let flatten_errors = truthy(q.flatten_errors.as_deref());
    let dry_run = truthy(q.dry_run.as_deref());
    let _serial = state.write_lock.lock().await;
    let mut stale = 0;
    let (cfg, entities, applied, checked_ms) = loop {
        let existing = state.publisher.current_config();
        let text = text.clone();
        // Checking a large document is CPU work: keep it off the threads that serve the Admin
        // API and the DPs' sync streams.
        let checked = tokio::task::spawn_blocking(move || check(&text, &existing, flatten_errors))
            .await
            .map_err(|e| {
                AdminError::BadRequest(format!("the configuration check failed: {e}"))
            })??;
        let (cfg, entities) = checked;
        let checked_ms = started.elapsed().as_millis();
        let known = state.publisher.current();
        let known = Some((known.version, known.entities.as_slice()));
        match state.store.replace_known(known, &entities, dry_run).await {
            Ok(applied) => break (cfg, entities, applied, checked_ms),
            // Another CP on the same database wrote since this one loaded its config (ids are
            // adopted from it): load the newer config and check the document against it.
            Err(StoreError::Stale { .. }) if stale < super::write::MAX_STALE_RETRIES => {
                stale += 1;
                let snap = state.publisher.refresh().await?;
                tracing::info!(
                    version = snap.version,
                    "another control plane wrote first; redoing this write on top of its config"
                );
            }
            Err(e) => return Err(e.into()),
        }
    };
    if q.check_hash.as_deref() == Some("1") && applied.changes.is_empty() {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let snap = if dry_run || applied.changes.is_empty() {
        state.publisher.current()
    } else {
        let snap = state.publisher.publish(applied.version, cfg, entities);
        tracing::info!(
            version = snap.version,
            hash = %snap.hash,
            entities = snap.entities.len(),
            checked_ms,
            total_ms = started.elapsed().as_millis() as u64,
            "config applied"
        );
        snap
    };
    let status = if dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let body = json!({
        "version": snap.version,
        "config_hash": snap.hash,
        "dry_run": dry_run,
        "changes": applied.changes,
    });
    Ok((status, Json(body)).into_response())
}

/// Parses and checks a declarative document against the current config; returns the new config
/// and its wire entities.
fn check(
    text: &str,
    existing: &Config,
    flatten_errors: bool,
) -> Result<(Config, Vec<proto::v1::Entity>), AdminError> {
    let mut doc = document::parse(text).map_err(|e| AdminError::InvalidConfig(vec![e]))?;
    // Kong also accepts the document as a string in a `config` field.
    if let Some(inner) = doc
        .get("config")
        .and_then(Value::as_str)
        .filter(|_| doc.get("_format_version").is_none())
    {
        doc = document::parse(inner).map_err(|e| AdminError::InvalidConfig(vec![e]))?;
    }
    // Kong's `_transform: false`: basic-auth passwords in the document are digests already.
    let transform = doc.get("_transform") != Some(&Value::Bool(false));
    let docs = [("config".to_string(), doc)];
    let mut cfg = declarative::from_documents(&docs, Some(existing)).map_err(|errs| {
        if flatten_errors {
            let flat = super::flat_errors::flatten(&docs[0].1, &errs);
            AdminError::InvalidConfigFlattened(errs, flat)
        } else {
            AdminError::InvalidConfig(errs)
        }
    })?;
    if transform {
        super::basic_auth::hash_config(&mut cfg, existing);
    }
    // The document tree is the largest thing alive here: free it before encoding.
    drop(docs);
    let entities = cfg.to_entities();
    Ok((cfg, entities))
}

fn truthy(v: Option<&str>) -> bool {
    matches!(v, Some("1" | "true" | "on" | "yes"))
}
