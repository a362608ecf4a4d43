//! Delta → entity set: the DP side of incremental sync. The entities a DP holds, kept in the
//! canonical order the CP hashes (`ENTITY_KINDS` order, then id) and shared by `Arc`, so a
//! delta costs a map copy of pointers plus its own upserts and deletes, not a copy of the whole
//! config; the result's hash, from the digests kept with each entity, is then checked against
//! the delta's.

use std::collections::BTreeSet;
use std::sync::Arc;

use proto::schema::{hash, kind_rank as rank};
use proto::v1::{Entity, EntityRef};

/// An entity ordered canonically (by kind rank, kind, then id), with its part of the hash.
#[derive(Debug, Clone, PartialEq)]
struct Keyed {
    rank: usize,
    entity: Arc<Entity>,
    digest: [u8; 16],
}

impl Keyed {
    fn new(entity: Entity) -> Self {
        Self {
            rank: rank(&entity.kind),
            digest: hash::digest(&entity),
            entity: Arc::new(entity),
        }
    }

    /// A key to look `kind`/`id` up with.
    fn probe(kind: &str, id: &str) -> Self {
        Self {
            rank: rank(kind),
            entity: Arc::new(Entity {
                kind: kind.to_string(),
                id: id.to_string(),
                json: Vec::new(),
            }),
            digest: [0; 16],
        }
    }

    fn key(&self) -> (usize, &str, &str) {
        (self.rank, &self.entity.kind, &self.entity.id)
    }
}

impl Eq for Keyed {}

impl PartialOrd for Keyed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Keyed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// A config as entities, in canonical order; cloning copies pointers, not entities.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entities {
    set: BTreeSet<Keyed>,
}

impl Entities {
    pub fn new(entities: Vec<Entity>) -> Self {
        Self {
            set: entities.into_iter().map(Keyed::new).collect(),
        }
    }

    /// These entities with `deletes` removed and `upserts` added or replaced.
    pub fn apply(&self, upserts: &[Entity], deletes: &[EntityRef]) -> Self {
        let mut set = self.set.clone();
        for d in deletes {
            set.remove(&Keyed::probe(&d.kind, &d.id));
        }
        for e in upserts {
            set.replace(Keyed::new(e.clone()));
        }
        Self { set }
    }

    /// In canonical order.
    pub fn iter(&self) -> impl Iterator<Item = &Entity> {
        self.set.iter().map(|k| k.entity.as_ref())
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// The config hash of these entities (`hash::of_entities` of the canonical list), from the
    /// digests kept with them.
    pub fn hash(&self) -> String {
        hash::of_digests(self.set.iter().map(|k| k.digest))
    }

    /// A copy as a plain list, in canonical order.
    pub fn to_vec(&self) -> Vec<Entity> {
        self.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(kind: &str, id: &str, json: &str) -> Entity {
        Entity {
            kind: kind.into(),
            id: id.into(),
            json: json.as_bytes().to_vec(),
        }
    }

    #[test]
    fn upserts_deletes_and_keeps_canonical_order() {
        let base = Entities::new(vec![
            e("plugins", "9", "p9"),
            e("services", "2", "s2"),
            e("routes", "1", "r1"),
            e("services", "1", "s1"),
        ]);
        let out = base.apply(
            &[e("routes", "0", "r0"), e("services", "2", "s2b")],
            &[EntityRef {
                kind: "plugins".into(),
                id: "9".into(),
            }],
        );
        let got: Vec<(&str, &str, &[u8])> = out
            .iter()
            .map(|x| (x.kind.as_str(), x.id.as_str(), x.json.as_slice()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("services", "1", b"s1".as_slice()),
                ("services", "2", b"s2b".as_slice()),
                ("routes", "0", b"r0".as_slice()),
                ("routes", "1", b"r1".as_slice()),
            ]
        );
        assert_eq!(base.len(), 4, "the base is untouched");
        assert_eq!(out.hash(), hash::of_entities(&out.to_vec()));
        assert_eq!(Entities::default().hash(), hash::EMPTY);
    }
}
