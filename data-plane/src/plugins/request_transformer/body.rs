//! request-transformer on the body: JSON objects and form-urlencoded bodies, Kong's order
//! remove → rename → replace → add → append; other bodies pass untouched.

use bytes::Bytes;
use serde_json::{Map, Value};

use super::args::Args;
use super::env::Changes;

pub const FORM: &str = "application/x-www-form-urlencoded";

/// The kind of body a content type names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Json,
    Form,
}

pub fn kind(content_type: Option<&str>) -> Option<Kind> {
    let ct = content_type?.split(';').next()?.trim().to_ascii_lowercase();
    if ct == FORM {
        Some(Kind::Form)
    } else if ct == "application/json" || ct.ends_with("+json") {
        Some(Kind::Json)
    } else {
        None
    }
}

/// The transformed body, or None when it is not a JSON object (left as it is).
pub fn transform(c: &Changes<'_>, kind: Kind, body: &[u8]) -> Option<Bytes> {
    match kind {
        Kind::Form => {
            let mut a = Args::parse(std::str::from_utf8(body).ok()?);
            a.transform(c);
            Some(Bytes::from(a.encode()))
        }
        Kind::Json => {
            let mut m: Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) {
                Map::new()
            } else {
                match serde_json::from_slice(body).ok()? {
                    Value::Object(m) => m,
                    _ => return None,
                }
            };
            json(&mut m, c);
            serde_json::to_vec(&m).ok().map(Bytes::from)
        }
    }
}

fn json(m: &mut Map<String, Value>, c: &Changes<'_>) {
    for k in c.remove {
        m.remove(k);
    }
    for (from, to) in &c.rename {
        if let Some(v) = m.remove(*from) {
            m.insert(to.to_string(), v);
        }
    }
    for (k, v) in &c.replace {
        if let Some(slot) = m.get_mut(*k) {
            *slot = Value::from(v.as_ref());
        }
    }
    for (k, v) in &c.add {
        m.entry(k.to_string())
            .or_insert_with(|| Value::from(v.as_ref()));
    }
    // Kong's append_value: a string becomes [old, new], an array grows, else [new].
    for (k, v) in &c.append {
        let v = v.as_ref();
        let slot = m.entry(k.to_string()).or_insert(Value::Null);
        *slot = match slot.take() {
            Value::Array(mut a) => {
                a.push(Value::from(v));
                Value::Array(a)
            }
            Value::String(s) => Value::Array(vec![Value::from(s), Value::from(v)]),
            _ => Value::Array(vec![Value::from(v)]),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::super::env::Env;
    use super::*;
    use proto::schema::plugins::request_transformer::RequestTransformerConfig;
    use serde_json::json;

    fn cfg(v: Value) -> RequestTransformerConfig {
        serde_json::from_value(v).unwrap()
    }

    fn transform(c: &RequestTransformerConfig, kind: Kind, body: &[u8]) -> Option<Bytes> {
        super::transform(&Env::default().body(c).unwrap(), kind, body)
    }

    #[test]
    fn json_body_in_kong_order() {
        let c = cfg(json!({
            "remove": {"body": ["secret"]}, "rename": {"body": ["old:new"]},
            "replace": {"body": ["model:gpt-4", "absent:x"]}, "add": {"body": ["model:no", "user:bob"]},
            "append": {"body": ["tags:b", "list:y"]}
        }));
        let body = br#"{"secret":1,"old":true,"model":"gpt-3","tags":"a","list":["x"]}"#;
        let out: Value = serde_json::from_slice(&transform(&c, Kind::Json, body).unwrap()).unwrap();
        assert_eq!(
            out,
            json!({"new": true, "model": "gpt-4", "user": "bob", "tags": ["a", "b"], "list": ["x", "y"]})
        );
        assert!(transform(&c, Kind::Json, b"[1,2]").is_none());
        let empty: Value =
            serde_json::from_slice(&transform(&c, Kind::Json, b"").unwrap()).unwrap();
        assert_eq!(empty["user"], "bob");
    }

    #[test]
    fn form_body_and_kinds() {
        let c = cfg(json!({"remove": {"body": ["a"]}, "add": {"body": ["c:3"]}}));
        let out = transform(&c, Kind::Form, b"a=1&b=2").unwrap();
        assert_eq!(&out[..], b"b=2&c=3");
        assert_eq!(
            kind(Some("application/json; charset=utf-8")),
            Some(Kind::Json)
        );
        assert_eq!(kind(Some(FORM)), Some(Kind::Form));
        assert_eq!(kind(Some("text/plain")), None);
        assert_eq!(kind(None), None);
    }
}
