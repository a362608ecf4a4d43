//! Published snapshots → a short memory of recent versions, so a DP that reconnects holding one
//! of them gets a delta to the current snapshot instead of the whole config. Only identities and
//! digests are kept, never entity bytes (those move from one snapshot into the next): an index
//! of the current snapshot (kind, id, digest, position: 48 bytes an entity), and for each
//! of the last [`MAX_VERSIONS`] versions the entities whose state differs from the version after
//! it — what a change touched, not the whole config.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use proto::schema::{hash, ENTITY_KINDS};
use proto::v1::{Delta, EntityRef};
use tokio::sync::watch;
use uuid::Uuid;

use super::delta::{assemble, too_big};
use crate::snapshot::Snapshot;

/// How many earlier versions a reconnecting DP can get a delta from.
pub const MAX_VERSIONS: usize = 8;

/// An entity's identity, compact (24 bytes): the kind by its place in `ENTITY_KINDS`, a UUID id
/// (the CP only ever writes those) as its 16 bytes. Ordered by kind, then id, when ids are UUIDs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Uuid(u8, [u8; 16]),
    Other(u8, Box<str>),
}

impl Key {
    /// `None` for a kind outside `ENTITY_KINDS` (which the CP never publishes).
    fn of(kind: &str, id: &str) -> Option<Self> {
        let kind = u8::try_from(ENTITY_KINDS.iter().position(|k| *k == kind)?).ok()?;
        // Only the canonical spelling maps to bytes, so that the id reads back the same.
        let mut buf = Uuid::encode_buffer();
        Some(match Uuid::try_parse(id) {
            Ok(u) if u.hyphenated().encode_lower(&mut buf) == id => Key::Uuid(kind, *u.as_bytes()),
            _ => Key::Other(kind, id.into()),
        })
    }

    fn to_ref(&self) -> EntityRef {
        let (kind, id) = match self {
            Key::Uuid(k, b) => (*k, Uuid::from_bytes(*b).hyphenated().to_string()),
            Key::Other(k, s) => (*k, s.to_string()),
        };
        EntityRef {
            kind: ENTITY_KINDS
                .get(usize::from(kind))
                .copied()
                .unwrap_or_default()
                .to_string(),
            id,
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Key::Uuid(..) => 0,
            Key::Other(_, s) => s.len(),
        }
    }
}

/// One entity of the indexed snapshot.
#[derive(Debug, Clone)]
struct Entry {
    key: Key,
    digest: [u8; 16],
    /// Where the entity sits in the snapshot's `entities`.
    pos: u32,
}

/// The identities and digests of one snapshot, sorted by key.
#[derive(Debug)]
struct Index {
    version: u64,
    hash: String,
    entries: Vec<Entry>,
}

impl Index {
    /// `None` when the snapshot holds something a key cannot name.
    fn of(snap: &Snapshot) -> Option<Self> {
        let digests = (snap.digests.len() == snap.entities.len()).then_some(&snap.digests);
        // Sized once: no doubling and copying of a vector of this size on the way.
        let mut entries = Vec::with_capacity(snap.entities.len());
        for (i, e) in snap.entities.iter().enumerate() {
            entries.push(Entry {
                key: Key::of(&e.kind, &e.id)?,
                digest: digests.map_or_else(|| hash::digest(e), |d| d[i]),
                pos: u32::try_from(i).ok()?,
            });
        }
        // Canonical order is key order when every id is a UUID: sorting is then a check.
        if !entries.windows(2).all(|w| w[0].key < w[1].key) {
            entries.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        }
        Some(Self {
            version: snap.version,
            hash: snap.hash.clone(),
            entries,
        })
    }

    fn find(&self, key: &Key) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| e.key.cmp(key))
            .ok()
            .and_then(|i| self.entries.get(i))
    }
}

/// An earlier version: each entity whose state then (its digest, `None` when absent) differs
/// from its state in the version after it.
#[derive(Debug)]
struct Step {
    version: u64,
    hash: String,
    changed: Vec<(Key, Option<[u8; 16]>)>,
}

/// The entities whose state in `old` differs from `new`, with their state in `old`; `None` as
/// soon as they are too many for a delta from `old` to be worth sending.
fn changes(old: &[Entry], new: &[Entry]) -> Option<Vec<(Key, Option<[u8; 16]>)>> {
    let mut out = Vec::new();
    let (mut o, mut n) = (old.iter().peekable(), new.iter().peekable());
    loop {
        match (o.peek(), n.peek()) {
            (None, None) => break,
            (Some(a), Some(b)) if a.key == b.key => {
                if a.digest != b.digest {
                    out.push((a.key.clone(), Some(a.digest)));
                }
                o.next();
                n.next();
            }
            (Some(a), Some(b)) if a.key < b.key => {
                out.push((a.key.clone(), Some(a.digest)));
                o.next();
            }
            (Some(a), None) => {
                out.push((a.key.clone(), Some(a.digest)));
                o.next();
            }
            (_, Some(b)) => {
                out.push((b.key.clone(), None));
                n.next();
            }
        }
        if too_big(out.len(), new.len()) {
            return None;
        }
    }
    Some(out)
}

/// The current snapshot's index and the steps back from it, oldest first.
#[derive(Debug, Default)]
pub struct History {
    current: Option<Index>,
    steps: VecDeque<Step>,
    /// The last delta computed: DPs that reconnect together usually hold the same version.
    memo: Option<(String, String, Arc<Delta>)>,
}

