//! Store → snapshot: the whole config at one version, hashed, published on a watch channel that
//! every DP stream follows. Rebuilt after each write that changed something.

use std::sync::Arc;

use proto::schema::{canonical_cmp, hash, Config, Slot};
use proto::v1;
use tokio::sync::watch;

use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub version: u64,
    pub hash: String,
    pub entities: Vec<v1::Entity>,
    /// Each entity's part of the hash (`hash::digest`), in `entities` order: the next
    /// snapshot reuses those of unchanged entities.
    pub digests: Vec<[u8; 16]>,
    /// The typed config `entities` encode; kept with them so a reader always gets a matching
    /// pair (a write reuses the bytes of entities it did not change).
    pub config: Arc<Config>,
}

impl Snapshot {
    /// A snapshot of `cfg` as `version`: its entities, their digests, and the config hash
    /// derived from those digests.
    fn new(version: u64, cfg: Config, entities: Vec<v1::Entity>, digests: Vec<[u8; 16]>) -> Self {
        Snapshot {
            version,
            hash: hash::of_digests(digests.iter().copied()),
            entities,
            digests,
            config: Arc::new(cfg),
        }
    }

    pub fn to_proto(&self) -> v1::Snapshot {
        v1::Snapshot {
            version: self.version,
            config_hash: self.hash.clone(),
            entities: self.entities.clone(),
        }
    }
}

/// Owns the current snapshot (with the typed config it was built from); cheap to clone.
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

    /// The config the current snapshot was built from.
    pub fn current_config(&self) -> Arc<Config> {
        self.current().config.clone()
    }

    /// Publishes a config that was just stored as `version`; `entities` is its
    /// `Config::to_entities`, passed in so it is not computed twice. The hash reuses the
    /// digests of entities the current snapshot holds unchanged.
    pub fn publish(&self, version: u64, cfg: Config, entities: Vec<v1::Entity>) -> Arc<Snapshot> {
        let digests = digests_reusing(&self.current(), &entities);
        let snap = Arc::new(Snapshot::new(version, cfg, entities, digests));
        drop_elsewhere(self.tx.send_replace(snap.clone()));
        snap
    }

    /// Publishes a config that was just stored as `version`, its wire entities given as
    /// `Config::to_entity_plan` against `base` (the snapshot it was checked against). When
    /// `base` is still the current snapshot and nothing else holds it, the unchanged entities'
    /// bytes and digests move into the new snapshot instead of being copied, so the two are
    /// never both in memory; otherwise they are copied.
    pub fn publish_plan(
        &self,
        version: u64,
        cfg: Config,
        plan: Vec<Slot>,
        base: Arc<Snapshot>,
    ) -> Arc<Snapshot> {
        let mut published = None;
        let mut retired = None;
        self.tx.send_modify(|cur| {
            // Only the channel's reference may be left for the move: `base` goes first.
            let stale = (!Arc::ptr_eq(cur, &base)).then_some(base);
            let (entities, digests) = match (stale, Arc::get_mut(cur)) {
                (None, Some(prev)) => {
                    let mut entities: Vec<Option<v1::Entity>> = std::mem::take(&mut prev.entities)
                        .into_iter()
                        .map(Some)
                        .collect();
                    let digests = std::mem::take(&mut prev.digests);
                    build_from_plan(plan, |i| {
                        (
                            entities.get_mut(i).and_then(Option::take),
                            digests.get(i).copied(),
                        )
                    })
                }
                (stale, _) => {
                    let from = stale.unwrap_or_else(|| cur.clone());
                    build_from_plan(plan, |i| {
                        (from.entities.get(i).cloned(), from.digests.get(i).copied())
                    })
                }
            };
            let snap = Arc::new(Snapshot::new(version, cfg, entities, digests));
            published = Some(snap.clone());
            retired = Some(std::mem::replace(cur, snap));
        });
        drop_elsewhere(retired);
        published.unwrap_or_else(|| self.current())
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
        let mut retired = None;
        self.tx.send_if_modified(|cur| {
            if cur.version == snap.version && cur.hash == snap.hash {
                false
            } else {
                retired = Some(std::mem::replace(cur, snap.clone()));
                true
            }
        });
        drop_elsewhere(retired);
        Ok(self.current())
    }
}

/// Drops `value` on a blocking thread when there is a runtime: freeing the typed config of a
/// large snapshot takes tens of milliseconds, which the answer to the write need not wait for.
fn drop_elsewhere<T: Send + 'static>(value: T) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => drop(rt.spawn_blocking(move || drop(value))),
        Err(_) => drop(value),
    }
}

/// The wire entities and digests of a plan; `prev(i)` gives the earlier entity at `i` and its
/// digest (an entity missing there, which a plan against that list never names, is skipped).
fn build_from_plan(
    plan: Vec<Slot>,
    mut prev: impl FnMut(usize) -> (Option<v1::Entity>, Option<[u8; 16]>),
) -> (Vec<v1::Entity>, Vec<[u8; 16]>) {
    let mut entities = Vec::with_capacity(plan.len());
    let mut digests = Vec::with_capacity(plan.len());
    for slot in plan {
        let (e, d) = match slot {
            Slot::Prev(i) => match prev(i) {
                (Some(e), Some(d)) => (e, d),
                (Some(e), None) => {
                    let d = hash::digest(&e);
                    (e, d)
                }
                (None, _) => continue,
            },
            Slot::New(e) => {
                let d = hash::digest(&e);
                (e, d)
            }
        };
        entities.push(e);
        digests.push(d);
    }
    (entities, digests)
}

async fn build(store: &Store) -> Result<Snapshot, StoreError> {
    let (version, cfg) = store.load().await?;
    let entities = cfg.to_entities();
    let digests: Vec<[u8; 16]> = entities.iter().map(hash::digest).collect();
    Ok(Snapshot::new(version, cfg, entities, digests))
}

