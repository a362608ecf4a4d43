use std::collections::BTreeSet;

use proto::schema::canonical_cmp;
use proto::v1;

use super::*;
use crate::sync::delta;

fn entity(kind: &str, n: u32, body: &str) -> v1::Entity {
    v1::Entity {
        kind: kind.into(),
        id: Uuid::from_u128(u128::from(n) * 0x9E37_79B9_7F4A_7C15).to_string(),
        json: body.as_bytes().to_vec(),
    }
}

fn snap(version: u64, mut entities: Vec<v1::Entity>) -> Snapshot {
    entities.sort_by(canonical_cmp);
    let digests: Vec<[u8; 16]> = entities.iter().map(hash::digest).collect();
    Snapshot {
        version,
        hash: hash::of_digests(digests.iter().copied()),
        entities,
        digests,
        ..Default::default()
    }
}

fn services(n: u32) -> Vec<v1::Entity> {
    (0..n).map(|i| entity("services", i, "s")).collect()
}

/// What a delta does, comparable whatever the order: (kind, id, bytes) upserted, (kind, id)
/// deleted.
type Effect = (
    BTreeSet<(String, String, Vec<u8>)>,
    BTreeSet<(String, String)>,
);

fn effect(d: &Delta) -> Effect {
    (
        d.upserts
            .iter()
            .map(|e| (e.kind.clone(), e.id.clone(), e.json.clone()))
            .collect(),
        d.deletes
            .iter()
            .map(|r| (r.kind.clone(), r.id.clone()))
            .collect(),
    )
}

/// Versions 1..=5 of a 40-service config, each with one change of another sort.
fn versions() -> Vec<Snapshot> {
    let mut cur = services(40);
    let mut out = vec![snap(1, cur.clone())];
    cur[3].json = b"changed".to_vec();
    out.push(snap(2, cur.clone()));
    cur.remove(7);
    out.push(snap(3, cur.clone()));
    cur.push(entity("routes", 1000, "r"));
    out.push(snap(4, cur.clone()));
    // Back to its first bytes: no change for a DP that held version 1.
    cur[3].json = b"s".to_vec();
    cur.push(entity("plugins", 2000, "p"));
    out.push(snap(5, cur));
    out
}

#[test]
fn a_delta_from_any_remembered_version_is_the_one_between_the_full_snapshots() {
    let all = versions();
    let mut h = History::default();
    for s in &all {
        h.observe(s);
    }
    assert_eq!(h.versions(), vec![1, 2, 3, 4]);
    let last = all.last().unwrap();
    for old in &all[..all.len() - 1] {
        let got = h.delta_from(&old.hash, last).unwrap();
        let want = delta::between(old, last).unwrap();
        assert_eq!(effect(&got), effect(&want), "from version {}", old.version);
        assert_eq!(
            (got.base_version, got.base_hash.as_str()),
            (old.version, old.hash.as_str())
        );
        assert_eq!(
            (got.version, got.config_hash.as_str()),
            (5, last.hash.as_str())
        );
    }
    // From version 1: the service changed and changed back is not sent.
    let from_first = h.delta_from(&all[0].hash, last).unwrap();
    assert_eq!(from_first.upserts.len(), 2, "{from_first:?}");
    assert_eq!(from_first.deletes.len(), 1);
    // Applied to version 1, it gives version 5's hash.
    let mut applied: Vec<v1::Entity> = all[0]
        .entities
        .iter()
        .filter(|e| {
            !from_first
                .deletes
                .iter()
                .any(|d| d.kind == e.kind && d.id == e.id)
        })
        .filter(|e| {
            !from_first
                .upserts
                .iter()
                .any(|u| u.kind == e.kind && u.id == e.id)
        })
        .cloned()
        .collect();
    applied.extend(from_first.upserts.iter().cloned());
    applied.sort_by(canonical_cmp);
    assert_eq!(hash::of_entities(&applied), last.hash);
}

