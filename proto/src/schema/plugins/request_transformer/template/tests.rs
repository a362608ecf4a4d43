//! Template parsing and rendering, form by form.

use super::*;

fn name(s: &str) -> Key {
    Key::Name(s.into())
}

#[test]
fn each_lookup_form_parses() {
    let t = parse("/v2/$(uri_captures.user)/x").unwrap();
    assert_eq!(
        t.0,
        vec![
            Piece::Text("/v2/".into()),
            Piece::Expr(vec![Operand::Lookup(Source::UriCaptures, name("user"))]),
            Piece::Text("/x".into()),
        ]
    );
    for (src, want) in [
        (
            "$(headers.x_a)",
            Operand::Lookup(Source::Headers, name("x_a")),
        ),
        (
            "$(headers[\"x-y\"])",
            Operand::Lookup(Source::Headers, name("x-y")),
        ),
        (
            "$(headers['x-y'])",
            Operand::Lookup(Source::Headers, name("x-y")),
        ),
        (
            "$(query_params.z)",
            Operand::Lookup(Source::QueryParams, name("z")),
        ),
        (
            "$(uri_captures[0])",
            Operand::Lookup(Source::UriCaptures, Key::Index(0)),
        ),
        (
            "$( uri_captures[\"name\"] )",
            Operand::Lookup(Source::UriCaptures, name("name")),
        ),
    ] {
        assert_eq!(
            parse(src).unwrap().0,
            vec![Piece::Expr(vec![want])],
            "{src}"
        );
    }
}

#[test]
fn or_fallbacks_literals_and_escapes() {
    let t = parse("$(query_params.v or headers.v or 'none')").unwrap();
    let mut nothing = |_: Source, _: &Key| None;
    assert_eq!(t.render(&mut nothing), "none");
    let mut header = |s: Source, _: &Key| (s == Source::Headers).then(|| "h".to_string());
    assert_eq!(t.render(&mut header), "h");
    // Kong's way to keep `$(…)` literally: a string expression.
    let t = parse("$('$(uri_captures.user1)')").unwrap();
    assert_eq!(t.render(&mut nothing), "$(uri_captures.user1)");
    // A missing value renders as "".
    assert_eq!(parse("a$(headers.x)b").unwrap().render(&mut nothing), "ab");
    // An unclosed `$(` is text.
    assert_eq!(parse("a$(b").unwrap().0, vec![Piece::Text("a$(b".into())]);
    assert!(t.reads(Source::UriCaptures) || !t.reads(Source::Headers));
    assert!(parse("$(uri_captures[1])")
        .unwrap()
        .reads(Source::UriCaptures));
}

#[test]
fn malformed_and_unsupported_templates_are_refused_by_name() {
    for (src, says) in [
        ("$(uri_captures user2)", "must read one field"),
        ("$()", "empty expression"),
        ("$(headers)", "must read one field"),
        ("$(headers.)", "must read one field"),
        ("$(headers['x')", "missing ']'"),
        ("$(headers['x)", "unfinished string"),
        ("$(10 * uri_captures.user1)", "unexpected '*'"),
        ("$(type(headers.x))", "unexpected '('"),
        ("$(ERROR)", "unknown name 'ERROR'"),
        ("$(shared.version)", "unknown name 'shared'"),
        ("$(headers.a.b)", "nested lookups"),
        ("$(headers.x or)", "missing operand"),
    ] {
        let e = parse(src).unwrap_err().0;
        assert!(e.contains(says), "{src}: {e}");
    }
}
