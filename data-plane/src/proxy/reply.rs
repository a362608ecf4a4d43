//! Responses Kong makes itself (no route, auth failures, AI plugin errors, upstream errors),
//! and the headers Kong adds to proxied responses.

use std::time::Instant;

use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, SERVER, VIA};
use http::{HeaderMap, Response, StatusCode};

use super::body::{full, ProxyBody};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const NO_ROUTE: &str = r#"{"message":"no Route matched with those values"}"#;
pub const NO_SERVICE: &str = r#"{"message":"no Service found with those values"}"#;
pub const BAD_UPSTREAM: &str =
    r#"{"message":"An invalid response was received from the upstream server"}"#;
pub const UPSTREAM_TIMEOUT: &str = r#"{"message":"The upstream server is timing out"}"#;
pub const JSON: &str = "application/json; charset=utf-8";

fn ms(since: Instant) -> u128 {
    since.elapsed().as_millis()
}

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
    set(h, SERVER.as_str(), &format!("kong/{VERSION}"));
    set(h, "x-kong-response-latency", &ms(started).to_string());
    set(h, "x-kong-request-id", request_id);
    resp
}

/// Kong's headers on a proxied response.
pub fn proxied_headers(
    h: &mut HeaderMap,
    request_id: &str,
    upstream_latency_ms: u128,
    proxy_latency_ms: u128,
) {
    strip_hop_by_hop(h);
    set(h, VIA.as_str(), &format!("1.1 kong/{VERSION}"));
    set(
        h,
        "x-kong-upstream-latency",
        &upstream_latency_ms.to_string(),
    );
    set(h, "x-kong-proxy-latency", &proxy_latency_ms.to_string());
    set(h, "x-kong-request-id", request_id);
}

pub fn set(h: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        h.insert(n, v);
    }
}

/// Removes hop-by-hop headers (and those named in `Connection`).
pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    let named: Vec<String> = h
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    for n in named {
        h.remove(n.as_str());
    }
    for n in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
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
