//! The fast YAML reader (`declarative::yaml_fast`) against serde_yaml, the reference: on every
//! YAML file of the corpus, on the benchmark's generated decK file, and on a few thousand random
//! documents rendered by serde_yaml (plus mutations of them). Wherever the fast reader answers,
//! it must answer exactly what serde_yaml answers; wherever serde_yaml refuses, it must step
//! aside. It must also actually answer for the benchmark file and most of the corpus.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;

use control_plane::declarative::yaml_fast;
use serde_json::{Map, Value};

#[path = "../benches/common/mod.rs"]
mod common;
use common::Rng;

/// How the two readers compared on one text.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Both parsed it, to the same value.
    Fast,
    /// The fast reader stepped aside; serde_yaml parsed it.
    Fallback,
    /// serde_yaml refused it and the fast reader stepped aside.
    BothRefuse,
}

/// Compares the readers on `text`; a disagreement is returned as an error naming it.
fn compare(text: &str) -> Result<Outcome, String> {
    let fast = yaml_fast::parse(text);
    match (serde_yaml::from_str::<Value>(text), fast) {
        (Ok(slow), Some(f)) if slow == f => Ok(Outcome::Fast),
        (Ok(slow), Some(f)) => Err(format!("values differ\nfast: {f}\nserde_yaml: {slow}")),
        (Ok(_), None) => Ok(Outcome::Fallback),
        (Err(_), None) => Ok(Outcome::BothRefuse),
        (Err(e), Some(f)) => Err(format!("serde_yaml refuses ({e}) but fast gave {f}")),
    }
}

/// How many generated documents took the fast path, and every disagreement.
#[derive(Default)]
struct Tally {
    fast: usize,
    failures: Vec<String>,
}

impl Tally {
    /// Compares the readers on `text` (`label` names it in a failure).
    fn check(&mut self, label: &str, text: &str) {
        match compare(text) {
            Ok(Outcome::Fast) => self.fast += 1,
            Ok(_) => {}
            Err(e) => self.failures.push(format!("{label}{text:?}: {e}")),
        }
    }

    fn assert_agreed(&self) {
        assert!(
            self.failures.is_empty(),
            "{} disagreements:\n{}",
            self.failures.len(),
            self.failures[..self.failures.len().min(10)].join("\n\n")
        );
    }
}