#[test]
fn unknown_versions_stale_snapshots_and_other_targets_get_no_delta() {
    let all = versions();
    let mut h = History::default();
    for s in &all {
        h.observe(s);
    }
    let last = &all[4];
    assert!(h
        .delta_from("0123456789abcdef0123456789abcdef", last)
        .is_none());
    // A stream's stale copy of version 3 changes nothing, and is no target.
    h.observe(&all[2]);
    assert_eq!(h.versions(), vec![1, 2, 3, 4]);
    assert!(h.delta_from(&all[0].hash, &all[2]).is_none());
    assert!(h.delta_from(&all[0].hash, last).is_some());
    // The same content republished under a later version: deltas name that version.
    let again = Snapshot {
        version: 6,
        ..last.clone()
    };
    assert_eq!(h.delta_from(&all[0].hash, &again).unwrap().version, 6);
}

#[test]
fn the_memory_is_bounded_in_versions_and_by_large_changes() {
    let mut cur = services(100);
    let mut h = History::default();
    for v in 1..=20u32 {
        cur[v as usize].json = format!("v{v}").into_bytes();
        h.observe(&snap(u64::from(v), cur.clone()));
    }
    assert_eq!(h.versions(), (12..=19).collect::<Vec<u64>>());
    assert_eq!(h.versions().len(), MAX_VERSIONS);
    // Replacing most of the config: no earlier version can get a smaller delta.
    let replaced: Vec<v1::Entity> = (500..600).map(|i| entity("services", i, "n")).collect();
    h.observe(&snap(21, replaced.clone()));
    assert!(h.versions().is_empty());
    let mut next = replaced;
    next[0].json = b"x".to_vec();
    let next = snap(22, next);
    h.observe(&next);
    assert_eq!(h.versions(), vec![21]);
}

#[test]
fn ids_that_are_not_canonical_uuids_read_back_as_they_were() {
    let odd = v1::Entity {
        kind: "services".into(),
        id: "ABC-not-a-uuid".into(),
        json: b"o".to_vec(),
    };
    let upper = v1::Entity {
        kind: "routes".into(),
        id: "6F9619FF-8B86-D011-B42D-00C04FC964FF".into(),
        json: b"u".to_vec(),
    };
    let mut base = services(10);
    base.extend([odd.clone(), upper.clone()]);
    let old = snap(1, base.clone());
    let new = snap(2, base[..10].to_vec());
    let mut h = History::default();
    h.observe(&old);
    h.observe(&new);
    let d = h.delta_from(&old.hash, &new).unwrap();
    let gone: BTreeSet<(String, String)> = d
        .deletes
        .iter()
        .map(|r| (r.kind.clone(), r.id.clone()))
        .collect();
    assert_eq!(
        gone,
        [(odd.kind, odd.id), (upper.kind, upper.id)]
            .into_iter()
            .collect()
    );
    assert!(Key::of("no_such_kind", "x").is_none());
}

/// 30,000 entities (as the CP's memory goal measures) and eight one-entity changes.
#[test]
fn thirty_thousand_entities_cost_under_two_megabytes() {
    let kinds = ["services", "routes", "plugins"];
    let mut cur: Vec<v1::Entity> = (0..30_000u32)
        .map(|i| entity(kinds[(i % 3) as usize], i, "{}"))
        .collect();
    let mut h = History::default();
    for v in 1..=9u32 {
        cur[v as usize].json = format!("{{\"v\":{v}}}").into_bytes();
        h.observe(&snap(u64::from(v), cur.clone()));
    }
    assert_eq!(h.versions().len(), MAX_VERSIONS);
    let bytes = h.heap_bytes();
    println!("history of 30,000 entities and {MAX_VERSIONS} versions: {bytes} bytes");
    assert!(bytes < 2 * 1024 * 1024, "{bytes} bytes");
}
