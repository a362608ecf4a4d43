//! Store → snapshot: the whole config at one version, hashed, published on a watch channel that
//! every DP stream follows. Rebuilt after each write that changed something.

use std::sync::Arc;

use proto::schema::hash;
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

/// Owns the current snapshot; cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    store: Store,
    tx: Arc<watch::Sender<Arc<Snapshot>>>,
}

impl Publisher {
    /// Builds the first snapshot from the store.
    pub async fn new(store: Store) -> Result<Self, StoreError> {
        let first = build(&store).await?;
        let (tx, _) = watch::channel(Arc::new(first));
        Ok(Self {
            store,
            tx: Arc::new(tx),
        })
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.tx.subscribe()
    }

    pub fn current(&self) -> Arc<Snapshot> {
        self.tx.borrow().clone()
    }

    /// Rebuilds the snapshot from the store and publishes it if it differs.
    pub async fn refresh(&self) -> Result<Arc<Snapshot>, StoreError> {
        let snap = Arc::new(build(&self.store).await?);
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

async fn build(store: &Store) -> Result<Snapshot, StoreError> {
    let (version, cfg) = store.load().await?;
    let entities = cfg.to_entities();
    Ok(Snapshot {
        version,
        hash: hash::of_entities(&entities),
        entities,
    })
}
