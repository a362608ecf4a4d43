//! `POST /config`: replace everything with a declarative document (Kong DB-less style), in one
//! transaction. `?dry_run=1` (ours) reports the changes without writing; `?check_hash=1` answers
//! 304 when nothing would change. Values are read as typed, as Kong reads them (`{"name": 123}`
//! is "expected a string"); `?deck_scalars=1` (ours, sent by `control-plane apply`) reads them as
//! decK's file reader does, where a number or boolean is text if the schema wants a string.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AdminError, AppState};
use crate::declarative::{
    self, document, raw_items, reuse::Reuse, reuse_context, yaml_items, Input,
};
use proto::schema::{with_scalars, Config, Scalars, Slot};

#[derive(Debug, Default, Deserialize)]
pub struct ConfigQuery {
    #[serde(default)]
    check_hash: Option<String>,
    #[serde(default)]
    dry_run: Option<String>,
    #[serde(default)]
    flatten_errors: Option<String>,
    #[serde(default)]
    deck_scalars: Option<String>,
}

/// The entities of the last accepted document's items (see `declarative::reuse`), shared with
/// the check running on a blocking thread.
pub type LastCheck = std::sync::Arc<std::sync::Mutex<Option<std::sync::Arc<Reuse>>>>;

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
    let flatten_errors = truthy(q.flatten_errors.as_deref());
    let dry_run = truthy(q.dry_run.as_deref());
    let scalars = if truthy(q.deck_scalars.as_deref()) {
        Scalars::AsText
    } else {
        Scalars::Strict
    };
    let _serial = state.write_lock.lock().await;
    let (cfg, plan, next, base, applied, checked_ms) =
        super::stale::redo_on_stale(&state, || async {
            let known = state.publisher.current();
            // The body itself (shared, not copied) goes to the check: it is UTF-8 (checked above).
            let body = body.clone();
            let published = known.clone();
            // The last check's entities, if the config they describe is still the published one.
            let prev = last_check(&state.reuse).filter(|r| r.version() == Some(known.version));
            // Checking a large document is CPU work: keep it off the threads that serve the Admin
            // API and the DPs' sync streams.
            let (cfg, plan, next) = tokio::task::spawn_blocking(move || {
                with_scalars(scalars, || {
                    check(
                        std::str::from_utf8(&body).unwrap_or_default(),
                        (&published.config, &published.entities),
                        prev.as_deref(),
                        &[scalars as u8],
                        flatten_errors,
                    )
                })
            })
            .await
            .map_err(|e| {
                AdminError::BadRequest(format!("the configuration check failed: {e}"))
            })??;
            let checked_ms = started.elapsed().as_millis();
            // The new entities as references: unchanged ones are the published snapshot's.
            let entities: Vec<&proto::v1::Entity> = plan
                .iter()
                .filter_map(|slot| slot.get(&known.entities))
                .collect();
            // A `Stale` answer (another CP on the same database wrote since this one loaded its
            // config; ids are adopted from it) redoes the check against the newer config.
            let applied = state
                .store
                .replace_known(Some((known.version, &known.entities)), &entities, dry_run)
                .await?;
            drop(entities);
            Ok((cfg, plan, next, known, applied, checked_ms))
        })
        .await?;
    if q.check_hash.as_deref() == Some("1") && applied.changes.is_empty() {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let snap = if dry_run || applied.changes.is_empty() {
        if !dry_run {
            remember(&state.reuse, next, base.version);
        }
        state.publisher.current()
    } else {
        let snap = state
            .publisher
            .publish_plan(applied.version, cfg, plan, base);
        remember(&state.reuse, next, snap.version);
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

fn last_check(last: &LastCheck) -> Option<std::sync::Arc<Reuse>> {
    last.lock().ok().and_then(|g| g.clone())
}

/// Keeps what a check recorded, for the config published as `version` (or forgets the last
/// check's, when this one recorded nothing).
fn remember(last: &LastCheck, next: Option<Reuse>, version: u64) {
    if let Ok(mut g) = last.lock() {
        *g = next.map(|r| std::sync::Arc::new(r.published(version)));
    }
}

/// Parses and checks a declarative document against the current config (`existing`, and
/// `published`, its wire entities); returns the new config, its wire entities as a plan against
/// `published` (unchanged entities are their index there, so their bytes are not copied), and
/// what the next check may reuse. `prev` is the last check's, when it describes `existing`;
/// `context` is what else the reading depends on.
fn check(
    text: &str,
    (existing, published): (&Config, &[proto::v1::Entity]),
    prev: Option<&Reuse>,
    context: &[u8],
    flatten_errors: bool,
) -> Result<(Config, Vec<Slot>, Option<Reuse>), AdminError> {
    // JSON, and YAML of the usual shape, are split into their items' texts, so the unchanged
    // ones are never parsed. Items are known by their text, so the two are kept apart.
    let json = [context, b"json"].concat();
    let yaml = [context, b"yaml"].concat();
    let split = if text.trim_start().starts_with('{') {
        raw_items::split(text, prev, |doc| reuse_context(&json, doc)).map(|s| (s, &json))
    } else {
        yaml_items::split(text, prev, |doc| reuse_context(&yaml, doc)).map(|s| (s, &yaml))
    };
    let (input, context) = match split {
        Some((split, context)) => (Input::Split(split), context.as_slice()),
        None => (Input::Tree(parse(text)?), json.as_slice()),
    };
    // Kong's `_transform: false`: basic-auth passwords in the document are digests already.
    let transform = input.doc().get("_transform") != Some(&Value::Bool(false));
    // The document's entities move into the config (the tree is not kept alongside it).
    // A refused document is read again and checked whole, so its errors are a full check's.
    let again = || parse(text).ok();
    let checked = declarative::from_document_reusing(input, again, existing, prev, context)
        .map_err(|errs| {
            // The flattened error list places errors in the document: read it again (the text
            // parsed once already, so it parses again).
            match flatten_errors.then(|| parse(text)) {
                Some(Ok(doc)) => {
                    let flat = super::flat_errors::flatten(&doc, &errs);
                    AdminError::InvalidConfigFlattened(errs, flat)
                }
                _ => AdminError::InvalidConfig(errs),
            }
        })?;
    let mut cfg = checked.config;
    if transform {
        // A copied credential's password is the stored digest already: it stays as it is.
        super::basic_auth::hash_config(&mut cfg, existing);
    }
    let copied = &checked.copied;
    let plan = cfg.to_entity_plan_knowing(existing, published, &|kind, id| {
        copied.contains(&(kind, id))
    });
    Ok((cfg, plan, checked.next))
}

/// The declarative document in a `POST /config` body.
fn parse(text: &str) -> Result<Value, AdminError> {
    let doc = document::parse(text).map_err(|e| AdminError::InvalidConfig(vec![e]))?;
    // Kong also accepts the document as a string in a `config` field.
    match doc
        .get("config")
        .and_then(Value::as_str)
        .filter(|_| doc.get("_format_version").is_none())
    {
        Some(inner) => document::parse(inner).map_err(|e| AdminError::InvalidConfig(vec![e])),
        None => Ok(doc),
    }
}

fn truthy(v: Option<&str>) -> bool {
    matches!(v, Some("1" | "true" | "on" | "yes"))
}
