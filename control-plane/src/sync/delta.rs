//! Snapshot → delta: what changed between the snapshot a DP holds and the new one, as the
//! entities to upsert and the ones to delete. Falls back to a full snapshot when the delta would
//! not be smaller.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use proto::schema::canonical_key as key;
use proto::v1::{self, Delta, EntityRef};

use crate::snapshot::Snapshot;

/// The last delta computed, shared by every DP stream: when all DPs held the previous version
/// (the usual case) it is computed once, not once per DP.
#[derive(Clone, Default)]
pub struct Shared {
    last: Arc<Mutex<Option<Memo>>>,
}

struct Memo {
    base: String,
    target: String,
    delta: Option<Arc<Delta>>,
}

impl Shared {
    /// [`between`], remembered for the last (base, target) pair asked for.
    pub fn between(&self, base: &Snapshot, target: &Snapshot) -> Option<Arc<Delta>> {
        let mut last = match self.last.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(m) = last.as_ref() {
            if m.base == base.hash && m.target == target.hash {
                return m.delta.clone();
            }
        }
        let delta = between(base, target).map(Arc::new);
        *last = Some(Memo {
            base: base.hash.clone(),
            target: target.hash.clone(),
            delta: delta.clone(),
        });
        delta
    }
}

/// The delta from `base` to `target`, or `None` when sending `target` whole is as cheap.
/// Snapshots list entities in canonical order (`Config::to_entities`), so one walk over both
/// finds the changes without building an index; lists out of that order are compared by map.
pub fn between(base: &Snapshot, target: &Snapshot) -> Option<Delta> {
    let (upserts, deletes) = if canonical(&base.entities) && canonical(&target.entities) {
        walk(&base.entities, &target.entities)?
    } else {
        by_map(&base.entities, &target.entities)?
    };
    if too_big(upserts.len() + deletes.len(), target.entities.len()) {
        return None;
    }
    Some(assemble(base.version, &base.hash, target, upserts, deletes))
}

/// Whether `changes` entities make a delta no smaller than sending `len` entities whole.
pub fn too_big(changes: usize, len: usize) -> bool {
    changes * 2 > len.max(1)
}

/// The delta from the version `base_version` hashed `base_hash` to `target`.
pub fn assemble(
    base_version: u64,
    base_hash: &str,
    target: &Snapshot,
    upserts: Vec<v1::Entity>,
    deletes: Vec<EntityRef>,
) -> Delta {
    Delta {
        base_version,
        base_hash: base_hash.to_string(),
        version: target.version,
        config_hash: target.hash.clone(),
        upserts,
        deletes,
    }
}

type Changes = (Vec<v1::Entity>, Vec<EntityRef>);

/// Whether `entities` are strictly in canonical order.
fn canonical(entities: &[v1::Entity]) -> bool {
    entities.windows(2).all(|w| key(&w[0]) < key(&w[1]))
}

fn reference(e: &v1::Entity) -> EntityRef {
    EntityRef {
        kind: e.kind.clone(),
        id: e.id.clone(),
    }
}

/// Changes between two canonical lists; `None` as soon as they exceed half of `target`.
fn walk(base: &[v1::Entity], target: &[v1::Entity]) -> Option<Changes> {
    let (mut upserts, mut deletes) = (Vec::new(), Vec::new());
    let (mut b, mut t) = (base.iter().peekable(), target.iter().peekable());
    loop {
        match (b.peek(), t.peek()) {
            (None, None) => break,
            (Some(old), Some(new)) if key(old) == key(new) => {
                if old.json != new.json {
                    upserts.push((*new).clone());
                }
                b.next();
                t.next();
            }
            (Some(old), Some(new)) if key(old) < key(new) => {
                deletes.push(reference(old));
                b.next();
            }
            (Some(old), None) => {
                deletes.push(reference(old));
                b.next();
            }
            (_, Some(new)) => {
                upserts.push((*new).clone());
                t.next();
            }
        }
        if too_big(upserts.len() + deletes.len(), target.len()) {
            return None;
        }
    }
    Some((upserts, deletes))
}

