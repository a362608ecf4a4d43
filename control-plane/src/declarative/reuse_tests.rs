//! `POST /config`'s reuse of the last accepted document: whatever the change, a check that
//! reuses gives the config (and the errors) a full check gives.

use serde_json::{json, Value};

use super::reuse::Reuse;
use super::*;

/// The CP's first check of `doc` (against an empty config), and what it recorded.
fn first(doc: &Value) -> (Config, Reuse) {
    let (cfg, next) = from_document_reusing(doc.clone(), || None, &Config::default(), None, b"t")
        .unwrap_or_else(|e| panic!("{e:?}"));
    (
        cfg,
        next.expect("a document without select tags is recorded"),
    )
}

/// Checks `doc` against `existing` reusing `prev`, and again without it; both must agree.
fn both(doc: &Value, existing: &Config, prev: &Reuse) -> Result<Config, Vec<String>> {
    let again = || Some(doc.clone());
    let reused = from_document_reusing(doc.clone(), again, existing, Some(prev), b"t");
    let full = from_document_reusing(doc.clone(), || None, existing, None, b"t");
    match (reused, full) {
        (Ok((a, _)), Ok((b, _))) => {
            assert_eq!(a.to_entities(), b.to_entities(), "reuse changed the config");
            Ok(a)
        }
        (Err(a), Err(b)) => {
            let text = |e: Vec<FieldError>| e.iter().map(ToString::to_string).collect::<Vec<_>>();
            let (a, b) = (text(a), text(b));
            assert_eq!(a, b, "reuse changed the errors");
            Err(a)
        }
        (a, b) => panic!("reuse: {:?}, full: {:?}", a.is_ok(), b.is_ok()),
    }
}

fn base() -> Value {
    json!({
        "_format_version": "3.0",
        "services": [
            {"name": "a", "url": "http://a:80", "routes": [{"name": "ra", "paths": ["/a"]}],
             "plugins": [{"name": "key-auth"}]},
            {"name": "b", "url": "http://b:80"},
        ],
        "routes": [{"name": "rb", "paths": ["/b"], "service": "b"}],
        "consumers": [{"username": "u", "keyauth_credentials": [{"key": "k1"}]}],
        "plugins": [{"name": "cors", "route": "rb"}],
    })
}

#[test]
fn an_unchanged_document_reuses_every_item_and_gives_the_same_config() {
    let doc = base();
    let (cfg, prev) = first(&doc);
    assert_eq!(prev.len(), 5, "one entry per top-level item");
    let again = both(&doc, &cfg, &prev).unwrap();
    assert_eq!(again.to_entities(), cfg.to_entities());
}

#[test]
fn changes_to_items_give_what_a_full_check_gives() {
    let (cfg, prev) = first(&base());
    let mut changed = base();
    changed["services"][0]["routes"][0]["paths"] = json!(["/a2"]);
    let out = both(&changed, &cfg, &prev).unwrap();
    assert_eq!(
        out.routes
            .iter()
            .filter(|r| format!("{:?}", r.paths).contains("/a2"))
            .count(),
        1
    );
    // Items moved, removed and added.
    let mut moved = base();
    let svcs = moved["services"].as_array_mut().unwrap();
    svcs.swap(0, 1);
    svcs.push(json!({"name": "c", "url": "http://c:80"}));
    moved["consumers"] = json!([]);
    let out = both(&moved, &cfg, &prev).unwrap();
    assert_eq!(out.services.len(), 3);
    assert!(out.consumers.is_empty() && out.keyauth_credentials.is_empty());
}

#[test]
fn a_renamed_service_breaks_the_unchanged_route_that_names_it() {
    let (cfg, prev) = first(&base());
    // The top-level route `rb` is byte for byte the same, but `b` is now another service.
    let mut doc = base();
    doc["services"][1] = json!({"name": "b", "url": "http://other:80", "id": "6b1f4a08-3e34-4b6d-9f4b-5c1e0f0a7d11"});
    let out = both(&doc, &cfg, &prev).unwrap();
    let rb = out
        .routes
        .iter()
        .find(|r| r.name.as_deref() == Some("rb"))
        .unwrap();
    assert_eq!(
        rb.service.map(|s| s.id.to_string()).as_deref(),
        Some("6b1f4a08-3e34-4b6d-9f4b-5c1e0f0a7d11")
    );
    // And when the service it names is gone, the reference is reported at its place.
    let mut gone = base();
    gone["services"].as_array_mut().unwrap().pop();
    let errs = both(&gone, &cfg, &prev).unwrap_err();
    assert!(
        errs.iter().any(|e| e.starts_with("routes[0].service")),
        "{errs:?}"
    );
}

#[test]
fn a_duplicate_of_an_unchanged_item_is_reported_as_a_full_check_does() {
    let (cfg, prev) = first(&base());
    let mut doc = base();
    doc["services"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "a", "url": "http://dup:80"}));
    let errs = both(&doc, &cfg, &prev).unwrap_err();
    assert!(errs.iter().any(|e| e.contains("services[")), "{errs:?}");
}

#[test]
fn another_context_or_info_reads_every_item_again() {
    let (cfg, prev) = first(&base());
    // Another reading of scalars: nothing is reused (the entries are keyed by context).
    let other = from_document_reusing(base(), || None, &cfg, Some(&prev), b"other");
    let (out, next) = other.unwrap();
    assert_eq!(out.to_entities(), cfg.to_entities());
    assert_eq!(next.unwrap().len(), 5);
    // `_info.defaults` apply to every service: the unchanged items take them.
    let mut doc = base();
    doc["_info"] = json!({"defaults": {"service": {"retries": 9}}});
    let out = both(&doc, &cfg, &prev).unwrap();
    assert!(
        out.services.iter().all(|s| s.retries == 9),
        "{:?}",
        out.services
    );
}

#[test]
fn select_tags_are_never_reused_from() {
    let mut doc = base();
    doc["_info"] = json!({"select_tags": ["t"]});
    let (_, next) = from_document_reusing(doc, || None, &Config::default(), None, b"t").unwrap();
    assert!(
        next.is_none(),
        "entities outside the tags are kept, not from the document"
    );
}

#[test]
fn reused_entities_come_from_the_existing_config() {
    // The caller passes the last check only while the config it produced is the published
    // one (same version); this shows why: entries point into `existing`.
    let (cfg, prev) = first(&base());
    let mut edited = cfg.clone();
    let named = |c: &Config| {
        c.services
            .iter()
            .find(|s| s.name.as_deref() == Some("a"))
            .cloned()
    };
    if let Some(s) = edited
        .services
        .iter_mut()
        .find(|s| s.name.as_deref() == Some("a"))
    {
        s.retries = 1;
    }
    let (out, _) = from_document_reusing(base(), || None, &edited, Some(&prev), b"t").unwrap();
    assert_eq!(
        named(&out).unwrap().retries,
        1,
        "taken from existing, not re-read"
    );
}
