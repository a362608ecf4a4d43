//! Sync → disk → next start: the last good snapshot, kept in `--cache-dir`. Written atomically
//! (temp file, fsync, rename, fsync of the directory) after every successful apply, off the
//! sync path (the config is served and ACKed before it is on disk), and read
//! once at start so a data plane can serve before it reaches its control plane.
//!
//! File layout: `MAGIC` (8 bytes), MD5 of the payload (16), payload length (u64 LE, 8), payload
//! (the prost-encoded `Snapshot`). A file is trusted only when all of that checks out and the
//! snapshot's `config_hash` is the hash of its entities.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use md5::{Digest, Md5};
use prost::Message;
use proto::schema::hash;
use proto::v1::Snapshot;
use tokio::sync::watch;

use crate::sync::delta::Entities;
use crate::sync::Applier;
use crate::State;

/// The cache file's name inside `--cache-dir`.
pub const FILE_NAME: &str = "config.cache";
const MAGIC: &[u8; 8] = b"KGWDPC01";
const HEADER: usize = 8 + 16 + 8;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is corrupt ({reason}); ignoring it")]
    Corrupt { path: PathBuf, reason: String },
}

/// The cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// The cached snapshot; `Ok(None)` when there is no cache file yet.
    pub fn load(&self) -> Result<Option<Snapshot>, CacheError> {
        let path = self.path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CacheError::Read { path, source }),
        };
        decode(&bytes)
            .map(Some)
            .map_err(|reason| CacheError::Corrupt { path, reason })
    }

    /// Writes `snap` atomically: a reader sees the old file or the new one, never a mix.
    pub fn store(&self, snap: &Snapshot) -> Result<(), CacheError> {
        self.store_bytes(&encode(snap))
    }

    /// Writes an encoded cache file atomically.
    fn store_bytes(&self, bytes: &[u8]) -> Result<(), CacheError> {
        let path = self.path();
        let write_err = |source| CacheError::Write {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(write_err)?;
        let tmp = self.dir.join(format!("{FILE_NAME}.tmp"));
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(write_err)?;
        file.write_all(bytes).map_err(write_err)?;
        file.sync_all().map_err(write_err)?;
        drop(file);
        std::fs::rename(&tmp, &path).map_err(write_err)?;
        sync_dir(&self.dir).map_err(write_err)
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

pub fn encode(snap: &Snapshot) -> Vec<u8> {
    frame(&snap.encode_to_vec())
}

/// What the writer keeps: one config, its entities shared with the sync client, not copied.
#[derive(Debug, Clone)]
pub struct Cached {
    pub version: u64,
    pub config_hash: String,
    pub entities: Arc<Entities>,
}

impl Cached {
    /// The cache file's bytes: the same as [`encode`] of the equivalent `Snapshot`.
    pub fn encode(&self) -> Vec<u8> {
        use prost::encoding::{message, string, uint64};
        let mut payload = Vec::new();
        if self.version != 0 {
            uint64::encode(1, &self.version, &mut payload);
        }
        if !self.config_hash.is_empty() {
            string::encode(2, &self.config_hash, &mut payload);
        }
        for e in self.entities.iter() {
            message::encode(3, e, &mut payload);
        }
        frame(&payload)
    }
}

/// `payload` with the header in front.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&Md5::digest(payload));
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Checks and decodes a cache file's bytes; the error says what is wrong.
pub fn decode(bytes: &[u8]) -> Result<Snapshot, String> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return Err("not a data-plane config cache file".into());
    }
    let (sum, rest) = bytes[8..].split_at(16);
    let (len, payload) = rest.split_at(8);
    let mut len_bytes = [0u8; 8];
    len_bytes.copy_from_slice(len);
    let len = u64::from_le_bytes(len_bytes);
    if len != payload.len() as u64 {
        return Err(format!(
            "truncated: {} payload bytes, header says {len}",
            payload.len()
        ));
    }
    if Md5::digest(payload).as_slice() != sum {
        return Err("checksum mismatch".into());
    }
    let snap = Snapshot::decode(payload).map_err(|e| format!("undecodable: {e}"))?;
    let actual = hash::of_entities(&snap.entities);
    if actual != snap.config_hash {
        return Err(format!(
            "config hash {} does not match its entities ({actual})",
            snap.config_hash
        ));
    }
    Ok(snap)
}

/// At start, before the control plane is reached: an `Applier` serving the cached config when
/// `dir` holds a valid one, and writing every later config there. Without `dir`, no cache.
pub fn start(state: Arc<State>, dir: Option<&Path>) -> Applier {
    let Some(dir) = dir else {
        tracing::info!(
            "no --cache-dir: the config will not survive a restart without a control plane"
        );
        return Applier::new(state, None);
    };
    let cache = Cache::new(dir);
    let mut applier = Applier::new(state, Some(CacheWriter::spawn(cache.clone())));
    match cache.load() {
        Ok(None) => tracing::info!(path = %cache.path().display(), "no cached config yet"),
        Ok(Some(snap)) => {
            let (version, hash) = (snap.version, snap.config_hash.clone());
            match applier.restore(snap) {
                Ok(()) => {
                    tracing::info!(version, %hash, path = %cache.path().display(), "loaded config from cache")
                }
                Err(error) => {
                    tracing::error!(version, %error, "cached config does not compile; ignoring it")
                }
            }
        }
        Err(e) => tracing::error!("{e}"),
    }
    applier
}

