//! `POST /config`'s reuse of the last accepted document: whatever the change, a check that
//! reuses gives the config (and the errors) a full check gives.

use serde_json::{json, Value};

use super::reuse::Reuse;
use super::*;
use super::{raw_items, reuse_context, Input};

/// `from_document_reusing`, as a config and what it recorded.
fn run(
    input: Input<'_>,
    again: impl FnOnce() -> Option<Value>,
    existing: &Config,
    prev: Option<&Reuse>,
    context: &[u8],
) -> Result<(Config, Option<Reuse>), Vec<FieldError>> {
    from_document_reusing(input, again, existing, prev, context).map(|c| (c.config, c.next))
}

/// The CP's first check of `doc` (against an empty config), and what it recorded.
fn first(doc: &Value) -> (Config, Reuse) {
    let (cfg, next) = run(
        Input::Tree(doc.clone()),
        || None,
        &Config::default(),
        None,
        b"t",
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    (
        cfg,
        next.expect("a document without select tags is recorded"),
    )
}

/// Checks `doc` against `existing` reusing `prev`, as a tree and as JSON text split into its
/// items, and again without `prev`; all three must agree.
fn both(doc: &Value, existing: &Config, prev: &Reuse) -> Result<Config, Vec<String>> {
    let again = || Some(doc.clone());
    let reused = run(Input::Tree(doc.clone()), again, existing, Some(prev), b"t");
    let text = serde_json::to_string(doc).unwrap();
    let split = raw_items::split(&text, Some(prev), |d| reuse_context(b"t", d)).unwrap();
    let via_text = run(Input::Split(split), again, existing, Some(prev), b"t");
    let full = run(Input::Tree(doc.clone()), || None, existing, None, b"t");
    let text = |e: Vec<FieldError>| e.iter().map(ToString::to_string).collect::<Vec<_>>();
    match (reused, via_text, full) {
        (Ok((a, _)), Ok((b, _)), Ok((c, _))) => {
            assert_eq!(a.to_entities(), c.to_entities(), "reuse changed the config");
            assert_eq!(
                b.to_entities(),
                c.to_entities(),
                "reuse from text changed the config"
            );
            Ok(a)
        }
        (Err(a), Err(b), Err(c)) => {
            let (a, b, c) = (text(a), text(b), text(c));
            assert_eq!(a, c, "reuse changed the errors");
            assert_eq!(b, c, "reuse from text changed the errors");
            Err(a)
        }
        (a, b, c) => panic!(
            "reuse: {:?}, from text: {:?}, full: {:?}",
            a.is_ok(),
            b.is_ok(),
            c.is_ok()
        ),
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
    // Every entity is a copy, and said to be one, so the wire plan need not compare it.
    let checked =
        from_document_reusing(Input::Tree(doc), || None, &cfg, Some(&prev), b"t").unwrap();
    assert_eq!(checked.copied.len(), cfg.to_entities().len());
    assert!(checked.copied.contains(&("services", cfg.services[0].id)));
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
    let other = run(Input::Tree(base()), || None, &cfg, Some(&prev), b"other");
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
    let (_, next) = run(Input::Tree(doc), || None, &Config::default(), None, b"t").unwrap();
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
    let (out, _) = run(Input::Tree(base()), || None, &edited, Some(&prev), b"t").unwrap();
    assert_eq!(
        named(&out).unwrap().retries,
        1,
        "taken from existing, not re-read"
    );
}

/// The split of `base()` with the second service's URL changed: the first service is left
/// unparsed, the second parsed.
fn only_the_second_service_parsed(doc: &Value) {
    assert_eq!(doc["services"][0], Value::Null, "unchanged: not parsed");
    assert_eq!(doc["services"][1]["url"], "http://b2:80", "changed: parsed");
}

#[test]
fn json_text_leaves_the_unchanged_items_unparsed() {
    let (cfg, prev) = first(&base());
    let mut doc = base();
    doc["services"][1]["url"] = json!("http://b2:80");
    let text = serde_json::to_string(&doc).unwrap();
    let split = raw_items::split(&text, Some(&prev), |d| reuse_context(b"t", d)).unwrap();
    only_the_second_service_parsed(&split.doc);
    assert_eq!(split.raw.len(), 5);
    let (out, next) = run(Input::Split(split), || None, &cfg, Some(&prev), b"t").unwrap();
    assert!(
        out.services.iter().any(|s| s.host == "b2"),
        "{:?}",
        out.services
    );
    // What it records is found by the next document's text.
    let next = next.unwrap();
    let again = raw_items::split(&text, Some(&next), |d| reuse_context(b"t", d)).unwrap();
    let items = again.doc["services"].as_array().unwrap();
    assert!(items.iter().all(Value::is_null), "{items:?}");
}

#[test]
fn json_in_another_layout_is_read_whole_and_gives_the_same_config() {
    let (cfg, prev) = first(&base());
    let pretty = serde_json::to_string_pretty(&base()).unwrap();
    let split = raw_items::split(&pretty, Some(&prev), |d| reuse_context(b"t", d)).unwrap();
    assert!(split.doc["services"][0].is_object(), "other bytes: parsed");
    let (out, _) = run(Input::Split(split), || None, &cfg, Some(&prev), b"t").unwrap();
    assert_eq!(out.to_entities(), cfg.to_entities());
}

#[test]
fn text_that_is_not_a_json_document_is_left_to_the_full_reader() {
    for text in [
        "services: []",
        "{\"services\": [",
        "[1, 2]",
        "{\"config\": \"_format_version: '3.0'\"}",
        "{\"services\": [1,]}",
    ] {
        assert!(
            raw_items::split(text, None, |_| Vec::new()).is_none(),
            "{text}"
        );
    }
    // A repeated key keeps its last value, as the tree reader does.
    let text =
        r#"{"_format_version": "3.0", "services": [{"name": "x", "host": "h"}], "services": []}"#;
    let split = raw_items::split(text, None, |_| Vec::new()).unwrap();
    assert_eq!(split.doc["services"], json!([]));
    assert_eq!(
        serde_json::from_str::<Value>(text).unwrap()["services"],
        json!([])
    );
}

#[test]
fn yaml_text_leaves_the_unchanged_items_unparsed() {
    let ctx = |d: &Value| reuse_context(b"y", d);
    let text = serde_yaml::to_string(&base()).unwrap();
    let split = super::yaml_items::split(&text, None, ctx).unwrap();
    let (cfg, prev) = run(Input::Split(split), || None, &Config::default(), None, b"y").unwrap();
    let prev = prev.unwrap();
    let mut doc = base();
    doc["services"][1]["url"] = json!("http://b2:80");
    let changed = serde_yaml::to_string(&doc).unwrap();
    let split = super::yaml_items::split(&changed, Some(&prev), ctx).unwrap();
    only_the_second_service_parsed(&split.doc);
    let (out, _) = run(Input::Split(split), || None, &cfg, Some(&prev), b"y").unwrap();
    let (full, _) = run(Input::Tree(doc), || None, &cfg, None, b"y").unwrap();
    assert_eq!(out.to_entities(), full.to_entities());
}
