//! Snapshot or delta → `Runtime`: compiles what the control plane sent (off the request path),
//! swaps it in atomically, hands it to the cache writer and says what to answer (ACK or NACK).
//! A refused config leaves the previous one serving.

use std::sync::Arc;

use proto::schema::{hash, Config};
use proto::v1::{sync_request, Ack, Delta, Nack, Snapshot, SyncRequest};

use super::delta;
use crate::cache::CacheWriter;
use crate::runtime::{compile, Runtime};
use crate::State;

/// The last good snapshot, and what to do with a new one.
pub struct Applier {
    state: Arc<State>,
    current: Option<Arc<Snapshot>>,
    /// The CP version last ACKed; newer than `current`'s own when a later version had the same
    /// hash (nothing to recompile).
    version: u64,
    cache: Option<CacheWriter>,
}

impl Applier {
    pub fn new(state: Arc<State>, cache: Option<CacheWriter>) -> Self {
        Self {
            state,
            current: None,
            version: 0,
            cache,
        }
    }

    /// The snapshot served now, if any.
    pub fn current(&self) -> Option<&Arc<Snapshot>> {
        self.current.as_ref()
    }

    /// The config version served now, as the CP numbers it (0 when none).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// At start, before any control plane: serve `snap` read from the cache.
    pub fn restore(&mut self, snap: Snapshot) -> Result<(), String> {
        let rt = build(&snap)?;
        self.install(Arc::new(snap), rt, false);
        Ok(())
    }

    /// A full snapshot: ACK when it is served (or already was), NACK when it cannot be.
    pub fn snapshot(&mut self, snap: Snapshot) -> SyncRequest {
        if let Some(cur) = &self.current {
            if cur.config_hash == snap.config_hash {
                tracing::debug!(version = snap.version, "snapshot already served");
                self.version = snap.version;
                return ack(snap.version, snap.config_hash);
            }
        }
        self.compile_and_install(snap)
    }

    /// A delta: applied only on top of exactly its base; otherwise a NACK asking for a resync.
    pub fn delta(&mut self, d: Delta) -> SyncRequest {
        let held = self
            .current
            .as_ref()
            .map_or(hash::EMPTY, |c| c.config_hash.as_str());
        let Some(base) = self.current.as_ref().filter(|_| held == d.base_hash) else {
            let error = format!(
                "delta for version {} is based on {} but this data plane holds {held}",
                d.version, d.base_hash
            );
            tracing::info!("{error}; asking for a full snapshot");
            return nack(d.version, d.config_hash, error, true);
        };
        let entities = delta::merge(&base.entities, &d.upserts, &d.deletes);
        let got = hash::of_entities(&entities);
        if got != d.config_hash {
            let error = format!(
                "delta for version {} gives hash {got}, expected {}",
                d.version, d.config_hash
            );
            tracing::warn!("{error}; asking for a full snapshot");
            return nack(d.version, d.config_hash, error, true);
        }
        self.compile_and_install(Snapshot {
            version: d.version,
            config_hash: d.config_hash,
            entities,
        })
    }

    fn compile_and_install(&mut self, snap: Snapshot) -> SyncRequest {
        match build(&snap) {
            Ok(rt) => {
                let (version, hash) = (snap.version, snap.config_hash.clone());
                self.install(Arc::new(snap), rt, true);
                ack(version, hash)
            }
            Err(error) => {
                tracing::error!(version = snap.version, %error, "configuration refused, keeping the previous one");
                nack(snap.version, snap.config_hash, error, false)
            }
        }
    }

    fn install(&mut self, snap: Arc<Snapshot>, rt: Runtime, cache: bool) {
        tracing::info!(
            version = snap.version,
            hash = %snap.config_hash,
            routes = rt.routes.len(),
            plugins = rt.plugins.len(),
            "configuration applied"
        );
        let metrics = &self.state.metrics;
        metrics.config_version.set(snap.version as f64);
        metrics.set_config_hash(&snap.config_hash);
        self.state.runtime.store(Arc::new(rt));
        self.version = snap.version;
        if cache {
            if let Some(w) = &self.cache {
                w.save(snap.clone());
            }
        }
        self.current = Some(snap);
    }
}

fn build(snap: &Snapshot) -> Result<Runtime, String> {
    let cfg = Config::from_entities(&snap.entities).map_err(|e| e.to_string())?;
    compile(&cfg, snap.version, &snap.config_hash).map_err(|e| e.to_string())
}

fn ack(version: u64, config_hash: String) -> SyncRequest {
    SyncRequest {
        kind: Some(sync_request::Kind::Ack(Ack {
            version,
            config_hash,
        })),
    }
}

fn nack(version: u64, config_hash: String, error: String, resync: bool) -> SyncRequest {
    SyncRequest {
        kind: Some(sync_request::Kind::Nack(Nack {
            version,
            config_hash,
            error,
            resync,
        })),
    }
}

#[cfg(test)]
mod tests;
