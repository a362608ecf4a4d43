//! Delta → entity list: the DP side of incremental sync. Applies a `Delta`'s upserts and deletes
//! to the entities the DP holds, and puts the result back in the canonical order the CP hashes
//! (`ENTITY_KINDS` order, then id), so the result's hash can be checked against the delta's.

use std::collections::BTreeMap;

use proto::schema::ENTITY_KINDS;
use proto::v1::{Entity, EntityRef};

/// Where `kind` sorts: its place in `ENTITY_KINDS`, unknown kinds last.
fn rank(kind: &str) -> usize {
    ENTITY_KINDS
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(ENTITY_KINDS.len())
}

/// `base` with `deletes` removed and `upserts` added or replaced, in canonical order.
pub fn merge(base: &[Entity], upserts: &[Entity], deletes: &[EntityRef]) -> Vec<Entity> {
    let mut map: BTreeMap<(usize, &str, &str), &Entity> = base
        .iter()
        .map(|e| ((rank(&e.kind), e.kind.as_str(), e.id.as_str()), e))
        .collect();
    for d in deletes {
        map.remove(&(rank(&d.kind), d.kind.as_str(), d.id.as_str()));
    }
    for e in upserts {
        map.insert((rank(&e.kind), e.kind.as_str(), e.id.as_str()), e);
    }
    map.into_values().cloned().collect()
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
        let base = vec![
            e("services", "1", "s1"),
            e("services", "2", "s2"),
            e("routes", "1", "r1"),
            e("plugins", "9", "p9"),
        ];
        let out = merge(
            &base,
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
    }
}
