//! The YAML item splitter (`declarative::yaml_items`) against serde_yaml: wherever it splits a
//! document, the document it rebuilds from the items read one by one must be exactly what
//! serde_yaml reads from the whole text. On every YAML file of the corpus, the benchmark's decK
//! file, hand-written shapes, and a few thousand generated and mutated documents.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;

use control_plane::declarative::yaml_items;
use serde_json::{json, Value};

#[path = "../benches/common/mod.rs"]
mod common;
use common::Rng;

/// Splits `text` (nothing reused) and compares with serde_yaml; true when it split.
fn check(text: &str) -> Result<bool, String> {
    let Some(split) = yaml_items::split(text, None, |_| Vec::new()) else {
        return Ok(false);
    };
    match serde_yaml::from_str::<Value>(text) {
        Ok(whole) if whole == split.doc => Ok(true),
        Ok(whole) => Err(format!("split: {}\nwhole: {whole}", split.doc)),
        Err(e) => Err(format!(
            "serde_yaml refuses ({e}) but it split to {}",
            split.doc
        )),
    }
}

#[test]
fn corpus_files_split_to_what_serde_yaml_reads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let files = common::yaml_files(&root);
    assert!(files.len() >= 400, "corpus not found at {}", root.display());
    let (mut split, mut failures) = (0, Vec::new());
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        match check(&text) {
            Ok(true) => split += 1,
            Ok(false) => {}
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    println!("corpus: {} YAML files, {split} split", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Most decK files have a block-sequence collection; a splitter that bails everywhere fails.
    assert!(split >= 300, "only {split} corpus files split");
}

#[test]
fn the_benchmark_file_splits_into_its_services() {
    let text = common::deck_file(2000, Some(7));
    assert!(check(&text).unwrap());
    let split = yaml_items::split(&text, None, |_| Vec::new()).unwrap();
    assert_eq!(split.raw.len(), 2000);
    assert_eq!(
        split.doc["services"][7]["routes"][0]["paths"],
        json!(["/svc7-changed"])
    );
}

#[test]
fn hand_written_shapes_split_right_or_not_at_all() {
    let docs = [
        // Comments and blank lines between and inside items, a trailing comment.
        "_format_version: \"3.0\"\nservices:\n  # first\n  - name: a\n\n    url: http://a\n  # between\n  - name: b # b\n    host: b\n# end\n",
        // Items at column 0, under their key.
        "services:\n- name: a\n  host: h\n- name: b\n  host: h\n_format_version: \"3.0\"\n",
        // A block scalar inside an item, with a line that looks like an item.
        "certificates:\n  - cert: |\n      -----BEGIN-----\n      - not an item\n    key: k\n  - cert: c2\n",
        // _info and other non-collection blocks, a flow collection kept whole.
        "_info:\n  select_tags:\n    - a\n  defaults:\n    service:\n      retries: 3\nroutes: [{name: r, paths: [/r]}]\nservices:\n  - name: s\n    routes:\n      - name: r2\n        paths:\n          - /x\n",
        // Nested sequences deeper than the items.
        "consumers:\n  - username: u\n    keyauth_credentials:\n    - key: k1\n    - key: k2\n  - username: v\n",
        // CRLF line ends.
        "services:\r\n  - name: a\r\n    host: h\r\n",
        // An empty item and a scalar item.
        "services:\n  -\n  - x\n",
        // A line at an indentation that fits no item: left whole (serde_yaml refuses it).
        "services:\n    - name: a\n  - name: b\n",
        // A duplicate top-level key and a second document: left whole.
        "services:\n  - name: a\nservices:\n  - name: b\n",
        "services:\n  - name: a\n---\nservices: []\n",
        // A collection key with nothing under it.
        "services:\n_format_version: \"3.0\"\n",
        // Anchors and aliases across items: the alias cannot be read alone.
        "services:\n  - &s\n    name: a\n  - *s\n",
    ];
    let mut split = 0;
    for d in docs {
        split += usize::from(check(d).unwrap_or_else(|e| panic!("{d:?}: {e}")));
    }
    // The first six (comments, column-0 items, block scalars, blocks kept whole, nested
    // sequences, CRLF) split; the rest are read whole.
    assert_eq!(split, 6, "the plain shapes split, the others not");
}

const WORDS: &[&str] = &[
    "a",
    "yes",
    "1",
    "1.5",
    "",
    "- x",
    "a: b",
    "#c",
    "|",
    "null",
    "[x]",
    "ü",
    "two\nlines",
];

fn value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 2 { 3 } else { 5 }) {
        0 => json!(WORDS[rng.below(WORDS.len())]),
        1 => json!(rng.below(100)),
        2 => json!(rng.below(2) == 0),
        3 => (0..rng.below(3)).map(|_| value(rng, depth + 1)).collect(),
        _ => Value::Object(
            (0..rng.below(4))
                .map(|i| (format!("k{i}"), value(rng, depth + 1)))
                .collect(),
        ),
    }
}

#[test]
fn generated_and_mutated_documents_split_to_what_serde_yaml_reads() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut split, mut failures) = (0, Vec::new());
    for _ in 0..3000 {
        let mut doc = serde_json::Map::new();
        doc.insert("_format_version".into(), json!("3.0"));
        for key in ["services", "routes", "plugins", "_info"] {
            if rng.below(3) > 0 {
                // Items are maps (as entities are), now and then something else.
                let items = (0..rng.below(4))
                    .map(|_| match rng.below(8) {
                        0 => value(&mut rng, 1),
                        _ => Value::Object(
                            (0..1 + rng.below(4))
                                .map(|i| (format!("k{i}"), value(&mut rng, 2)))
                                .collect(),
                        ),
                    })
                    .collect();
                doc.insert(key.into(), Value::Array(items));
            }
        }
        let text = serde_yaml::to_string(&Value::Object(doc)).unwrap();
        // Mutations: indent or dedent a line, drop one, or add a comment line.
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let at = rng.below(lines.len().max(1));
        match rng.below(5) {
            0 if !lines.is_empty() => lines[at].insert_str(0, "  "),
            1 if !lines.is_empty() && lines[at].starts_with("  ") => {
                lines[at].replace_range(0..2, "")
            }
            2 if !lines.is_empty() => {
                lines.remove(at);
            }
            3 => lines.insert(at, "  # note".into()),
            _ => {}
        }
        let text = lines.join("\n") + "\n";
        match check(&text) {
            Ok(s) => split += usize::from(s),
            Err(e) => failures.push(format!("{text}\n{e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures, first:\n{}",
        failures.len(),
        failures[0]
    );
    // Observed: 643 of 3000 split (mutations and multi-line strings make many read whole).
    assert!(split >= 500, "only {split} generated documents split");
}