impl History {
    /// Takes note of a published snapshot. An older one than already seen (a stream's stale
    /// copy) is ignored; an equal version with other content breaks the chain.
    pub fn observe(&mut self, snap: &Snapshot) {
        if let Some(cur) = &mut self.current {
            if cur.hash == snap.hash {
                cur.version = cur.version.max(snap.version);
                return;
            }
            if snap.version < cur.version {
                return;
            }
        }
        let Some(next) = Index::of(snap) else {
            *self = Self::default();
            return;
        };
        if let Some(prev) = self.current.take() {
            // A delta from before a change too large would not be smaller than the whole.
            match changes(&prev.entries, &next.entries) {
                Some(changed) if prev.version != next.version => self.steps.push_back(Step {
                    version: prev.version,
                    hash: prev.hash,
                    changed,
                }),
                _ => self.steps.clear(),
            }
        }
        // Bounded: MAX_VERSIONS steps, and no more changes in all than entities now.
        let budget = next.entries.len().max(64);
        while self.steps.len() > MAX_VERSIONS
            || self.steps.iter().map(|s| s.changed.len()).sum::<usize>() > budget
        {
            self.steps.pop_front();
        }
        self.current = Some(next);
    }

    /// The delta from the earlier version hashed `base_hash` to `target` (which must be the
    /// snapshot last observed); `None` when that version is not remembered or the delta would
    /// not be smaller than sending `target` whole.
    pub fn delta_from(&mut self, base_hash: &str, target: &Snapshot) -> Option<Arc<Delta>> {
        self.observe(target);
        if let Some((b, t, d)) = &self.memo {
            if b == base_hash && *t == target.hash && d.version == target.version {
                return Some(d.clone());
            }
        }
        let delta = Arc::new(self.compute(base_hash, target)?);
        self.memo = Some((base_hash.to_string(), target.hash.clone(), delta.clone()));
        Some(delta)
    }

    fn compute(&self, base_hash: &str, target: &Snapshot) -> Option<Delta> {
        let cur = self.current.as_ref().filter(|c| c.hash == target.hash)?;
        let at = self.steps.iter().rposition(|s| s.hash == base_hash)?;
        let base = self.steps.get(at)?;
        // Each entity's state in the base version: the first step from there that names it.
        let mut then: BTreeMap<&Key, Option<[u8; 16]>> = BTreeMap::new();
        for step in self.steps.range(at..) {
            for (k, d) in &step.changed {
                then.entry(k).or_insert(*d);
            }
        }
        let (mut upserts, mut deletes) = (Vec::new(), Vec::new());
        for (key, old) in then {
            match (cur.find(key), old) {
                (Some(now), old) if old != Some(now.digest) => upserts.push(now),
                (None, Some(_)) => deletes.push(key.to_ref()),
                _ => {}
            }
            if too_big(upserts.len() + deletes.len(), target.entities.len()) {
                return None;
            }
        }
        upserts.sort_unstable_by_key(|e| e.pos);
        let upserts = upserts
            .into_iter()
            .map(|e| {
                let entity = target.entities.get(e.pos as usize)?;
                // The positions are those of the indexed snapshot: check it is this one.
                (Key::of(&entity.kind, &entity.id).as_ref() == Some(&e.key)).then(|| entity.clone())
            })
            .collect::<Option<Vec<_>>>()?;
        Some(assemble(base.version, &base.hash, target, upserts, deletes))
    }

    /// The versions remembered, oldest first.
    pub fn versions(&self) -> Vec<u64> {
        self.steps.iter().map(|s| s.version).collect()
    }

    /// About how much memory this holds (vectors at capacity, ids that are not UUIDs).
    pub fn heap_bytes(&self) -> usize {
        let index = self.current.as_ref().map_or(0, |c| {
            c.entries.capacity() * std::mem::size_of::<Entry>()
                + c.entries.iter().map(|e| e.key.heap_bytes()).sum::<usize>()
        });
        let steps = self
            .steps
            .iter()
            .map(|s| {
                s.changed.capacity() * std::mem::size_of::<(Key, Option<[u8; 16]>)>()
                    + s.changed.iter().map(|(k, _)| k.heap_bytes()).sum::<usize>()
            })
            .sum::<usize>();
        index + steps
    }
}

/// A [`History`] shared by the sync service, its follower task and every DP stream.
#[derive(Clone, Default)]
pub struct Shared {
    inner: Arc<Mutex<History>>,
}

impl Shared {
    pub fn delta_from(&self, base_hash: &str, target: &Snapshot) -> Option<Arc<Delta>> {
        self.with(|h| h.delta_from(base_hash, target))
    }

    pub fn observe(&self, snap: &Snapshot) {
        self.with(|h| h.observe(snap));
    }

    fn with<R>(&self, f: impl FnOnce(&mut History) -> R) -> R {
        let mut guard = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

/// Observes the snapshots published on `snapshots`, until the publisher goes away, on a thread
/// of its own: the allocator keeps the pages a thread frees for that thread, so the indexes
/// built and freed there reuse the same few MB instead of leaving them with whichever runtime
/// thread ran the last one. Each snapshot is read under the channel's borrow, without keeping
/// a reference, so the publisher can still move the bytes of the current snapshot into the next.
pub fn follow(snapshots: watch::Receiver<Arc<Snapshot>>, history: Shared) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("sync-history".into())
        .spawn(move || {
            let mut changes = snapshots.clone();
            loop {
                history.observe(&snapshots.borrow());
                // Changes that come quicker than an index is built are noted as one.
                if rt.block_on(changes.changed()).is_err() {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the sync history thread ({e}): data planes that reconnect holding an earlier version get the whole config");
    }
}

#[cfg(test)]
mod tests;
