//! Admin API request bodies: JSON, or the form encoding Kong's docs use everywhere
//! (`--data name=svc --data url=http://…`, `config.key_names=apikey`, `paths[]=/a`).

use axum::http::HeaderMap;
use serde_json::{Map, Value};

use super::AdminError;

/// Fields that are arrays in Kong's schemas, so one form value still makes a list.
const ARRAY_FIELDS: &[&str] = &[
    "paths",
    "hosts",
    "methods",
    "protocols",
    "tags",
    "snis",
    "key_names",
    "ca_certificates",
    "targets",
];

/// Parses a write body into a JSON map. An empty body is an empty map.
pub fn parse(headers: &HeaderMap, bytes: &[u8]) -> Result<Map<String, Value>, AdminError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| AdminError::BadRequest("request body is not valid UTF-8".into()))?;
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    let ctype = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ctype.starts_with("application/x-www-form-urlencoded") {
        return Ok(form(text));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(AdminError::BadRequest(
            "expected a JSON object in the request body".into(),
        )),
        Err(_) if ctype.is_empty() && text.contains('=') && !text.trim_start().starts_with('{') => {
            Ok(form(text))
        }
        Err(e) => Err(AdminError::BadRequest(format!(
            "Cannot parse JSON body: {e}"
        ))),
    }
}

fn form(text: &str) -> Map<String, Value> {
    let mut root = Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k), decode(v));
        let (k, forced_array) = match k.strip_suffix("[]") {
            Some(base) => (base.to_string(), true),
            None => (k, false),
        };
        let mut parts: Vec<&str> = k.split('.').collect();
        let Some(last) = parts.pop() else { continue };
        let mut node = &mut root;
        for p in parts {
            node = super::error::child(node, p);
        }
        let value = scalar(&v);
        let array = forced_array || ARRAY_FIELDS.contains(&last);
        match node.get_mut(last) {
            Some(Value::Array(a)) => a.push(value),
            Some(existing) => {
                let prev = existing.take();
                *existing = Value::Array(vec![prev, value]);
            }
            None if array => {
                node.insert(last.to_string(), Value::Array(vec![value]));
            }
            None => {
                node.insert(last.to_string(), value);
            }
        }
    }
    root
}

/// Form values are strings; Kong coerces them by schema. Numbers and booleans are the cases
/// that matter, and neither is a valid name or path.
fn scalar(v: &str) -> Value {
    match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => match v.parse::<i64>() {
            Ok(n) if !v.starts_with('0') || v == "0" => Value::from(n),
            _ => Value::String(v.to_string()),
        },
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_bodies_nest_and_coerce_like_kong() {
        let m = form("name=key-auth&config.key_names=apikey&config.hide_credentials=true&paths[]=%2Fa&port=8080");
        assert_eq!(
            Value::Object(m),
            json!({"name": "key-auth", "config": {"key_names": ["apikey"], "hide_credentials": true}, "paths": ["/a"], "port": 8080})
        );
    }

    #[test]
    fn repeated_keys_make_arrays() {
        let m = form("hosts=a.com&hosts=b.com&url=http%3A%2F%2Fx%3A80");
        assert_eq!(m["hosts"], json!(["a.com", "b.com"]));
        assert_eq!(m["url"], json!("http://x:80"));
    }
}
