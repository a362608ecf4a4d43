//! Admin API request bodies: JSON, or the form encoding Kong's docs use everywhere
//! (`--data name=svc --data url=http://…`, `config.key_names=apikey`, `paths[]=/a`).
//! JSON is taken as typed; form values stay text here, and the entity's parse reads them by the
//! schema's types, as Kong does: [`by_content_type`] notes which rule the request's body follows
//! and `write::upsert` parses the entity under [`scalars`].

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use proto::schema::Scalars;
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

tokio::task_local! {
    /// How the entity in this request's body is read (see [`by_content_type`]).
    static SCALARS: Scalars;
}

/// Middleware: a JSON body is read as typed (`{"name": 123}` is "expected a string"); a form
/// body, or one without a content type, as text the schema's types decide.
pub async fn by_content_type(req: Request, next: Next) -> Response {
    let json = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"));
    let mode = if json {
        Scalars::Strict
    } else {
        Scalars::Inferred
    };
    SCALARS.scope(mode, next.run(req)).await
}

/// The rule for the current request's body (form text outside a request).
pub fn scalars() -> Scalars {
    SCALARS.try_with(|m| *m).unwrap_or(Scalars::Inferred)
}

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
            None if array && !value.is_null() => {
                node.insert(last.to_string(), Value::Array(vec![value]));
            }
            None => {
                node.insert(last.to_string(), value);
            }
        }
    }
    root
}

/// A form value: text, or null when empty (Kong's `infer_value`: `""` is `ngx.null`).
fn scalar(v: &str) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        Value::String(v.to_string())
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
    fn form_bodies_nest_and_stay_text_for_the_schema_to_read() {
        let m = form("name=key-auth&config.key_names=apikey&config.hide_credentials=true&paths[]=%2Fa&port=8080&path=");
        assert_eq!(
            Value::Object(m),
            json!({"name": "key-auth", "config": {"key_names": ["apikey"], "hide_credentials": "true"}, "paths": ["/a"], "port": "8080", "path": null})
        );
    }

    #[test]
    fn repeated_keys_make_arrays() {
        let m = form("hosts=a.com&hosts=b.com&url=http%3A%2F%2Fx%3A80");
        assert_eq!(m["hosts"], json!(["a.com", "b.com"]));
        assert_eq!(m["url"], json!("http://x:80"));
    }
}
