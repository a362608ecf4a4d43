//! Between two `POST /config` checks on the CP: what each top-level item of the last accepted
//! document became. An item that comes back byte for byte (under the same `_info` and reading
//! of scalars) takes its checked entities from the published config instead of being flattened,
//! typed and validated again, so a check costs one pass over the items plus work in proportion
//! to what changed. References into other items, uniqueness and Kong's cross-entity rules are
//! still checked over the whole config.

use std::hash::BuildHasher;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};
use proto::schema::Config;
use uuid::Uuid;

use super::kinds::Kind;
use super::refs::Ref;

/// The entities the items of one accepted document became, valid for the config version
/// published from it (set with [`Reuse::published`]).
#[derive(Default)]
pub struct Reuse {
    version: Option<u64>,
    context: Vec<u8>,
    items: HashMap<u64, Vec<Item>>,
}

struct Item {
    kind: Kind,
    bytes: Box<[u8]>,
    entries: Arc<[Entry]>,
}

/// One entity an item became, as the published config holds it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub kind: Kind,
    pub id: Uuid,
    pub explicit: bool,
    /// The entity's place under its item (`.routes[0]`; empty for the item itself).
    pub at: String,
    /// The values of the fields others may name it by (`Info::names`), in that order.
    pub names: Vec<Option<String>>,
    /// Each reference it made, as written, and the id it resolved to.
    pub refs: Vec<(Kind, Ref, Uuid)>,
}

impl Reuse {
    /// The config version these entries describe, once published.
    pub fn version(&self) -> Option<u64> {
        self.version
    }

    /// Marks the entries as describing the config published as `version`.
    pub fn published(mut self, version: u64) -> Self {
        self.version = Some(version);
        self
    }

    /// How many items are remembered.
    pub fn len(&self) -> usize {
        self.items.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(super) fn context_is(&self, context: &[u8]) -> bool {
        self.context == context
    }

    /// The entries of an item of `kind` serialised to `bytes`, if it was in the last document.
    pub(super) fn find(&self, kind: Kind, bytes: &[u8]) -> Option<&Arc<[Entry]>> {
        self.items
            .get(&key(kind, bytes))?
            .iter()
            .find(|i| i.kind == kind && *i.bytes == *bytes)
            .map(|i| &i.entries)
    }
}

fn key(kind: Kind, bytes: &[u8]) -> u64 {
    foldhash::fast::FixedState::default().hash_one((kind, bytes))
}

/// A fresh (not reused) entity as flattening left it: where it is, and its references by the
/// ids they resolved to before `adopt` gave existing ids to new entities.
pub(super) struct Fresh {
    pub item: usize,
    pub kind: Kind,
    /// Its index in the config's list of its kind.
    pub pos: usize,
    pub path: String,
    pub explicit: bool,
    pub names: Vec<Option<String>>,
    pub refs: Vec<(Kind, Ref, Uuid)>,
}

/// What a check records to build the next [`Reuse`].
#[derive(Default)]
pub(super) struct Draft {
    pub context: Vec<u8>,
    /// Per top-level item, in document order: its kind, place and bytes.
    pub items: Vec<(Kind, String, Box<[u8]>)>,
    pub fresh: Vec<Fresh>,
    /// Items taken over from the last check, with their entries.
    pub reused: Vec<(usize, Arc<[Entry]>)>,
}

impl Draft {
    /// The entities taken unchanged from the existing config, by collection and id.
    pub fn copied(&self) -> foldhash::HashSet<(&'static str, Uuid)> {
        self.reused
            .iter()
            .flat_map(|(_, entries)| entries.iter())
            .map(|e| (e.kind.info().collection, e.id))
            .collect()
    }

    /// The next `Reuse`, once `cfg` is final; `remap` is what `adopt` changed (new id → existing).
    pub fn finish(self, cfg: &Config, remap: &HashMap<Uuid, Uuid>) -> Reuse {
        let map = |id: Uuid| remap.get(&id).copied().unwrap_or(id);
        let mut fresh: Vec<Vec<Entry>> = vec![Vec::new(); self.items.len()];
        for f in self.fresh {
            let Some(id) = cfg.id_at(f.kind.info().collection, f.pos) else {
                continue;
            };
            let at = self
                .items
                .get(f.item)
                .and_then(|(_, path, _)| f.path.strip_prefix(path.as_str()))
                .unwrap_or_default()
                .to_string();
            let refs = f
                .refs
                .into_iter()
                .map(|(kind, spec, to)| {
                    let spec = match spec {
                        Ref::Id(id, written) => Ref::Id(map(id), written),
                        name => name,
                    };
                    (kind, spec, map(to))
                })
                .collect();
            if let Some(list) = fresh.get_mut(f.item) {
                list.push(Entry {
                    kind: f.kind,
                    id,
                    explicit: f.explicit,
                    at,
                    names: f.names,
                    refs,
                });
            }
        }
        let mut per_item: Vec<Arc<[Entry]>> = fresh.into_iter().map(Arc::from).collect();
        for (item, entries) in self.reused {
            if let Some(list) = per_item.get_mut(item) {
                *list = entries;
            }
        }
        let mut items: HashMap<u64, Vec<Item>> = HashMap::with_capacity(self.items.len());
        for ((kind, _, bytes), entries) in self.items.into_iter().zip(per_item) {
            items.entry(key(kind, &bytes)).or_default().push(Item {
                kind,
                bytes,
                entries,
            });
        }
        Reuse {
            version: None,
            context: self.context,
            items,
        }
    }
}
