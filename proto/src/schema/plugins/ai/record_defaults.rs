//! Kong's defaults inside the AI option records this gateway keeps as JSON
//! (`model.options.bedrock`, `.cohere`, `.dashscope`; `ai-mcp-proxy`'s `server`): when such a
//! record is given, the fields Kong defaults are filled in, as Kong's schema fills them.

use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

/// `path` (dotted) → default, filled into a present object where missing (or null).
fn fill(v: &mut Value, path: &str, default: &Value) {
    let Some(obj) = v.as_object_mut() else { return };
    match path.split_once('.') {
        Some((head, rest)) => {
            let child = obj.entry(head).or_insert_with(|| json!({}));
            if child.is_null() {
                *child = json!({});
            }
            fill(child, rest, default);
        }
        None => {
            let slot = obj.entry(path).or_insert(Value::Null);
            if slot.is_null() {
                *slot = default.clone();
            }
        }
    }
}

fn with_defaults<'de, D: Deserializer<'de>>(
    d: D,
    defaults: &[(&str, Value)],
) -> Result<Option<Value>, D::Error> {
    let mut v = Option::<Value>::deserialize(d)?;
    if let Some(v) = v.as_mut().filter(|v| v.is_object()) {
        for (path, default) in defaults {
            fill(v, path, default);
        }
    }
    Ok(v)
}

pub fn bedrock<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    with_defaults(d, &[("embeddings_normalize", json!(false))])
}

pub fn cohere<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    with_defaults(d, &[("embedding_input_type", json!("classification"))])
}

pub fn dashscope<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    with_defaults(d, &[("international", json!(true))])
}

pub fn mcp_server<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    with_defaults(
        d,
        &[
            ("forward_client_headers", json!(true)),
            ("timeout", json!(10000)),
            ("session.managed", json!(true)),
            ("session.session_ttl", json!(86400)),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_missing_keeps_given() {
        let mut v = json!({"timeout": 5, "session": null});
        fill(&mut v, "timeout", &json!(10000));
        fill(&mut v, "session.managed", &json!(true));
        fill(&mut v, "forward_client_headers", &json!(true));
        assert_eq!(
            v,
            json!({"timeout": 5, "session": {"managed": true}, "forward_client_headers": true})
        );
    }
}