/// Writes configs off the sync path, on a blocking thread, one at a time; when several arrive
/// while one is being written only the latest is written next. The sync client ACKs and serves
/// a config before it is on disk: the file always holds some complete earlier good config.
#[derive(Clone)]
pub struct CacheWriter {
    tx: Arc<watch::Sender<Option<Arc<Cached>>>>,
}

impl CacheWriter {
    /// Starts the writer task for `cache`.
    pub fn spawn(cache: Cache) -> Self {
        let (tx, mut rx) = watch::channel::<Option<Arc<Cached>>>(None);
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let Some(cfg) = rx.borrow_and_update().clone() else {
                    continue;
                };
                let cache = cache.clone();
                let version = cfg.version;
                let write = move || cache.store_bytes(&cfg.encode());
                match tokio::task::spawn_blocking(write).await {
                    Ok(Ok(())) => tracing::debug!(version, "config cached"),
                    Ok(Err(e)) => tracing::warn!("config cache not updated: {e}"),
                    Err(e) => tracing::warn!("config cache writer failed: {e}"),
                }
            }
        });
        Self { tx: Arc::new(tx) }
    }

    pub fn save(&self, cfg: Arc<Cached>) {
        self.tx.send_replace(Some(cfg));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::v1::Entity;

    fn temp_dir(label: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("dp-cache-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn snapshot() -> Snapshot {
        let entities = vec![Entity {
            kind: "services".into(),
            id: "00000000-0000-0000-0000-000000000001".into(),
            json: br#"{"id":"00000000-0000-0000-0000-000000000001","host":"a"}"#.to_vec(),
        }];
        Snapshot {
            version: 7,
            config_hash: hash::of_entities(&entities),
            entities,
        }
    }

    #[test]
    fn round_trips_and_replaces_atomically() {
        let dir = temp_dir("rt");
        let cache = Cache::new(&dir);
        assert!(cache.load().unwrap().is_none());
        cache.store(&snapshot()).unwrap();
        assert_eq!(cache.load().unwrap(), Some(snapshot()));
        let mut newer = snapshot();
        newer.version = 8;
        cache.store(&newer).unwrap();
        assert_eq!(cache.load().unwrap().map(|s| s.version), Some(8));
        assert!(!dir.join(format!("{FILE_NAME}.tmp")).exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn cached_encodes_as_the_snapshot_does() {
        let s = snapshot();
        let cached = Cached {
            version: s.version,
            config_hash: s.config_hash.clone(),
            entities: Arc::new(Entities::new(s.entities.clone())),
        };
        assert_eq!(cached.encode(), encode(&s));
        let empty = Cached {
            version: 0,
            config_hash: String::new(),
            entities: Arc::default(),
        };
        assert_eq!(empty.encode(), encode(&Snapshot::default()));
    }

    #[test]
    fn every_kind_of_damage_is_detected() {
        let good = encode(&snapshot());
        assert!(decode(&good).is_ok());
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(decode(&flipped).unwrap_err().contains("checksum"));
        assert!(decode(&good[..good.len() - 3])
            .unwrap_err()
            .contains("truncated"));
        assert!(decode(b"hello world, not a cache at all")
            .unwrap_err()
            .contains("not a data-plane"));
        // A well-formed file whose hash does not match its entities.
        let mut lying = snapshot();
        lying.config_hash = "0123456789abcdef0123456789abcdef".into();
        assert!(decode(&encode(&lying))
            .unwrap_err()
            .contains("does not match"));
    }

    #[test]
    fn corrupt_file_is_an_error_naming_the_file() {
        let dir = temp_dir("corrupt");
        std::fs::write(dir.join(FILE_NAME), b"garbage garbage garbage garbage!!").unwrap();
        let err = Cache::new(&dir).load().unwrap_err().to_string();
        assert!(err.contains(FILE_NAME) && err.contains("corrupt"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn writer_writes_the_latest() {
        let dir = temp_dir("writer");
        let cache = Cache::new(&dir);
        let writer = CacheWriter::spawn(cache.clone());
        for v in 1..=5 {
            let s = snapshot();
            writer.save(Arc::new(Cached {
                version: v,
                config_hash: s.config_hash,
                entities: Arc::new(Entities::new(s.entities)),
            }));
        }
        let mut got = None;
        for _ in 0..200 {
            got = cache.load().ok().flatten().map(|s| s.version);
            if got == Some(5) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(got, Some(5));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