/// The digests of `entities` (canonical order): an entity `prev` holds with the same kind, id
/// and bytes keeps its digest, any other is digested.
fn digests_reusing(prev: &Snapshot, entities: &[v1::Entity]) -> Vec<[u8; 16]> {
    let mut at = 0;
    entities
        .iter()
        .map(|e| {
            // Both lists are in canonical order: walk `prev` alongside.
            while at < prev.entities.len() && canonical_cmp(&prev.entities[at], e).is_lt() {
                at += 1;
            }
            match (prev.entities.get(at), prev.digests.get(at)) {
                (Some(p), Some(d)) if p == e => *d,
                _ => hash::digest(e),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::schema::Service;
    use serde_json::json;

    fn service(name: &str) -> Service {
        serde_json::from_value(json!({"id": uuid::Uuid::new_v4(), "name": name, "host": "h"}))
            .unwrap()
    }

    fn config(n: usize) -> Config {
        Config {
            services: (0..n).map(|i| service(&format!("s{i}"))).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn unchanged_entities_keep_their_bytes_and_changed_ones_are_encoded_again() {
        let prev = config(20);
        // Mark every published entity's bytes: a reused entity keeps the mark.
        let mut published = prev.to_entities();
        for e in &mut published {
            e.json.push(b' ');
        }
        let mut next = prev.clone();
        next.services[3].port = 8443;
        next.services.remove(7);
        next.services.push(service("new"));
        let reused = next.to_entities_reusing(&prev, &published);
        let fresh = next.to_entities();
        assert_eq!(reused.len(), fresh.len());
        for (r, f) in reused.iter().zip(&fresh) {
            assert_eq!((&r.kind, &r.id), (&f.kind, &f.id));
            let changed =
                f.id == next.services[3].id.to_string() || f.id == next.services[19].id.to_string();
            if changed {
                assert_eq!(r.json, f.json, "a changed or new entity is encoded again");
            } else {
                assert_eq!(
                    r.json,
                    [f.json.as_slice(), b" "].concat(),
                    "an unchanged one is reused"
                );
            }
        }
        // Without a previous config nothing is reused.
        assert_eq!(next.to_entities_reusing(&Config::default(), &[]), fresh);
    }

    /// A publisher over a fresh SQLite file holding `cfg` as its snapshot (version 1).
    async fn publisher(cfg: &Config) -> (Publisher, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("cp-snapshot-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("kong.db").display());
        let publisher = Publisher::new(Store::open(&url).await.unwrap())
            .await
            .unwrap();
        publisher.publish(1, cfg.clone(), cfg.to_entities());
        (publisher, dir)
    }

    #[tokio::test]
    async fn a_plan_publishes_the_same_snapshot_whether_bytes_move_or_are_copied() {
        let prev = config(30);
        let mut next = prev.clone();
        next.services[3].port = 8443;
        next.services.remove(7);
        next.services.push(service("new"));
        let fresh = next.to_entities();
        let want_digests: Vec<[u8; 16]> = fresh.iter().map(hash::digest).collect();
        // moved: the base is the current snapshot and nothing else holds it.
        // copied: a reader holds the base. stale: another snapshot was published since.
        for case in ["moved", "copied", "stale"] {
            let (publisher, dir) = publisher(&prev).await;
            let base = publisher.current();
            let plan = next.to_entity_plan(&base.config, &base.entities);
            assert!(plan.iter().any(|s| matches!(s, Slot::Prev(_))), "{case}");
            assert!(plan.iter().any(|s| matches!(s, Slot::New(_))), "{case}");
            let reader = (case == "copied").then(|| base.clone());
            // Where an unchanged entity's bytes live: a move keeps them in place.
            let kept_at = base.entities[0].json.as_ptr();
            if case == "stale" {
                publisher.publish(2, prev.clone(), prev.to_entities());
            }
            let snap = publisher.publish_plan(3, next.clone(), plan, base);
            assert_eq!(snap.entities, fresh, "{case}");
            assert_eq!(snap.digests, want_digests, "{case}");
            assert_eq!(snap.hash, hash::of_entities(&fresh), "{case}");
            assert_eq!((snap.version, &*snap.config), (3, &next), "{case}");
            assert_eq!(
                publisher.current(),
                snap,
                "{case}: it is the current snapshot"
            );
            assert_eq!(
                snap.entities[0].json.as_ptr() == kept_at,
                case == "moved",
                "{case}: bytes move only from an unshared current base"
            );
            if let Some(reader) = reader {
                assert_eq!(
                    reader.entities,
                    prev.to_entities(),
                    "the reader's copy is intact"
                );
            }
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn digests_are_reused_only_for_identical_entities() {
        let cfg = config(10);
        let entities = cfg.to_entities();
        let prev = Snapshot {
            digests: vec![[7u8; 16]; entities.len()],
            entities: entities.clone(),
            ..Default::default()
        };
        let mut changed = entities.clone();
        changed[4].json = b"{}".to_vec();
        changed.remove(2);
        let digests = digests_reusing(&prev, &changed);
        assert_eq!(digests.len(), changed.len());
        for (d, e) in digests.iter().zip(&changed) {
            if e.json == b"{}" {
                assert_eq!(*d, hash::digest(e), "a changed entity is digested again");
            } else {
                assert_eq!(*d, [7u8; 16], "an identical entity keeps its digest");
            }
        }
        // Against an empty snapshot every entity is digested: the hash is the full one.
        let all = digests_reusing(&Snapshot::default(), &changed);
        assert_eq!(hash::of_digests(all), hash::of_entities(&changed));
    }
}
