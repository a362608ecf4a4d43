//! Flattening's index of every entity in the files (plus those on the CP that `_info`'s lookup
//! tags make referable): ids and names for resolving references, places for error messages.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use proto::schema::Config;
use serde_json::Value;
use uuid::Uuid;

use super::info::{has_all_tags, Info};
use super::kinds::{Kind, TOP_LEVEL};
use super::refs::Ref;

/// Ids and names of every pending entity, for reference resolution and error paths.
pub struct Index {
    pub ids: HashSet<(Kind, Uuid)>,
    pub names: HashMap<(Kind, String), Uuid>,
    pub paths: HashMap<Uuid, String>,
    /// Kinds whose references may point outside the files (`_info.default_lookup_tags`) while
    /// the CP's state is not at hand: accepted unresolved.
    pub deferred: HashSet<Kind>,
}

impl Default for Index {
    fn default() -> Self {
        Self::new()
    }
}

impl Index {
    pub fn new() -> Self {
        Index {
            ids: HashSet::new(),
            names: HashMap::new(),
            paths: HashMap::new(),
            deferred: HashSet::new(),
        }
    }

    /// Adds one entity: its id, its place for messages, and the names others may use for it
    /// (`names` in the order of its kind's `Info::names`; the first entity to take one keeps it).
    pub fn add<'n>(
        &mut self,
        kind: Kind,
        id: Uuid,
        path: impl FnOnce() -> String,
        names: impl IntoIterator<Item = Option<&'n str>>,
    ) {
        self.paths.entry(id).or_insert_with(path);
        self.add_unplaced(kind, id, names);
    }

    /// `add` without the place, for entities whose place is only needed in a message.
    pub fn add_unplaced<'n>(
        &mut self,
        kind: Kind,
        id: Uuid,
        names: impl IntoIterator<Item = Option<&'n str>>,
    ) {
        self.ids.insert((kind, id));
        for n in names.into_iter().flatten() {
            self.names.entry((kind, n.to_string())).or_insert(id);
        }
    }

    /// Makes entities on the CP that carry a kind's lookup tags referable from the files.
    pub fn add_external(&mut self, info: &Info, external: Option<&Config>) {
        for (collection, tags) in &info.lookup_tags {
            let Some(kind) = TOP_LEVEL
                .iter()
                .copied()
                .find(|k| k.info().collection == collection)
            else {
                continue;
            };
            let Some(cfg) = external else {
                self.deferred.insert(kind);
                continue;
            };
            for e in cfg.to_entities().iter().filter(|e| e.kind == *collection) {
                let body: Value = serde_json::from_slice(&e.json).unwrap_or(Value::Null);
                let Ok(id) = Uuid::parse_str(&e.id) else {
                    continue;
                };
                if !has_all_tags(&body, tags) {
                    continue;
                }
                self.ids.insert((kind, id));
                for f in kind.info().names {
                    if let Some(n) = body[*f].as_str() {
                        self.names.entry((kind, n.to_string())).or_insert(id);
                    }
                }
            }
        }
    }

    pub fn resolve(&self, kind: Kind, spec: &Ref) -> Option<Uuid> {
        if self.deferred.contains(&kind) && self.lookup(kind, spec).is_none() {
            return Some(Uuid::nil());
        }
        self.lookup(kind, spec)
    }

    fn lookup(&self, kind: Kind, spec: &Ref) -> Option<Uuid> {
        match spec {
            Ref::Id(id, s) => self
                .ids
                .contains(&(kind, *id))
                .then_some(*id)
                .or_else(|| self.names.get(&(kind, s.clone())).copied()),
            Ref::Name(n) => self.names.get(&(kind, n.clone())).copied(),
        }
    }
}