/// Changes between two lists in any order.
fn by_map(base: &[v1::Entity], target: &[v1::Entity]) -> Option<Changes> {
    let old: HashMap<(&str, &str), &[u8]> = base
        .iter()
        .map(|e| ((e.kind.as_str(), e.id.as_str()), e.json.as_slice()))
        .collect();
    let mut upserts: Vec<v1::Entity> = Vec::new();
    for e in target {
        if old.get(&(e.kind.as_str(), e.id.as_str())) != Some(&e.json.as_slice()) {
            upserts.push(e.clone());
        }
        if too_big(upserts.len(), target.len()) {
            return None;
        }
    }
    let new: HashSet<(&str, &str)> = target
        .iter()
        .map(|e| (e.kind.as_str(), e.id.as_str()))
        .collect();
    let deletes = base
        .iter()
        .filter(|e| !new.contains(&(e.kind.as_str(), e.id.as_str())))
        .map(reference)
        .collect();
    Some((upserts, deletes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(kind: &str, id: &str, json: &str) -> v1::Entity {
        v1::Entity {
            kind: kind.into(),
            id: id.into(),
            json: json.as_bytes().to_vec(),
        }
    }

    fn snap(version: u64, entities: Vec<v1::Entity>) -> Snapshot {
        Snapshot {
            version,
            hash: proto::schema::hash::of_entities(&entities),
            entities,
            ..Default::default()
        }
    }

    fn many(n: usize) -> Vec<v1::Entity> {
        (0..n)
            .map(|i| e("services", &format!("{i:04}"), &format!("s{i}")))
            .collect()
    }

    #[test]
    fn only_changes_are_sent() {
        let base = snap(1, many(10));
        let mut next = many(10);
        next[3].json = b"changed".to_vec();
        next.remove(7);
        next.push(e("routes", "r", "new"));
        let target = snap(2, next);
        let d = between(&base, &target).unwrap();
        assert_eq!((d.base_version, d.version), (1, 2));
        assert_eq!(d.base_hash, base.hash);
        assert_eq!(d.config_hash, target.hash);
        let ups: Vec<&str> = d.upserts.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ups, vec!["0003", "r"]);
        assert_eq!(d.deletes.len(), 1);
        assert_eq!(d.deletes[0].id, "0007");
    }

    #[test]
    fn shared_deltas_are_computed_once_per_pair() {
        let base = snap(1, many(10));
        let mut next = many(10);
        next[0].json = b"x".to_vec();
        let target = snap(2, next);
        let shared = Shared::default();
        let a = shared.between(&base, &target).unwrap();
        let b = shared.between(&base, &target).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let back = shared.between(&target, &base).unwrap();
        assert_eq!(back.version, 1);
    }

    #[test]
    fn the_walk_and_the_map_agree() {
        let base = many(20);
        let mut next = many(20);
        next[5].json = b"changed".to_vec();
        next.remove(9);
        next.insert(0, e("services", "0000a", "new"));
        next.sort_by(|a, b| key(a).cmp(&key(b)));
        next.push(e("routes", "r", "new"));
        assert!(canonical(&base) && canonical(&next));
        let (wu, wd) = walk(&base, &next).unwrap();
        let (mu, md) = by_map(&base, &next).unwrap();
        let ids = |v: &[v1::Entity]| v.iter().map(|x| x.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&wu), ids(&mu));
        assert_eq!(wd, md);
        assert_eq!(ids(&wu), vec!["0000a", "0005", "r"]);
        assert!(!canonical(&[e("routes", "1", ""), e("services", "2", "")]));
    }

    #[test]
    fn large_changes_go_whole() {
        let base = snap(1, many(4));
        let target = snap(2, vec![e("routes", "x", "1"), e("routes", "y", "2")]);
        assert!(between(&base, &target).is_none());
    }
}
