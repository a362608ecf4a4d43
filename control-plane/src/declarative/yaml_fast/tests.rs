//! Snippets compared with serde_yaml, the reference: a `Some` must equal its value, and whatever
//! serde_yaml refuses must come back `None`.

use serde_json::{json, Value};

use super::parse;

/// Fast and serde_yaml agree (or the fast reader stepped aside); returns the fast result.
fn agree(text: &str) -> Option<Value> {
    let fast = parse(text);
    match serde_yaml::from_str::<Value>(text) {
        Ok(slow) => {
            if let Some(f) = &fast {
                assert_eq!(f, &slow, "fast reader differs on {text:?}");
            }
        }
        Err(e) => assert!(
            fast.is_none(),
            "serde_yaml refuses {text:?} ({e}), fast: {fast:?}"
        ),
    }
    fast
}

/// The fast reader handles `text` and agrees with serde_yaml.
#[track_caller]
fn fast(text: &str) -> Value {
    match agree(text) {
        Some(v) => v,
        None => panic!("fast reader bailed on {text:?}"),
    }
}

/// The fast reader leaves `text` to serde_yaml.
#[track_caller]
fn bails(text: &str) {
    assert_eq!(agree(text), None, "expected a bail on {text:?}");
}

#[test]
fn numbers_resolve_like_serde_yaml() {
    assert_eq!(fast("a: 123\n"), json!({"a": 123}));
    assert_eq!(fast("a: \"123\"\n"), json!({"a": "123"}));
    assert_eq!(fast("a: '123'\n"), json!({"a": "123"}));
    assert_eq!(fast("a: 1.5\n"), json!({"a": 1.5}));
    assert_eq!(fast("a: -1\n"), json!({"a": -1}));
    assert_eq!(fast("a: -0\n"), json!({"a": 0}));
    assert_eq!(fast("a: +7\n"), json!({"a": 7}));
    assert_eq!(fast("a: 0x1F\n"), json!({"a": 31}));
    assert_eq!(fast("a: 0o17\n"), json!({"a": 15}));
    assert_eq!(fast("a: 1e3\n"), json!({"a": 1000.0}));
    assert_eq!(fast("a: 007\n"), json!({"a": "007"}));
    assert_eq!(fast("a: 1_000\n"), json!({"a": "1_000"}));
    assert_eq!(fast("a: 10.0.0.1\n"), json!({"a": "10.0.0.1"}));
    assert_eq!(fast("a: 3.0\n"), json!({"a": 3.0}));
    assert_eq!(fast("a: 18446744073709551615\n"), json!({"a": u64::MAX}));
    assert_eq!(fast("a: -9223372036854775808\n"), json!({"a": i64::MIN}));
    // serde_json cannot hold these: serde_yaml's own answer (an error, a null) is kept.
    bails("a: 99999999999999999999\n");
    bails("a: .inf\n");
    bails("a: .nan\n");
}

#[test]
fn null_and_bool_spellings() {
    for t in ["true", "True", "TRUE"] {
        assert_eq!(fast(&format!("a: {t}\n")), json!({"a": true}));
    }
    for f in ["false", "False", "FALSE"] {
        assert_eq!(fast(&format!("a: {f}\n")), json!({"a": false}));
    }
    for n in ["null", "Null", "NULL", "~", ""] {
        assert_eq!(fast(&format!("a: {n}\n")), json!({"a": null}));
    }
    // YAML 1.2: these are strings.
    for s in ["yes", "no", "on", "off", "tRUE", "nul", "y", "n"] {
        assert_eq!(fast(&format!("a: {s}\n")), json!({"a": s}));
    }
    assert_eq!(fast("a:\nb: 1\n"), json!({"a": null, "b": 1}));
    assert_eq!(fast("a: # nothing\nb: x\n"), json!({"a": null, "b": "x"}));
}

#[test]
fn keys_are_raw_strings() {
    assert_eq!(
        fast("1: a\ntrue: b\n~: c\n"),
        json!({"1": "a", "true": "b", "~": "c"})
    );
    assert_eq!(
        fast("key with spaces: v\n"),
        json!({"key with spaces": "v"})
    );
    assert_eq!(
        fast("\"quoted key\": v\n'it''s': w\n"),
        json!({"quoted key": "v", "it's": "w"})
    );
    assert_eq!(fast("a:b: c\n"), json!({"a:b": "c"}));
    assert_eq!(fast("k : v\n"), json!({"k": "v"}));
    // serde_yaml applies no merge keys when deserializing into a serde_json::Value.
    assert_eq!(fast("<<: x\n"), json!({"<<": "x"}));
    assert_eq!(fast("\"\": empty key\n"), json!({"": "empty key"}));
}

