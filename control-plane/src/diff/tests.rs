//! The diff's tests: decK's names for changes, timestamps, and the walk over canonical lists
//! against the map-based comparison.

use super::*;

fn e(kind: &str, id: &str, json: &str) -> v1::Entity {
    v1::Entity {
        kind: kind.into(),
        id: id.into(),
        json: json.as_bytes().to_vec(),
    }
}

#[test]
fn creates_updates_deletes_named_like_deck() {
    let old = vec![
        e(
            "services",
            "s1",
            r#"{"name":"svc1","port":80,"created_at":1}"#,
        ),
        e("plugins", "p1", r#"{"name":"key-auth","service":null}"#),
    ];
    let new = vec![
        e(
            "services",
            "s1",
            r#"{"name":"svc1","port":8080,"created_at":null}"#,
        ),
        e("routes", "r1", r#"{"name":"r1","service":{"id":"s1"}}"#),
        e(
            "plugins",
            "p2",
            r#"{"name":"prometheus","service":{"id":"s1"}}"#,
        ),
    ];
    let c = compute(&old, &new);
    assert_eq!(c.updating[0].name, "svc1");
    let created: Vec<_> = c
        .creating
        .iter()
        .map(|c| format!("{} {}", c.kind, c.name))
        .collect();
    assert_eq!(created, ["route r1", "plugin prometheus for service svc1"]);
    assert_eq!(c.deleting[0].name, "key-auth (global)");
}

#[test]
fn timestamps_alone_are_no_change() {
    let old = vec![e(
        "services",
        "s1",
        r#"{"name":"a","created_at":5,"updated_at":6}"#,
    )];
    let new = vec![e(
        "services",
        "s1",
        r#"{"name":"a","created_at":null,"updated_at":null}"#,
    )];
    assert!(compute(&old, &new).is_empty());
}

#[test]
fn configs_in_canonical_order_diff_as_unordered_lists_do() {
    // Services s0..s9 with routes; the new config drops some, changes some, adds some.
    let svc = |i: usize, port: u16| {
        e(
            "services",
            &format!("s{i:02}"),
            &format!(r#"{{"name":"svc{i}","port":{port}}}"#),
        )
    };
    let route = |i: usize| {
        e(
            "routes",
            &format!("r{i:02}"),
            &format!(r#"{{"name":"r{i}","service":{{"id":"s{i:02}"}}}}"#),
        )
    };
    let old: Vec<_> = (0..10)
        .map(|i| svc(i, 80))
        .chain((0..10).map(route))
        .collect();
    let new: Vec<_> = (2..12)
        .map(|i| svc(i, if i % 3 == 0 { 81 } else { 80 }))
        .chain((0..12).filter(|i| i % 4 != 1).map(route))
        .collect();
    assert!(canonical(old.iter()) && canonical(new.iter()));
    let walked = compute(&old, &new);
    // The same lists out of order take the other path; the changes must be the same.
    let mut shuffled = new.clone();
    shuffled.swap(0, 5);
    assert!(!canonical(shuffled.iter()));
    let mapped = compute(&old, &shuffled);
    let names = |c: &[Change]| {
        let mut v: Vec<_> = c.iter().map(|c| format!("{} {}", c.kind, c.name)).collect();
        v.sort();
        v
    };
    assert_eq!(names(&walked.creating), names(&mapped.creating));
    assert_eq!(names(&walked.updating), names(&mapped.updating));
    assert_eq!(
        walked.deleting, mapped.deleting,
        "deletes in reverse order either way"
    );
    assert_eq!(
        names(&walked.updating),
        ["service svc3", "service svc6", "service svc9"]
    );
    assert_eq!(
        names(&walked.deleting),
        [
            "route r1",
            "route r5",
            "route r9",
            "service svc0",
            "service svc1"
        ]
    );
    assert_eq!(
        names(&walked.creating),
        ["route r10", "route r11", "service svc10", "service svc11"]
    );
    // Shared entities (the published snapshot's own) are not compared at all.
    let refs: Vec<&v1::Entity> = old.iter().collect();
    assert!(compute(&old, &refs).is_empty());
}
