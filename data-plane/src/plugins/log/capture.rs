//! Log phase input, request side: what Kong's log serializer needs from the request (method,
//! URI, query, headers with secrets redacted, route/service/consumer entities), taken once in the
//! access phase when a log plugin (file-log, http-log) applies, and the response head later.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use http::request::Parts;
use http::HeaderMap;
use proto::schema::Consumer;
use serde_json::{Map, Value};

use crate::runtime::CompiledRoute;

/// What replaces a secret header's value in a log entry.
pub const REDACTED: &str = "REDACTED";

/// Headers whose values never reach a log (plus the key-auth key names in effect).
const SECRET_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "apikey"];

/// Request-side facts of one request, for the log serializer.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    pub method: String,
    /// Path and query as the client sent them.
    pub uri: String,
    /// `scheme://host[:port]/path?query`.
    pub url: String,
    pub querystring: Value,
    pub request_headers: Value,
    pub client_ip: String,
    /// Unix milliseconds.
    pub started_at: u64,
    pub route: Value,
    pub service: Value,
    pub consumer: Value,
    /// The path and query sent upstream (empty when the request never went there).
    pub upstream_uri: String,
    pub upstream_addr: Option<(String, u16)>,
    pub response_headers: Value,
    /// Header names (lowercase) to redact besides the fixed ones (key-auth's `key_names`).
    pub secret_headers: Vec<String>,
    /// The raw client request body, kept when an AI plugin logs payloads.
    pub request_payload: Option<String>,
}

impl Capture {
    pub fn new(
        parts: &Parts,
        route: &CompiledRoute,
        remote: SocketAddr,
        host: &str,
        https: bool,
        secret_headers: Vec<String>,
    ) -> Self {
        let pq = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        // nginx's `$scheme`: a request over TLS is https.
        let scheme = if https {
            "https"
        } else {
            parts.uri.scheme_str().unwrap_or("http")
        };
        let mut c = Capture {
            method: parts.method.as_str().to_string(),
            url: format!("{scheme}://{host}{pq}"),
            uri: pq,
            querystring: querystring(parts.uri.query().unwrap_or("")),
            client_ip: remote.ip().to_string(),
            started_at: unix_ms(),
            route: serde_json::to_value(route.route.as_ref()).unwrap_or(Value::Null),
            service: route
                .service
                .as_ref()
                .and_then(|s| serde_json::to_value(&**s).ok())
                .unwrap_or(Value::Null),
            secret_headers,
            ..Default::default()
        };
        c.request_headers = c.headers_json(&parts.headers);
        c
    }

    pub fn set_consumer(&mut self, consumer: Option<&Consumer>) {
        self.consumer = consumer
            .and_then(|c| serde_json::to_value(c).ok())
            .unwrap_or(Value::Null);
    }

    pub fn set_response_headers(&mut self, headers: &HeaderMap) {
        self.response_headers = self.headers_json(headers);
    }

    /// Headers as Kong's `kong.request.get_headers()`: lowercase names, a repeated header as an
    /// array, secrets replaced by [`REDACTED`].
    pub fn headers_json(&self, headers: &HeaderMap) -> Value {
        let mut m = Map::new();
        for name in headers.keys() {
            let n = name.as_str();
            let secret = SECRET_HEADERS.contains(&n)
                || self
                    .secret_headers
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(n));
            let vals: Vec<Value> = headers
                .get_all(name)
                .iter()
                .map(|v| {
                    if secret {
                        Value::from(REDACTED)
                    } else {
                        Value::from(String::from_utf8_lossy(v.as_bytes()).into_owned())
                    }
                })
                .collect();
            let v = match <[Value; 1]>::try_from(vals) {
                Ok([one]) => one,
                Err(many) => Value::Array(many),
            };
            m.insert(n.to_string(), v);
        }
        Value::Object(m)
    }
}

/// Unix time in milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A query string as Kong's `kong.request.get_query()`: `a=1&a=2&flag` →
/// `{"a":["1","2"],"flag":true}`, percent-decoded.
pub fn querystring(q: &str) -> Value {
    let mut m = Map::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = match pair.split_once('=') {
            Some((k, v)) => (decode(k), Value::from(decode(v))),
            None => (decode(pair), Value::Bool(true)),
        };
        match m.get_mut(&k) {
            Some(Value::Array(a)) => a.push(v),
            Some(prev) => {
                let first = prev.take();
                *prev = Value::Array(vec![first, v]);
            }
            None => {
                m.insert(k, v);
            }
        }
    }
    Value::Object(m)
}

/// Percent-decoding with `+` as space (form encoding), lossy on bad UTF-8.
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_repeats_become_arrays_and_flags_true() {
        assert_eq!(
            querystring("a=1&a=2&flag&b=x%20y+z&a=3"),
            json!({"a": ["1", "2", "3"], "flag": true, "b": "x y z"})
        );
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%4"), "%4");
    }

    #[test]
    fn secret_headers_are_redacted() {
        let c = Capture {
            secret_headers: vec!["x-api-key".into()],
            ..Default::default()
        };
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer sk-1".parse().unwrap());
        h.insert("apikey", "k".parse().unwrap());
        h.insert("X-Api-Key", "k2".parse().unwrap());
        h.append("accept", "a".parse().unwrap());
        h.append("accept", "b".parse().unwrap());
        let v = c.headers_json(&h);
        assert_eq!(v["authorization"], REDACTED);
        assert_eq!(v["apikey"], REDACTED);
        assert_eq!(v["x-api-key"], REDACTED);
        assert_eq!(v["accept"], json!(["a", "b"]));
        assert!(!v.to_string().contains("sk-1"));
    }
}
