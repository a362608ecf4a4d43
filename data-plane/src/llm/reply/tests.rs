//! The fast read against the `Value` reading it stands for: equal whenever it answers, and
//! answering for the usual replies; over hand-picked bodies (escapes, nesting, whitespace,
//! numbers, invalid JSON) and every one-byte mutation of them.

use super::*;
use crate::llm::{mcp, openai};
use serde_json::Value;

/// The `Value` reading the fast one stands for (`None`: not JSON, or MCP items, which the
/// caller reads from the `Value`).
fn slow(body: &[u8]) -> Option<Observed> {
    let v: Value = serde_json::from_slice(body).ok()?;
    if !mcp::McpItem::from_response(&v).is_empty() {
        return None;
    }
    Some(Observed {
        usage: openai::usage(&v),
        model: v["model"].as_str().map(str::to_string),
    })
}

/// The fast read answers only what the `Value` reading says.
fn agrees(body: &[u8]) -> bool {
    match observe(body) {
        None => true,
        fast => fast == slow(body),
    }
}

/// Replies the fast read answers itself.
const USUAL: [&str; 9] = [
    r#"{"id":"r","object":"response","model":"gpt-4o","output":[{"type":"message","content":[{"type":"output_text","text":"hi","annotations":[]}]}],"usage":{"input_tokens":12,"output_tokens":8,"total_tokens":20}}"#,
    r#"{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"a \"quoted\" line\nnext \u00e9 \/ \\","refusal":null},"logprobs":null,"finish_reason":"stop"}],"model":"gpt-4o-mini","usage":{"prompt_tokens":25,"completion_tokens":12,"total_tokens":37,"prompt_tokens_details":{"cached_tokens":0}},"system_fingerprint":"fp"}"#,
    "{\n  \"model\" : \"m\" ,\n\t\"usage\":{ \"prompt_tokens\" : 3 , \"completion_tokens\":4 }\r\n}\n",
    r#"{"usage":null,"model":null}"#,
    r#"{"usage":{"prompt_tokens":null,"input_tokens":3,"extra":{"a":[1,2,-3.5,0,true,false,null,{}]}}}"#,
    r#"{"data":[{"embedding":[0.1,-0.2,3]}],"usage":{"prompt_tokens":4,"total_tokens":4}}"#,
    r#"{}"#,
    "{\"output\":[],\"deep\":[[[[{\"a\":[{\"b\":\"\\u0041\"}]}]]]],\"model\":\"caf\u{e9}\"}",
    r#"{"output":[{"type":"message","text":"say \"mcp_call\""},{"type":null}],"usage":{"total_tokens":18446744073709551615}}"#,
];

/// Bodies the fast read leaves to the `Value` reading (or that are not JSON at all).
const OTHERS: [&str; 24] = [
    "not json",
    "",
    r#"{"model":"a"} trailing"#,
    r#"{"model":"a",}"#,
    r#"{"model" "a"}"#,
    r#"{"model":5,"usage":{"prompt_tokens":1}}"#,
    r#"{"usage":{"prompt_tokens":1.5}}"#,
    r#"{"usage":{"prompt_tokens":-1}}"#,
    r#"{"usage":{"prompt_tokens":18446744073709551616}}"#,
    r#"{"usage":{"prompt_tokens":1e3}}"#,
    r#"{"usage":"none"}"#,
    r#"{"model":"a","model":"b"}"#,
    r#"{"usage":{"input_tokens":1,"input_tokens":2}}"#,
    r#"{"output":[{"type":"\u006dcp_call","name":"t"}]}"#,
    r#"{"output":[{"type":5}],"x":"\u0041"}"#,
    r#"{"output":{"type":"mcp_call"},"usage":{"prompt_tokens":1}}"#,
    r#"{"output":["text"],"model":"m"}"#,
    r#"{"output":[{"type":"mcp_call","name":"t","server_label":"s"}]}"#,
    r#"{"output":[{"type":"mcp_list_tools","server_label":"s"}]}"#,
    r#"{"mod\u0065l":"x"}"#,
    r#"{"model":"gpt-4\u006f"}"#,
    r#"{"x":"\ud83d\ude00","model":"m"}"#,
    r#"{"x":01}"#,
    "[1,2]",
];

