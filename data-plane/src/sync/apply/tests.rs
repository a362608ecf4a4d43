use super::*;
use proto::v1::{Entity, EntityRef};

fn service(n: u8, host: &str) -> Entity {
    let id = format!("00000000-0000-0000-0000-0000000000{n:02}");
    Entity {
        kind: "services".into(),
        json: format!(r#"{{"id":"{id}","host":"{host}"}}"#).into_bytes(),
        id,
    }
}

fn unknown_plugin() -> Entity {
    Entity {
        kind: "plugins".into(),
        id: "00000000-0000-0000-0000-000000000099".into(),
        json: br#"{"id":"00000000-0000-0000-0000-000000000099","name":"nope"}"#.to_vec(),
    }
}

fn snap(version: u64, entities: Vec<Entity>) -> Snapshot {
    Snapshot {
        version,
        config_hash: hash::of_entities(&entities),
        entities,
    }
}

fn applier() -> Applier {
    Applier::new(Arc::new(State::new("n".into()).unwrap()), None)
}

fn expect_ack(r: SyncRequest, version: u64) -> Ack {
    match r.kind {
        Some(sync_request::Kind::Ack(a)) if a.version == version => a,
        other => panic!("expected ACK of {version}, got {other:?}"),
    }
}

fn expect_nack(r: SyncRequest) -> Nack {
    match r.kind {
        Some(sync_request::Kind::Nack(n)) => n,
        other => panic!("expected NACK, got {other:?}"),
    }
}

#[test]
fn good_snapshot_is_acked_and_swapped_bad_one_nacked() {
    let mut a = applier();
    let first = snap(1, vec![service(1, "a")]);
    expect_ack(a.snapshot(first.clone()), 1);
    assert_eq!(a.state.runtime.load().version, 1);

    let n = expect_nack(a.snapshot(snap(2, vec![unknown_plugin()])));
    assert_eq!(n.version, 2);
    assert!(!n.resync);
    assert!(n.error.contains("nope"), "{}", n.error);
    assert_eq!(a.state.runtime.load().version, 1, "old runtime kept");

    // Same hash again: just ACK, runtime untouched.
    let mut same = first;
    same.version = 5;
    expect_ack(a.snapshot(same), 5);
    assert_eq!(a.state.runtime.load().version, 1);
    assert_eq!(a.version(), 5, "heartbeats report the version ACKed");
}

#[test]
fn delta_on_its_base_is_applied_and_checked() {
    let mut a = applier();
    let base = snap(1, vec![service(1, "a"), service(2, "b")]);
    expect_ack(a.snapshot(base.clone()), 1);
    let target = snap(2, vec![service(1, "a2"), service(3, "c")]);
    let d = Delta {
        base_version: 1,
        base_hash: base.config_hash.clone(),
        version: 2,
        config_hash: target.config_hash.clone(),
        upserts: vec![service(1, "a2"), service(3, "c")],
        deletes: vec![EntityRef {
            kind: "services".into(),
            id: service(2, "").id,
        }],
    };
    let ack = expect_ack(a.delta(d), 2);
    assert_eq!(ack.config_hash, target.config_hash);
    let rt = a.state.runtime.load();
    assert_eq!(
        (rt.version, rt.hash.as_str()),
        (2, target.config_hash.as_str())
    );
    assert_eq!(
        a.current().map(|c| c.entities.to_vec()),
        Some(target.entities)
    );
}

#[test]
fn delta_on_another_base_or_with_a_wrong_result_asks_for_a_resync() {
    let mut a = applier();
    // Nothing held yet.
    let d = Delta {
        base_version: 1,
        base_hash: "0123456789abcdef0123456789abcdef".into(),
        version: 2,
        config_hash: "fedcba9876543210fedcba9876543210".into(),
        upserts: vec![service(1, "a")],
        deletes: vec![],
    };
    assert!(expect_nack(a.delta(d.clone())).resync);

    let base = snap(1, vec![service(1, "a")]);
    expect_ack(a.snapshot(base.clone()), 1);
    let wrong_result = Delta {
        base_hash: base.config_hash.clone(),
        ..d
    };
    let n = expect_nack(a.delta(wrong_result));
    assert!(n.resync && n.error.contains("expected"), "{n:?}");
    assert_eq!(a.state.runtime.load().version, 1);
}

#[test]
fn delta_that_does_not_compile_is_nacked_and_the_old_config_kept() {
    let mut a = applier();
    let base = snap(1, vec![service(1, "a")]);
    expect_ack(a.snapshot(base.clone()), 1);
    let target = snap(2, vec![service(1, "a"), unknown_plugin()]);
    let d = Delta {
        base_version: 1,
        base_hash: base.config_hash.clone(),
        version: 2,
        config_hash: target.config_hash,
        upserts: vec![unknown_plugin()],
        deletes: vec![],
    };
    let n = expect_nack(a.delta(d));
    assert!(!n.resync && n.error.contains("nope"), "{n:?}");
    assert_eq!(a.current().map(|c| c.version), Some(1));
    assert_eq!(a.state.runtime.load().version, 1);
}

/// A DP started from its cache holds that version: a delta the CP bases on it applies. The
/// swap is of one whole runtime: a request that took the old one keeps all of it.
#[test]
fn delta_on_the_config_restored_from_the_cache_is_applied() {
    let mut a = applier();
    let cached = snap(4, vec![service(1, "a"), service(2, "b")]);
    a.restore(cached.clone()).unwrap();
    assert_eq!((a.version(), a.state.runtime.load().version), (4, 4));
    let target = snap(5, vec![service(1, "a"), service(2, "changed")]);
    let d = Delta {
        base_version: 4,
        base_hash: cached.config_hash.clone(),
        version: 5,
        config_hash: target.config_hash.clone(),
        upserts: vec![service(2, "changed")],
        deletes: vec![],
    };
    let in_flight = a.state.runtime.load_full();
    let ack = expect_ack(a.delta(d), 5);
    assert_eq!(ack.config_hash, target.config_hash);
    let now = a.state.runtime.load();
    assert_eq!(
        (now.version, now.hash.as_str()),
        (5, target.config_hash.as_str())
    );
    assert_eq!(
        (in_flight.version, in_flight.hash.as_str()),
        (4, cached.config_hash.as_str())
    );
}