#[test]
fn comments_hashes_and_spaces() {
    assert_eq!(fast("a: \"x # y\" # c\n"), json!({"a": "x # y"}));
    assert_eq!(fast("a: a#b\n"), json!({"a": "a#b"}));
    assert_eq!(fast("a: b # c\n"), json!({"a": "b"}));
    assert_eq!(fast("a: b   \nc: d  \n"), json!({"a": "b", "c": "d"}));
    assert_eq!(
        fast("# top\n\na: 1 # one\n  # indented comment\nb: 2\n"),
        json!({"a": 1, "b": 2})
    );
    assert_eq!(fast("a: foo[1]{x},y\n"), json!({"a": "foo[1]{x},y"}));
    assert_eq!(
        fast("a: http://x:80/p?q=1&r=*\n"),
        json!({"a": "http://x:80/p?q=1&r=*"})
    );
    assert_eq!(fast("a: -x\nb: ---\n"), json!({"a": "-x", "b": "---"}));
    assert_eq!(fast("a: ünï ✓\n"), json!({"a": "ünï ✓"}));
    bails("a: \"x\"y\n");
    bails("a: \"x\"#y\n");
}

#[test]
fn quoted_scalars_and_escapes() {
    assert_eq!(fast("a: 'it''s'\n"), json!({"a": "it's"}));
    assert_eq!(fast("a: ''\nb: \"\"\n"), json!({"a": "", "b": ""}));
    assert_eq!(
        fast(r#"a: "q\" b\\ s\/ n\n t\t u\u00e9 x\x41 U\U0001F600 0\0 e\e _\_ N\N""#),
        json!({"a": "q\" b\\ s/ n\n t\t u\u{e9} xA U\u{1F600} 0\0 e\x1b _\u{a0} N\u{85}"})
    );
    assert_eq!(fast("a: 'a \\n b'\n"), json!({"a": "a \\n b"}));
    assert_eq!(fast("a: \"tab\tinside\"\n"), json!({"a": "tab\tinside"}));
    bails("a: \"\\q\"\n");
    bails("a: \"\\uD800\"\n");
    bails("a: \"\\u12\"\n");
    bails("a: \"multi\n  line\"\n");
    bails("a: 'multi\n  line'\n");
}

#[test]
fn line_endings_and_documents() {
    assert_eq!(fast("a: 1\r\nb:\r\n  - x\r\n"), json!({"a": 1, "b": ["x"]}));
    assert_eq!(fast("---\na: 1\n"), json!({"a": 1}));
    assert_eq!(fast("# c\n--- # start\na: 1"), json!({"a": 1}));
    bails("a: 1\r");
    bails("a: 1\rb: 2\n");
    bails("");
    bails("# only a comment\n");
    bails("---\na: 1\n---\nb: 2\n");
    bails("a: 1\n...\n");
    bails("--- {a: 1}\n");
    bails("\u{feff}a: 1\n");
    bails("a: \u{85}\n");
    bails("just a scalar\n");
    bails("%YAML 1.2\n---\na: 1\n");
}

#[test]
fn nesting_by_indentation() {
    let text =
        "a:\n  b:\n    c: 1\n  d:\n  - x\n  - y: 2\n    z: 3\n  -\n  - - n1\n    - n2\ne: f\n";
    assert_eq!(
        fast(text),
        json!({"a": {"b": {"c": 1}, "d": ["x", {"y": 2, "z": 3}, null, ["n1", "n2"]]}, "e": "f"})
    );
    assert_eq!(
        fast("- a\n-\n- # c\n  k: v\n"),
        json!(["a", null, {"k": "v"}])
    );
    assert_eq!(fast("-   a: 1\n    b: 2\n"), json!([{"a": 1, "b": 2}]));
    assert_eq!(fast("  a: 1\n  b: 2\n"), json!({"a": 1, "b": 2}));
    assert_eq!(fast("a:\n- 1\nb:\n  - 2\n"), json!({"a": [1], "b": [2]}));
    assert_eq!(fast("- a:\n  - 1\n  b: 2\n"), json!([{"a": [1], "b": 2}]));
    assert_eq!(fast("a:\n\n\n  b: 1\n"), json!({"a": {"b": 1}}));
}

#[test]
fn errors_and_odd_forms_bail() {
    bails("a: b: c\n");
    bails("a: 1\na: 2\n");
    bails("a:\n  b: 1\n  b: 2\n");
    bails("a: {x: 1, x: 2}\n");
    bails("a: 1\n b: 2\n");
    bails("a:\n    b: 1\n  c: 2\n");
    bails("a:\n  - x\n  b: 1\n");
    bails("a: x\n  continued\n");
    bails("- a\n  - b\n");
    bails("a: 1\n- b\n");
    bails("a: &anchor 1\nb: *anchor\n");
    bails("a: !!str 1\n");
    bails("? complex\n: value\n");
    bails("a: >\n  folded\n");
    bails("a:\n\t- x\n");
    bails("a:\tb\n");
    bails("a: - b\n");
    bails("a: @x\n");
    bails("a: `x\n");
    bails("a: [1,\n  2]\n");
    bails("a: [1, 2]]\n");
    bails("[a]: b\n");
    bails("a: [x: y]\n");
    bails("a: {b}\n");
    bails("a: [1, 2,]\n");
}

#[test]
fn flow_collections_on_one_line() {
    assert_eq!(fast("a: []\nb: {}\n"), json!({"a": [], "b": {}}));
    assert_eq!(
        fast("a: [x, \"y\", 'z', 1, 1.5, null, true]\n"),
        json!({"a": ["x", "y", "z", 1, 1.5, null, true]})
    );
    assert_eq!(
        fast("a: {name: x, n: 2, \"q\": [1, {b: c}]} # c\n"),
        json!({"a": {"name": "x", "n": 2, "q": [1, {"b": "c"}]}})
    );
    assert_eq!(fast("a: [/p1, /p2]\n"), json!({"a": ["/p1", "/p2"]}));
    assert_eq!(
        fast("a: [http://x, a:b]\n"),
        json!({"a": ["http://x", "a:b"]})
    );
    assert_eq!(fast("- [a, [b, []]]\n"), json!([["a", ["b", []]]]));
    assert_eq!(fast("{}\n"), json!({}));
    assert_eq!(fast("# c\n[a, {b: c}] # c\n"), json!(["a", {"b": "c"}]));
    bails("{a: 1}\nb: 2\n");
    bails("{a: 1}: b\n");
    assert_eq!(fast("a: [ -1 , -x ]\n"), json!({"a": [-1, "-x"]}));
}

#[test]
fn literal_block_scalars() {
    assert_eq!(fast("a: |\n  x\n  y\n"), json!({"a": "x\ny\n"}));
    assert_eq!(fast("a: |\n  x\n\n\nb: 1\n"), json!({"a": "x\n", "b": 1}));
    assert_eq!(fast("a: |-\n  x\n\n"), json!({"a": "x"}));
    assert_eq!(
        fast("a: |+\n  x\n\n\nb: 1\n"),
        json!({"a": "x\n\n\n", "b": 1})
    );
    assert_eq!(fast("a: |\n  x"), json!({"a": "x"}));
    assert_eq!(fast("a: |+\n  x"), json!({"a": "x"}));
    assert_eq!(
        fast("a: | # c\n    x\n     indented # not a comment\n\n    y\n# c\nb: |\n  z\n"),
        json!({"a": "x\n indented # not a comment\n\ny\n", "b": "z\n"})
    );
    assert_eq!(
        fast("- |\n -----BEGIN-----\n abc\n -----END-----\n- x\n"),
        json!(["-----BEGIN-----\nabc\n-----END-----\n", "x"])
    );
    assert_eq!(
        fast("- k: |\n    x\n  j: 1\n"),
        json!([{"k": "x\n", "j": 1}])
    );
    assert_eq!(fast("a: |\r\n  x\r\n  y\r\n"), json!({"a": "x\ny\n"}));
    bails("a: |2\n   x\n");
    bails("a: |\n\n  x\n");
    bails("a: |\nb: 1\n");
    bails("a: |\n  x\n   \n  y\n");
    bails("a: |\n    x\n  y\n");
    bails("- k: |\n  x\n");
}

#[test]
fn deep_nesting_bails() {
    let mut text = String::new();
    for i in 0..100 {
        text.push_str(&" ".repeat(i));
        text.push_str("k:\n");
    }
    bails(&text);
    let flow = format!("a: {}{}\n", "[".repeat(40), "]".repeat(40));
    bails(&flow);
}
