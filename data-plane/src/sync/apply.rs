//! Snapshot or delta → `Runtime`: compiles what the control plane sent (off the request path),
//! swaps it in atomically, hands it to the cache writer and says what to answer (ACK or NACK).
//! A refused config leaves the previous one serving. A delta costs what it changes: only its
//! upserts are parsed, and the compile reuses what unchanged entities built.

use std::sync::Arc;
use std::time::{Duration, Instant};

use proto::schema::{hash, Config};
use proto::v1::{sync_request, Ack, Delta, Nack, Snapshot, SyncRequest};

use super::delta::Entities;
use crate::cache::{CacheWriter, Cached};
use crate::runtime::{compile_sources, Runtime, Sources};
use crate::State;

/// A config this data plane serves: what it was sent and what it was compiled from.
pub struct Held {
    /// The version of the snapshot or delta that produced it.
    pub version: u64,
    pub config_hash: String,
    /// Shared with the cache writer.
    pub entities: Arc<Entities>,
    sources: Sources,
    runtime: Arc<Runtime>,
}

/// The last good config, and what to do with a new one.
pub struct Applier {
    state: Arc<State>,
    current: Option<Held>,
    /// The CP version last ACKed; newer than `current`'s own when a later version had the same
    /// hash (nothing to recompile).
    version: u64,
    cache: Option<CacheWriter>,
}

/// Where a config's apply spent its time, for the log.
#[derive(Default)]
struct Timings {
    merge: Duration,
    parse: Duration,
    compile: Duration,
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

    /// The config served now, if any.
    pub fn current(&self) -> Option<&Held> {
        self.current.as_ref()
    }

    /// The config version served now, as the CP numbers it (0 when none).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// At start, before any control plane: serve `snap` read from the cache.
    pub fn restore(&mut self, snap: Snapshot) -> Result<(), String> {
        let held = self.build_full(snap, &mut Timings::default())?;
        self.install(held, false, Timings::default());
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
        let (version, config_hash) = (snap.version, snap.config_hash.clone());
        let mut t = Timings::default();
        let built = self.build_full(snap, &mut t);
        self.finish(version, config_hash, built, t)
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
        let mut t = Timings::default();
        let start = Instant::now();
        let entities = Arc::new(base.entities.apply(&d.upserts, &d.deletes));
        let got = entities.hash();
        t.merge = start.elapsed();
        if got != d.config_hash {
            let error = format!(
                "delta for version {} gives hash {got}, expected {}",
                d.version, d.config_hash
            );
            tracing::warn!("{error}; asking for a full snapshot");
            return nack(d.version, d.config_hash, error, true);
        }
        let start = Instant::now();
        let upserts = Config::from_entities(&d.upserts).map_err(|e| e.to_string());
        t.parse = start.elapsed();
        let built = upserts.and_then(|upserts| {
            let sources = base.sources.apply(upserts, &d.deletes);
            let start = Instant::now();
            let prev = Some((&base.sources, base.runtime.as_ref()));
            let rt = compile_sources(&sources, prev, d.version, &d.config_hash);
            t.compile = start.elapsed();
            Ok(Held {
                version: d.version,
                config_hash: d.config_hash.clone(),
                entities,
                sources,
                runtime: Arc::new(rt.map_err(|e| e.to_string())?),
            })
        });
        self.finish(d.version, d.config_hash, built, t)
    }

    /// Parses and compiles a whole snapshot.
    fn build_full(&self, snap: Snapshot, t: &mut Timings) -> Result<Held, String> {
        let start = Instant::now();
        let cfg = Config::from_entities(&snap.entities).map_err(|e| e.to_string())?;
        let sources = Sources::from_config(cfg);
        let entities = Arc::new(Entities::new(snap.entities));
        t.parse = start.elapsed();
        let start = Instant::now();
        let rt = compile_sources(&sources, None, snap.version, &snap.config_hash)
            .map_err(|e| e.to_string())?;
        t.compile = start.elapsed();
        Ok(Held {
            version: snap.version,
            config_hash: snap.config_hash,
            entities,
            sources,
            runtime: Arc::new(rt),
        })
    }

    fn finish(
        &mut self,
        version: u64,
        config_hash: String,
        built: Result<Held, String>,
        t: Timings,
    ) -> SyncRequest {
        match built {
            Ok(held) => {
                self.install(held, true, t);
                ack(version, config_hash)
            }
            Err(error) => {
                tracing::error!(version, %error, "configuration refused, keeping the previous one");
                nack(version, config_hash, error, false)
            }
        }
    }

    fn install(&mut self, held: Held, cache: bool, t: Timings) {
        let start = Instant::now();
        self.state.runtime.store(held.runtime.clone());
        let metrics = &self.state.metrics;
        metrics.config_version.set(held.version as f64);
        metrics.set_config_hash(&held.config_hash);
        self.version = held.version;
        if cache {
            if let Some(w) = &self.cache {
                w.save(Arc::new(Cached {
                    version: held.version,
                    config_hash: held.config_hash.clone(),
                    entities: held.entities.clone(),
                }));
            }
        }
        tracing::info!(
            version = held.version,
            hash = %held.config_hash,
            entities = held.entities.len(),
            routes = held.runtime.routes.len(),
            plugins = held.runtime.plugins.len(),
            merge_ms = ms(t.merge),
            parse_ms = ms(t.parse),
            compile_ms = ms(t.compile),
            swap_ms = ms(start.elapsed()),
            "configuration applied"
        );
        // The old config is freed on a blocking thread, not before the ACK goes out.
        if let Some(old) = self.current.replace(held) {
            drop_later(old);
        }
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

/// Drops `v` on tokio's blocking pool when there is a runtime, else here.
fn drop_later<T: Send + 'static>(v: T) {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => drop(h.spawn_blocking(move || drop(v))),
        Err(_) => drop(v),
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