#[test]
fn answers_the_usual_replies_as_the_value_reading_does() {
    for b in USUAL {
        let fast = observe(b.as_bytes());
        assert!(fast.is_some(), "{b}");
        assert_eq!(fast, slow(b.as_bytes()), "{b}");
    }
    let r = observe(USUAL[0].as_bytes()).unwrap();
    assert_eq!(r.model.as_deref(), Some("gpt-4o"));
    assert_eq!(r.usage.map(|u| u.total_tokens), Some(20));
    // total_tokens filled from its parts.
    let r = observe(USUAL[2].as_bytes()).unwrap();
    assert_eq!(r.usage.map(|u| u.total_tokens), Some(7));
}

#[test]
fn leaves_other_shapes_and_invalid_json_to_the_value_reading() {
    for b in OTHERS {
        assert_eq!(observe(b.as_bytes()), None, "{b}");
    }
    // Invalid UTF-8 inside a string; a control character; bad escapes; deep nesting.
    assert_eq!(observe(b"{\"model\":\"\xff\"}"), None);
    assert_eq!(observe(b"{\"model\":\"a\x01\"}"), None);
    assert_eq!(observe(br#"{"model":"a\q"}"#), None);
    assert_eq!(observe(br#"{"model":"a\u12"}"#), None);
    let deep = format!("{{\"x\":{}1{}}}", "[".repeat(200), "]".repeat(200));
    assert_eq!(observe(deep.as_bytes()), None);
    assert!(slow(deep.as_bytes()).is_none());
    let ok = format!("{{\"x\":{}1{}}}", "[".repeat(50), "]".repeat(50));
    assert!(observe(ok.as_bytes()).is_some());
}

/// Every body with one byte deleted, or replaced by one of the bytes that change JSON the
/// most: the fast read never answers differently from the `Value` reading.
#[test]
fn every_one_byte_mutation_agrees_with_the_value_reading() {
    let replacements = [
        b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b' ', b'0', b'9', b'-', b'.', b'e', b'n',
        b't', b'u', b'x', 0x01, 0xc3,
    ];
    let mut answered = 0;
    for b in USUAL.iter().chain(OTHERS.iter()) {
        let b = b.as_bytes();
        for i in 0..b.len() {
            let mut deleted = b.to_vec();
            deleted.remove(i);
            assert!(agrees(&deleted), "{}", String::from_utf8_lossy(&deleted));
            for r in replacements {
                let mut m = b.to_vec();
                m[i] = r;
                assert!(agrees(&m), "{}", String::from_utf8_lossy(&m));
                answered += usize::from(observe(&m).is_some());
            }
        }
    }
    // Most mutations of the usual replies still read fast (inside strings, say).
    assert!(answered > 1000, "{answered}");
}

/// Strings whose special bytes (quote, escape, control, non-ASCII, invalid UTF-8) fall at every
/// offset of the eight-byte steps of the string scan.
#[test]
fn special_bytes_at_every_offset_of_a_long_string() {
    let specials: [&[u8]; 7] = [
        b"\\\"",
        b"\\n",
        b"\\u00e9",
        "é€😀".as_bytes(),
        b"\x01",
        b"\xff",
        b"\xe2\x82",
    ];
    for pad in 0..20 {
        for sp in specials {
            for tail in [0, 3, 9] {
                let mut body = br#"{"text":""#.to_vec();
                body.extend(std::iter::repeat_n(b'a', pad));
                body.extend_from_slice(sp);
                body.extend(std::iter::repeat_n(b'b', tail));
                body.extend_from_slice(br#"","model":"m","usage":{"prompt_tokens":2}}"#);
                let fast = observe(&body);
                assert_eq!(fast.is_some(), slow(&body).is_some(), "{body:?}");
                assert!(agrees(&body), "{body:?}");
            }
        }
    }
}