#[test]
fn corpus_files_parse_like_serde_yaml() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let files = common::yaml_files(&root);
    assert!(
        files.len() >= 400,
        "corpus not found or too small at {}",
        root.display()
    );
    let (mut fast, mut fallback, mut refused, mut not_utf8) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            not_utf8 += 1;
            continue;
        };
        match compare(&text) {
            Ok(Outcome::Fast) => fast += 1,
            Ok(Outcome::Fallback) => fallback += 1,
            Ok(Outcome::BothRefuse) => refused += 1,
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    println!(
        "corpus: {} YAML files: {fast} fast, {fallback} left to serde_yaml, {refused} refused by both, {not_utf8} not UTF-8",
        files.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Observed: 538 of 564 take the fast path (the rest have multi-line scalars, duplicate keys,
    // or are empty). A reader that bails everywhere must fail here.
    assert!(fast >= 520, "only {fast} corpus files took the fast path");
}

#[test]
fn benchmark_file_takes_the_fast_path() {
    for changed in [None, Some(1234)] {
        let text = common::deck_file(5000, changed);
        let fast = yaml_fast::parse(&text).expect("the bench file is inside the subset");
        let slow: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(fast, slow);
        assert_eq!(fast["services"].as_array().map(Vec::len), Some(5000));
    }
}

const STRINGS: &[&str] = &[
    "plain",
    "yes",
    "no",
    "on",
    "True",
    "NULL",
    "~",
    "1.0",
    "1",
    "-1",
    "007",
    "0x1F",
    "1e3",
    ".inf",
    "a: b",
    "a:b",
    "#x",
    "a #b",
    "a#b",
    " lead",
    "trail ",
    "",
    "ünï",
    "-x",
    "- x",
    "[x",
    "{x}",
    "x]",
    "'q'",
    "\"dq\"",
    "it's",
    "back\\slash",
    "tab\there",
    "a\nb",
    "line\n",
    "two\n\n",
    "\n",
    " \nx",
    "x\n y\n",
    "-----BEGIN CERT-----\nMIIB\n-----END CERT-----\n",
    "é\u{e9}\u{1F600}",
    "? q",
    ": c",
    "&a",
    "*a",
    "!t",
    "%p",
    "@a",
    "`b",
    "|",
    ">",
    "/svc1",
    "http://127.0.0.1:8000/v1",
    "GET",
    "key with spaces",
    "...",
    "---",
    "=",
    "\u{a0}nb",
];

const KEYS: &[&str] = &[
    "name", "url", "routes", "paths", "config", "a b", "1", "true", "~", "x:y", "-k", "#k", "",
    "ünï", "yes", "'s'", "k ", "[k]", "null",
];

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    let roll = if depth >= 4 {
        rng.below(6)
    } else {
        rng.below(10)
    };
    match roll {
        0 | 1 => Value::String(rng.pick(STRINGS).to_string()),
        2 => match rng.below(5) {
            0 => Value::from(rng.next()),
            1 => Value::from(-(rng.below(1_000_000) as i64)),
            2 => Value::from(rng.below(100) as u64),
            3 => Value::from(rng.below(1000) as f64 / 8.0 - 60.0),
            _ => Value::from(f64::from_bits(rng.next() >> 2)),
        },
        3 => Value::Bool(rng.below(2) == 0),
        4 => Value::Null,
        5 => Value::String(format!("{}{}", rng.pick(STRINGS), rng.pick(STRINGS))),
        6 | 7 => random_map(rng, depth + 1),
        _ => {
            let n = rng.below(4);
            Value::Array((0..n).map(|_| random_value(rng, depth + 1)).collect())
        }
    }
}

fn random_map(rng: &mut Rng, depth: usize) -> Value {
    let mut map = Map::new();
    for _ in 0..rng.below(5) {
        map.insert(rng.pick(KEYS).to_string(), random_value(rng, depth));
    }
    Value::Object(map)
}

/// One small edit of `text`: a character deleted, inserted, or two lines swapped.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return text.to_string();
    }
    let at = rng.below(chars.len());
    let inserts = [
        ' ', ':', '-', '#', '\'', '"', '\n', '[', '{', '|', '\t', ',', '&', '\\',
    ];
    let mut out: Vec<char> = chars.clone();
    match rng.below(3) {
        0 => {
            out.remove(at);
        }
        1 => out.insert(at, inserts[rng.below(inserts.len())]),
        _ => {
            let mut lines: Vec<&str> = text.lines().collect();
            let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
            lines.swap(i, j);
            return lines.join("\n") + "\n";
        }
    }
    out.into_iter().collect()
}

#[test]
fn random_documents_parse_like_serde_yaml() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut docs, mut mutants) = (0, 0);
    let (mut plain, mut mutated) = (Tally::default(), Tally::default());
    for _ in 0..3000 {
        let value = if rng.below(4) == 0 {
            Value::Array((0..rng.below(4)).map(|_| random_map(&mut rng, 1)).collect())
        } else {
            random_map(&mut rng, 0)
        };
        let text = serde_yaml::to_string(&value).unwrap();
        docs += 1;
        plain.check("", &text);
        for _ in 0..4 {
            let m = mutate(&mut rng, &text);
            mutants += 1;
            mutated.check("mutant ", &m);
        }
    }
    let (fast, mutant_fast) = (plain.fast, mutated.fast);
    println!("random: {docs} documents ({fast} fast), {mutants} mutants ({mutant_fast} fast)");
    plain.assert_agreed();
    mutated.assert_agreed();
    // Observed: 2918 of 3000 documents and 6534 of 12000 mutants.
    assert!(
        fast * 10 > docs * 9,
        "only {fast} of {docs} random documents took the fast path"
    );
    assert!(
        mutant_fast * 3 > mutants,
        "only {mutant_fast} of {mutants} mutants took the fast path"
    );
}

