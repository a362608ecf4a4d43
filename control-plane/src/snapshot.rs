//! Store → snapshot: the whole config at one version, hashed, published on a watch channel that
//! every DP stream follows. Rebuilt after each write that changed something.

use std::sync::{Arc, RwLock};

use proto::schema::{hash, Config};
use proto::v1;
use tokio::sync::watch;

use crate::store::{Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub version: u64,
    pub hash: String,
    pub entities: Vec<v1::Entity>,
}

impl Snapshot {
    pub fn to_proto(&self) -> v1::Snapshot {
        v1::Snapshot {
            version: self.version,
            config_hash: self.hash.clone(),
            entities: self.entities.clone(),
        }
    }
}

/// Owns the current snapshot (and the typed config it was built from); cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    store: Store,
    tx: Arc<watch::Sender<Arc<Snapshot>>>,
    config: Arc<RwLock<Arc<Config>>>,
}

impl Publisher {
    /// Builds the first snapshot from the store.
    pub async fn new(store: Store) -> Result<Self, StoreError> {
        let (first, cfg) = build(&store).await?;
        let (tx, _) = watch::channel(Arc::new(first));
        Ok(Self {
            store,
            tx: Arc::new(tx),
            config: Arc::new(RwLock::new(Arc::new(cfg))),
        })
    }

    /// The config the current snapshot was built from.
    pub fn current_config(&self) -> Arc<Config> {
        match self.config.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Publishes a config that was just stored as `version`; `entities` is its
    /// `Config::to_entities`, passed in so it is not computed twice.
    pub fn publish(&self, version: u64, cfg: Config, entities: Vec<v1::Entity>) -> Arc<Snapshot> {
        let snap = Arc::new(Snapshot {
            version,
            hash: hash::of_entities(&entities),
            entities,
        });
        self.set_config(Arc::new(cfg));
        self.tx.send_replace(snap.clone());
        snap
    }

    fn set_config(&self, cfg: Arc<Config>) {
        match self.config.write() {
            Ok(mut g) => *g = cfg,
            Err(poisoned) => *poisoned.into_inner() = cfg,
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.tx.subscribe()
    }

    pub fn current(&self) -> Arc<Snapshot> {
        self.tx.borrow().clone()
    }

    /// Rebuilds the snapshot from the store and publishes it if it differs.
    pub async fn refresh(&self) -> Result<Arc<Snapshot>, StoreError> {
        let (snap, cfg) = build(&self.store).await?;
        let snap = Arc::new(snap);
        self.set_config(Arc::new(cfg));
        self.tx.send_if_modified(|cur| {
            if cur.version == snap.version && cur.hash == snap.hash {
                false
            } else {
                *cur = snap.clone();
                true
            }
        });
        Ok(self.current())
    }
}

async fn build(store: &Store) -> Result<(Snapshot, Config), StoreError> {
    let (version, cfg) = store.load().await?;
    let entities = cfg.to_entities();
    let snap = Snapshot {
        version,
        hash: hash::of_entities(&entities),
        entities,
    };
    Ok((snap, cfg))
}
