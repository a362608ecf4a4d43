//! Responses Kong makes itself (no route, auth failures, AI plugin errors, upstream errors),
//! and the headers Kong adds to proxied responses.

use std::time::Instant;

use http::header::{
    HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE, SERVER, TE, TRAILER, TRANSFER_ENCODING,
    UPGRADE, VIA,
};
use http::{HeaderMap, Response, StatusCode};

use super::body::{full, ProxyBody};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const NO_ROUTE: &str = r#"{"message":"no Route matched with those values"}"#;
pub const NO_SERVICE: &str = r#"{"message":"no Service found with those values"}"#;
pub const BAD_UPSTREAM: &str =
    r#"{"message":"An invalid response was received from the upstream server"}"#;
pub const UPSTREAM_TIMEOUT: &str = r#"{"message":"The upstream server is timing out"}"#;
/// Kong's error handler for nginx's 494 (sent as 400).
pub const HEADER_TOO_LARGE: &str = r#"{"message":"Request header or cookie too large"}"#;
pub const URI_TOO_LONG: &str = r#"{"message":"URI too long"}"#;
pub const JSON: &str = "application/json; charset=utf-8";

fn ms(since: Instant) -> u128 {
    since.elapsed().as_millis()
}

static X_KONG_RESPONSE_LATENCY: HeaderName = HeaderName::from_static("x-kong-response-latency");
static X_KONG_UPSTREAM_LATENCY: HeaderName = HeaderName::from_static("x-kong-upstream-latency");
static X_KONG_PROXY_LATENCY: HeaderName = HeaderName::from_static("x-kong-proxy-latency");
static X_KONG_REQUEST_ID: HeaderName = HeaderName::from_static("x-kong-request-id");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
const VIA_VALUE: &str = concat!("1.1 kong/", env!("CARGO_PKG_VERSION"));
const SERVER_VALUE: &str = concat!("kong/", env!("CARGO_PKG_VERSION"));

/// A Kong-generated JSON response with `X-Kong-Response-Latency` and `X-Kong-Request-Id`.
pub fn kong(
    status: StatusCode,
    body: impl Into<String>,
    extra: Vec<(HeaderName, HeaderValue)>,
    request_id: &str,
    started: Instant,
) -> Response<ProxyBody> {
    let mut resp = Response::new(full(body.into()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
    for (k, v) in extra {
        h.insert(k, v);
    }
    h.insert(SERVER, HeaderValue::from_static(SERVER_VALUE));
    h.insert(X_KONG_RESPONSE_LATENCY.clone(), millis(ms(started)));
    set_request_id(h, request_id);
    resp
}

fn millis(ms: u128) -> HeaderValue {
    HeaderValue::from(u64::try_from(ms).unwrap_or(u64::MAX))
}

fn set_request_id(h: &mut HeaderMap, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(X_KONG_REQUEST_ID.clone(), v);
    }
}

/// Kong's headers on a proxied response.
pub fn proxied_headers(
    h: &mut HeaderMap,
    request_id: &str,
    upstream_latency_ms: u128,
    proxy_latency_ms: u128,
) {
    strip_hop_by_hop(h);
    h.insert(VIA, HeaderValue::from_static(VIA_VALUE));
    h.insert(X_KONG_UPSTREAM_LATENCY.clone(), millis(upstream_latency_ms));
    h.insert(X_KONG_PROXY_LATENCY.clone(), millis(proxy_latency_ms));
    set_request_id(h, request_id);
}

pub fn set(h: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        h.insert(n, v);
    }
}

fn is_hop_by_hop(n: &HeaderName) -> bool {
    *n == CONNECTION
        || *n == TE
        || *n == TRAILER
        || *n == TRANSFER_ENCODING
        || *n == UPGRADE
        || *n == KEEP_ALIVE
        || *n == PROXY_CONNECTION
}

/// Removes hop-by-hop headers (and those named in `Connection`).
pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    // Most messages have none: one pass over the names, no hashing.
    if !h.keys().any(is_hop_by_hop) {
        return;
    }
    if h.contains_key(CONNECTION) {
        // Headers named in `Connection` (no allocation for the usual `keep-alive`/`close`).
        let mut named: Vec<HeaderName> = Vec::new();
        for v in h.get_all(CONNECTION) {
            for token in v.as_bytes().split(|b| *b == b',') {
                let token = token.trim_ascii();
                if token.is_empty()
                    || token.eq_ignore_ascii_case(b"keep-alive")
                    || token.eq_ignore_ascii_case(b"close")
                    || token.eq_ignore_ascii_case(b"upgrade")
                {
                    continue;
                }
                if let Ok(n) = HeaderName::from_bytes(token) {
                    named.push(n);
                }
            }
        }
        for n in named {
            h.remove(n);
        }
        h.remove(CONNECTION);
    }
    for n in [TE, TRAILER, TRANSFER_ENCODING, UPGRADE] {
        h.remove(n);
    }
    for n in [&KEEP_ALIVE, &PROXY_CONNECTION] {
        h.remove(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kong_reply_headers() {
        let r = kong(
            StatusCode::NOT_FOUND,
            NO_ROUTE,
            vec![],
            "rid",
            Instant::now(),
        );
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()[CONTENT_TYPE], JSON);
        assert_eq!(r.headers()["x-kong-request-id"], "rid");
        assert!(r.headers().contains_key("x-kong-response-latency"));
    }

    #[test]
    fn hop_by_hop_removed() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("close, x-private"));
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("x-keep", HeaderValue::from_static("1"));
        proxied_headers(&mut h, "rid", 3, 1);
        assert!(!h.contains_key("x-private"));
        assert!(!h.contains_key("connection"));
        assert_eq!(h["via"], format!("1.1 kong/{VERSION}").as_str());
        assert_eq!(h["x-kong-upstream-latency"], "3");
        assert!(h.contains_key("x-keep"));
    }
}