/// Values for hand-built lines: the subset's forms, its edges, and forms it must leave alone.
const LINE_VALUES: &[&str] = &[
    "a",
    "b c",
    "1",
    "-1",
    "1.5",
    "0x1F",
    "true",
    "~",
    "null",
    "'q'",
    "'it''s'",
    "\"d\\n\"",
    "\"\\u00e9\"",
    "[a, b]",
    "[]",
    "{}",
    "{a: 1}",
    "{a: 1, b: [x]}",
    "x # c",
    "a#b",
    "|",
    "|-",
    "|+",
    ">",
    "&a x",
    "*a",
    "!t x",
    "a: b",
    "- x",
    "\"open",
    "'open",
    "[open",
    "http://x:1/",
    "-x",
    ":x",
    "?x",
    "ünï",
    "1e3",
    ".inf",
    "007",
    "[a, ]",
    "{a}",
    "[a: b]",
    "\"\\q\"",
    "x  ",
    "'a' b",
    "\"a\"#c",
    "",
];

const LINE_KEYS: &[&str] = &["a", "b", "c", "k k", "\"q\"", "'s'", "1", "-k", "a:b", "x"];

/// A document of random lines — entries, keys, comments, block-scalar bodies — at random
/// indentations: mostly invalid YAML, so it tries the reader's indentation and error paths.
fn random_lines(rng: &mut Rng) -> String {
    let mut t = String::new();
    let nl = if rng.below(10) == 0 { "\r\n" } else { "\n" };
    if rng.below(8) == 0 {
        t.push_str("---");
        t.push_str(nl);
    }
    for _ in 0..=rng.below(10) {
        let indent = [0, 0, 0, 1, 2, 2, 2, 3, 4, 4, 6][rng.below(11)];
        t.push_str(&" ".repeat(indent));
        match rng.below(10) {
            0..=2 => {
                t.push_str("- ");
                if rng.below(2) == 0 {
                    t.push_str(rng.pick(LINE_KEYS));
                    t.push_str(": ");
                }
                t.push_str(rng.pick(LINE_VALUES));
            }
            3 => t.push('-'),
            4 => t.push_str("# c"),
            5 => {}
            6 => {
                t.push_str(rng.pick(LINE_KEYS));
                t.push(':');
            }
            _ => {
                t.push_str(rng.pick(LINE_KEYS));
                t.push_str(": ");
                t.push_str(rng.pick(LINE_VALUES));
            }
        }
        if rng.below(10) == 0 {
            t.push(' ');
        }
        if rng.below(20) != 0 {
            t.push_str(nl);
        }
        let header = ["|", "|-", "|+"].iter().any(|h| t.trim_end().ends_with(h));
        if header || rng.below(6) == 0 {
            let body = indent + 1 + rng.below(3);
            for _ in 0..rng.below(4) {
                match rng.below(5) {
                    0 => {}
                    1 => t.push_str(&" ".repeat(rng.below(body + 2))),
                    2 => {
                        t.push_str(&" ".repeat(body + rng.below(2)));
                        t.push_str("# not a comment");
                    }
                    _ => {
                        t.push_str(&" ".repeat(body));
                        t.push_str(rng.pick(LINE_VALUES));
                    }
                }
                if rng.below(15) != 0 {
                    t.push_str(nl);
                }
            }
        }
    }
    t
}

#[test]
fn random_line_documents_parse_like_serde_yaml() {
    let mut rng = Rng(7);
    let mut tally = Tally::default();
    let docs = 20_000;
    for _ in 0..docs {
        tally.check("", &random_lines(&mut rng));
    }
    let fast = tally.fast;
    println!("random lines: {docs} documents ({fast} fast)");
    tally.assert_agreed();
    // Observed: about 2,000 (most of these documents are invalid YAML).
    assert!(
        fast >= 1000,
        "only {fast} of {docs} line documents took the fast path"
    );
}
