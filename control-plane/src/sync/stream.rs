//! One DP's sync stream, after its hello: sends the current snapshot unless the DP holds it (as
//! a delta when it holds an earlier version the history remembers), then each change as a delta
//! against what was sent last (whole when a delta is not smaller or the DP asks for a resync),
//! answers heartbeats, records ACKs and NACKs in `Nodes`, and ends the stream after 30 s of
//! silence. A config the DP refuses is not sent again; the next change goes out as a delta from
//! the config it kept. Rapid changes coalesce: the watch channel keeps only the latest
//! snapshot, so a slow DP skips straight to it.

use std::sync::Arc;
use std::time::Duration;

use proto::v1::{sync_request, sync_response, Heartbeat, Hello, SyncRequest, SyncResponse};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::{Status, Streaming};

use super::delta;
use super::history;
use super::nodes::Nodes;
use crate::snapshot::{Publisher, Snapshot};

/// Silence after which a DP counts as gone (it heartbeats every 10 s).
pub const SILENCE: Duration = Duration::from_secs(30);

pub struct DpStream {
    pub id: String,
    pub session: u64,
    pub tx: mpsc::Sender<Result<SyncResponse, Status>>,
    pub nodes: Nodes,
    pub deltas: delta::Shared,
    pub history: history::Shared,
}

/// What this stream has sent.
#[derive(Default)]
struct Sent {
    /// What the DP holds once it has processed everything sent so far.
    held: Option<Arc<Snapshot>>,
    /// The version of the last full snapshot sent: resync requests for versions up to it are
    /// already answered.
    full_version: u64,
    /// What the DP held before the last send: what it still holds if it refuses that.
    before: Option<Arc<Snapshot>>,
    /// The hash of a config the DP refused: not sent again; the next change goes out as a
    /// delta from what it kept.
    refused: Option<String>,
}

impl Sent {
    /// Whether `snap` should go out now.
    fn wants(&self, snap: &Snapshot) -> bool {
        snap.version > 0
            && self.held.as_ref().is_none_or(|s| s.hash != snap.hash)
            && self.refused.as_deref() != Some(snap.hash.as_str())
    }

    /// The DP refused `version`: it keeps what it held before, if that is what was refused.
    fn refused(&mut self, version: u64) {
        if let Some(held) = self.held.as_ref().filter(|h| h.version == version) {
            self.refused = Some(held.hash.clone());
            self.held = self.before.take();
        }
    }
}

impl DpStream {
    pub async fn run(
        self,
        hello: Hello,
        mut inbound: Streaming<SyncRequest>,
        publisher: Publisher,
    ) {
        let mut snapshots = publisher.subscribe();
        let current = snapshots.borrow().clone();
        let mut sent = Sent::default();
        if hello.config_hash == current.hash && current.version > 0 {
            // It serves the current config already (from its cache, or an equal older version).
            self.nodes.ack(&self.id, current.version, &current.hash);
            sent.held = Some(current);
        } else if let Some(d) = self.history.delta_from(&hello.config_hash, &current) {
            // It holds a recent version: only what changed since goes out.
            tracing::info!(node_id = %self.id, base_version = d.base_version, version = d.version, "data plane holds an earlier version; sending a delta");
            if self
                .send(sync_response::Kind::Delta((*d).clone()))
                .await
                .is_err()
            {
                self.nodes.disconnected(&self.id, self.session);
                return;
            }
            sent.held = Some(current);
        }
        let mut last_heard = Instant::now();
        let reason = loop {
            let snap = snapshots.borrow_and_update().clone();
            // Version 0 means nothing was ever applied: a DP stays unready rather than serve nothing.
            if sent.wants(&snap) {
                let msg = self.update(sent.held.as_deref(), &snap);
                if matches!(msg, sync_response::Kind::Snapshot(_)) {
                    sent.full_version = snap.version;
                }
                if self.send(msg).await.is_err() {
                    break "stream closed";
                }
                sent.before = sent.held.replace(snap);
            }
            tokio::select! {
                changed = snapshots.changed() => if changed.is_err() { break "control plane stopping" },
                _ = tokio::time::sleep_until(last_heard + SILENCE) => break "silent for 30 s",
                msg = inbound.message() => {
                    last_heard = Instant::now();
                    match msg {
                        Ok(Some(SyncRequest { kind: Some(kind) })) => {
                            if self.handle(kind, &mut sent, &publisher).await.is_err() {
                                break "stream closed";
                            }
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => break "stream closed by the data plane",
                        Err(_) => break "stream broken",
                    }
                }
            }
        };
        tracing::info!(node_id = %self.id, reason, "data plane disconnected");
        self.nodes.disconnected(&self.id, self.session);
    }

    async fn handle(
        &self,
        kind: sync_request::Kind,
        sent: &mut Sent,
        publisher: &Publisher,
    ) -> Result<(), ()> {
        let id = &self.id;
        match kind {
            sync_request::Kind::Ack(a) => {
                tracing::info!(node_id = %id, version = a.version, hash = %a.config_hash, "data plane applied config");
                self.nodes.ack(id, a.version, &a.config_hash);
            }
            sync_request::Kind::Nack(n) if n.resync => {
                if n.version > sent.full_version {
                    tracing::info!(node_id = %id, version = n.version, error = %n.error, "data plane asks for a full snapshot");
                    // Forget what it holds: the loop sends the current snapshot whole.
                    sent.held = None;
                    sent.refused = None;
                }
            }
            sync_request::Kind::Nack(n) => {
                tracing::warn!(node_id = %id, version = n.version, error = %n.error, "data plane refused config");
                self.nodes.nack(id, n.version, &n.error);
                sent.refused(n.version);
            }
            sync_request::Kind::Heartbeat(h) => {
                self.nodes.heartbeat(id, h.config_version, &h.config_hash);
                let cur = publisher.current();
                let beat = Heartbeat {
                    config_hash: cur.hash.clone(),
                    config_version: cur.version,
                };
                return self.send(sync_response::Kind::Heartbeat(beat)).await;
            }
            sync_request::Kind::Hello(_) => {}
        }
        Ok(())
    }

    /// A delta from `base` when there is one and it is smaller, else the whole snapshot.
    fn update(&self, base: Option<&Snapshot>, snap: &Snapshot) -> sync_response::Kind {
        match base.and_then(|b| self.deltas.between(b, snap)) {
            Some(d) => sync_response::Kind::Delta((*d).clone()),
            None => sync_response::Kind::Snapshot(snap.to_proto()),
        }
    }

    async fn send(&self, kind: sync_response::Kind) -> Result<(), ()> {
        let msg = SyncResponse { kind: Some(kind) };
        self.tx.send(Ok(msg)).await.map_err(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(version: u64, hash: &str) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            version,
            hash: hash.into(),
            entities: Vec::new(),
            ..Default::default()
        })
    }

    #[test]
    fn a_refused_config_is_not_resent_and_the_kept_one_is_the_next_base() {
        let (good, bad, later) = (snap(1, "a"), snap(2, "b"), snap(3, "c"));
        let mut sent = Sent::default();
        assert!(!sent.wants(&snap(0, "x")), "version 0 is never sent");
        for s in [&good, &bad] {
            assert!(sent.wants(s));
            sent.before = sent.held.replace(s.clone());
        }
        sent.refused(7);
        assert_eq!(
            sent.held.as_ref().map(|s| s.version),
            Some(2),
            "not the one sent"
        );
        sent.refused(2);
        assert!(!sent.wants(&bad));
        assert_eq!(sent.held.as_ref().map(|s| s.version), Some(1));
        assert!(sent.wants(&later));
    }
}
