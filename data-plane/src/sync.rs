//! Sync client: keeps one gRPC stream to the control plane, compiles every snapshot into a
//! `Runtime`, swaps it in and answers ACK (or NACK, keeping the old one). Reconnects forever.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use proto::schema::Config;
use proto::v1::config_sync_client::ConfigSyncClient;
use proto::v1::{sync_request, sync_response, Ack, Hello, Nack, Snapshot, SyncRequest};
use rand::Rng;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::runtime::compile;
use crate::State;

const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(10);
/// Largest snapshot accepted from the control plane (the CP's own limit is the same).
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("connect: {0}")]
    Connect(#[from] tonic::transport::Error),
    #[error("stream: {0}")]
    Status(#[from] tonic::Status),
    #[error("control plane closed the stream")]
    Closed,
}

/// Runs forever: connect, sync, and on any failure wait and reconnect.
pub async fn run(state: Arc<State>, endpoint: String) {
    let mut backoff = BACKOFF_START;
    loop {
        let mut got_snapshot = false;
        let err = session(&state, &endpoint, &mut got_snapshot).await;
        set_connected(&state, false);
        if got_snapshot {
            backoff = BACKOFF_START;
        }
        let jitter = rand::rng().random_range(0.5..1.0);
        let wait = backoff.mul_f64(jitter);
        tracing::warn!(
            control_plane = %endpoint,
            error = %err,
            "connection to control plane broken (retrying after {} ms)",
            wait.as_millis()
        );
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(BACKOFF_CAP);
    }
}

fn set_connected(state: &State, up: bool) {
    state.cp_connected.store(up, Ordering::Relaxed);
    state.metrics.control_plane_connected.set(i64::from(up));
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

async fn session(state: &Arc<State>, endpoint: &str, got_snapshot: &mut bool) -> SyncError {
    let mut client = match ConfigSyncClient::connect(endpoint.to_string()).await {
        Ok(c) => c
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
        Err(e) => return e.into(),
    };
    let (tx, rx) = mpsc::channel(8);
    let current = state.runtime.load();
    let hello = SyncRequest {
        kind: Some(sync_request::Kind::Hello(Hello {
            node_id: state.node_id.clone(),
            hostname: hostname(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            config_hash: current.hash.clone(),
            config_version: current.version,
            labels: Default::default(),
        })),
    };
    if tx.send(hello).await.is_err() {
        return SyncError::Closed;
    }
    let mut inbound = match client.sync(ReceiverStream::new(rx)).await {
        Ok(r) => r.into_inner(),
        Err(e) => return e.into(),
    };
    set_connected(state, true);
    tracing::info!(control_plane = %endpoint, "connected to control plane");
    loop {
        let msg = match inbound.message().await {
            Ok(Some(m)) => m,
            Ok(None) => return SyncError::Closed,
            Err(e) => return e.into(),
        };
        let Some(sync_response::Kind::Snapshot(snap)) = msg.kind else {
            continue;
        };
        *got_snapshot = true;
        let answer = apply(state, snap);
        if tx.send(answer).await.is_err() {
            return SyncError::Closed;
        }
    }
}

/// Compiles and swaps in `snap`; returns the ACK or NACK to send.
pub fn apply(state: &State, snap: Snapshot) -> SyncRequest {
    let current = state.runtime.load();
    if current.is_loaded() && current.hash == snap.config_hash {
        tracing::debug!(version = snap.version, "snapshot already served");
        return ack(snap.version, snap.config_hash);
    }
    let result = Config::from_entities(&snap.entities)
        .map_err(|e| e.to_string())
        .and_then(|cfg| compile(&cfg, snap.version, &snap.config_hash).map_err(|e| e.to_string()));
    match result {
        Ok(rt) => {
            tracing::info!(
                version = snap.version,
                hash = %snap.config_hash,
                routes = rt.routes.len(),
                plugins = rt.plugins.len(),
                "configuration applied"
            );
            state.metrics.config_version.set(snap.version as f64);
            state.runtime.store(Arc::new(rt));
            ack(snap.version, snap.config_hash)
        }
        Err(error) => {
            tracing::error!(version = snap.version, %error, "configuration refused, keeping the previous one");
            SyncRequest {
                kind: Some(sync_request::Kind::Nack(Nack {
                    version: snap.version,
                    config_hash: snap.config_hash,
                    error,
                })),
            }
        }
    }
}

fn ack(version: u64, config_hash: String) -> SyncRequest {
    SyncRequest {
        kind: Some(sync_request::Kind::Ack(Ack {
            version,
            config_hash,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::v1::Entity;

    fn snap(version: u64, hash: &str, entities: Vec<Entity>) -> Snapshot {
        Snapshot {
            version,
            config_hash: hash.into(),
            entities,
        }
    }

    #[test]
    fn good_snapshot_is_acked_and_swapped_bad_one_nacked() {
        let state = State::new("n".into()).unwrap();
        let svc = Entity {
            kind: "services".into(),
            id: "00000000-0000-0000-0000-000000000001".into(),
            json: br#"{"id":"00000000-0000-0000-0000-000000000001","host":"a"}"#.to_vec(),
        };
        let r = apply(
            &state,
            snap(1, "11111111111111111111111111111111", vec![svc]),
        );
        assert!(matches!(
            r.kind,
            Some(sync_request::Kind::Ack(Ack { version: 1, .. }))
        ));
        assert_eq!(state.runtime.load().version, 1);

        let bad = Entity {
            kind: "plugins".into(),
            id: "00000000-0000-0000-0000-000000000002".into(),
            json: br#"{"id":"00000000-0000-0000-0000-000000000002","name":"nope"}"#.to_vec(),
        };
        let r = apply(
            &state,
            snap(2, "22222222222222222222222222222222", vec![bad]),
        );
        match r.kind {
            Some(sync_request::Kind::Nack(n)) => {
                assert_eq!(n.version, 2);
                assert!(n.error.contains("nope"), "{}", n.error);
            }
            other => panic!("expected nack, got {other:?}"),
        }
        assert_eq!(state.runtime.load().version, 1, "old runtime kept");

        // Same hash again: just ACK, runtime untouched.
        let r = apply(&state, snap(5, "11111111111111111111111111111111", vec![]));
        assert!(matches!(
            r.kind,
            Some(sync_request::Kind::Ack(Ack { version: 5, .. }))
        ));
        assert_eq!(state.runtime.load().version, 1);
    }
}
