//! Responses Kong makes itself (no route, auth failures, AI plugin errors, upstream errors),
//! and the headers Kong adds to proxied responses.

use std::time::Instant;

use http::header::{
    HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE, SERVER, TE, TRAILER, TRANSFER_ENCODING,
    UPGRADE, VIA,
};
use http::{HeaderMap, Response, StatusCode};

use super::body::{full, ProxyBody};
use super::h1::decimal;
use super::raw_head::RawHead;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const NO_ROUTE: &str = r#"{"message":"no Route matched with those values"}"#;
pub const NO_SERVICE: &str = r#"{"message":"no Service found with those values"}"#;
pub const BAD_UPSTREAM: &str =
    r#"{"message":"An invalid response was received from the upstream server"}"#;
pub const UPSTREAM_TIMEOUT: &str = r#"{"message":"The upstream server is timing out"}"#;
/// Kong's error handler for nginx's 494 (sent as 400).
pub const HEADER_TOO_LARGE: &str = r#"{"message":"Request header or cookie too large"}"#;
pub const URI_TOO_LONG: &str = r#"{"message":"URI too long"}"#;
/// Kong's body for 413 from a plugin that reads the request body.
pub const BODY_TOO_LARGE: &str = r#"{"message":"Request body is too large"}"#;
/// Kong's error handler for 500.
pub const UNEXPECTED: &str = r#"{"message":"An unexpected error occurred"}"#;
/// Kong's error handler for 408 (logged for a request whose body read timed out).
pub const REQUEST_TIMEOUT: &str = r#"{"message":"Request timeout"}"#;
pub const JSON: &str = "application/json; charset=utf-8";

fn ms(since: Instant) -> u128 {
    since.elapsed().as_millis()
}

static X_KONG_RESPONSE_LATENCY: HeaderName = HeaderName::from_static("x-kong-response-latency");
static X_KONG_UPSTREAM_LATENCY: HeaderName = HeaderName::from_static("x-kong-upstream-latency");
static X_KONG_PROXY_LATENCY: HeaderName = HeaderName::from_static("x-kong-proxy-latency");
static X_KONG_REQUEST_ID: HeaderName = HeaderName::from_static("x-kong-request-id");
/// The hop-by-hop headers: never passed on by the proxy.
static HOP_BY_HOP: [HeaderName; 7] = [
    CONNECTION,
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
];
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

static GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
static GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// Whether Kong treats a request as gRPC: HTTP/2 with an `application/grpc…` content type.
pub fn is_grpc(version: http::Version, h: &HeaderMap) -> bool {
    version == http::Version::HTTP_2
        && h.get(CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// Kong's HTTP → gRPC status (`kong/pdk/response.lua`: its table, then by status class) and
/// the code's name.
fn grpc_status(status: StatusCode) -> (u8, &'static str) {
    match status.as_u16() {
        200..=299 => (0, "OK"),
        401 => (16, "Unauthenticated"),
        403 => (7, "PermissionDenied"),
        404 => (5, "NotFound"),
        409 => (6, "AlreadyExists"),
        429 => (8, "ResourceExhausted"),
        499 => (1, "Canceled"),
        501 => (12, "Unimplemented"),
        503 => (14, "Unavailable"),
        504 => (4, "DeadlineExceeded"),
        400..=498 => (3, "InvalidArgument"),
        500..=599 => (13, "Internal"),
        _ => (2, "Unknown"),
    }
}

/// A Kong-made reply the way Kong sends it to a gRPC client: the same status, an empty body,
/// `grpc-status` mapped from the status and the message (`json_body`'s `message`) in
/// `grpc-message`.
pub fn grpc(mut resp: Response<ProxyBody>, json_body: &str) -> Response<ProxyBody> {
    let (code, name) = grpc_status(resp.status());
    let message = serde_json::from_str::<serde_json::Value>(json_body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| json_body.to_string());
    let message = if message.is_empty() {
        name.to_string()
    } else {
        message
    };
    let h = resp.headers_mut();
    h.remove(CONTENT_TYPE);
    h.insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    h.insert(GRPC_STATUS.clone(), HeaderValue::from(u16::from(code)));
    if let Ok(v) = HeaderValue::from_str(&message) {
        h.insert(GRPC_MESSAGE.clone(), v);
    }
    *resp.body_mut() = full(bytes::Bytes::new());
    resp
}

fn millis(ms: u128) -> HeaderValue {
    // The usual values (a proxy adds a few milliseconds at most) need no allocation.
    const SMALL: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    match usize::try_from(ms).ok().and_then(|i| SMALL.get(i)) {
        Some(s) => HeaderValue::from_static(s),
        None => HeaderValue::from(u64::try_from(ms).unwrap_or(u64::MAX)),
    }
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

/// Kong's headers on a proxied response `head`: appended to its header bytes when it carries
/// them and `as_bytes` (nothing here reads or sets response headers), else set in its map
/// (bytes that must be read after all go back into the map first).
pub(super) fn proxied(
    head: &mut http::response::Parts,
    as_bytes: bool,
    request_id: &str,
    upstream_latency_ms: u128,
    proxy_latency_ms: u128,
) {
    let (up, proxy) = (upstream_latency_ms, proxy_latency_ms);
    match head.extensions.get_mut::<RawHead>() {
        Some(raw) if as_bytes => proxied_lines(raw, request_id, up, proxy),
        Some(raw) => {
            head.headers = raw.to_map();
            head.extensions.remove::<RawHead>();
            proxied_headers(&mut head.headers, request_id, up, proxy);
        }
        None => proxied_headers(&mut head.headers, request_id, up, proxy),
    }
}

/// `proxied_headers` for a response whose upstream headers are bytes: the same lines, appended.
fn proxied_lines(
    raw: &mut RawHead,
    request_id: &str,
    upstream_latency_ms: u128,
    proxy_latency_ms: u128,
) {
    let mut digits = [0u8; 20];
    let ms = |n: u128| u64::try_from(n).unwrap_or(u64::MAX);
    raw.push(VIA.as_str().as_bytes(), VIA_VALUE.as_bytes());
    let name = X_KONG_UPSTREAM_LATENCY.as_str().as_bytes();
    raw.push(name, decimal(ms(upstream_latency_ms), &mut digits));
    let name = X_KONG_PROXY_LATENCY.as_str().as_bytes();
    raw.push(name, decimal(ms(proxy_latency_ms), &mut digits));
    raw.push(X_KONG_REQUEST_ID.as_str().as_bytes(), request_id.as_bytes());
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
    HOP_BY_HOP.contains(n)
}

/// Whether an upstream's header `name` (any case) never reaches the client on a proxied
/// answer: a hop-by-hop one, or one `proxied_headers` sets itself.
pub(super) fn not_passed_on(name: &[u8]) -> bool {
    let kong = [
        &VIA,
        &X_KONG_UPSTREAM_LATENCY,
        &X_KONG_PROXY_LATENCY,
        &X_KONG_REQUEST_ID,
    ];
    HOP_BY_HOP
        .iter()
        .chain(kong)
        .any(|n| n.as_str().as_bytes().eq_ignore_ascii_case(name))
}

/// Removes hop-by-hop headers (and those named in `Connection`). A message that asks for a
/// protocol upgrade (`Connection: upgrade` with `Upgrade`, e.g. a WebSocket handshake) keeps
/// its `Upgrade` header and `Connection: upgrade`, as Kong's `upstream_upgrade` passes them on;
/// the upstream client drops `Upgrade` from responses other than 101.
pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    // Most messages have none: one pass over the names, no hashing.
    if !h.keys().any(is_hop_by_hop) {
        return;
    }
    let mut upgrade = None;
    if h.contains_key(CONNECTION) {
        let asks = h.get_all(CONNECTION).iter().any(|v| {
            v.as_bytes()
                .split(|b| *b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
        });
        if asks {
            upgrade = h.get(UPGRADE).cloned();
        }
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
    // Only the names present (one pass over the names; a removal hashes).
    let present: Vec<HeaderName> = h.keys().filter(|n| is_hop_by_hop(n)).cloned().collect();
    for n in present {
        h.remove(n);
    }
    if let Some(u) = upgrade {
        h.insert(UPGRADE, u);
        h.insert(CONNECTION, HeaderValue::from_static("upgrade"));
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
    fn kong_replies_to_grpc_clients_carry_grpc_status_and_message() {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/grpc+proto"),
        );
        assert!(is_grpc(http::Version::HTTP_2, &h));
        assert!(!is_grpc(http::Version::HTTP_11, &h));
        assert!(!is_grpc(http::Version::HTTP_2, &HeaderMap::new()));
        for (status, body, code, message) in [
            (
                StatusCode::NOT_FOUND,
                NO_ROUTE,
                "5",
                "no Route matched with those values",
            ),
            (
                StatusCode::BAD_GATEWAY,
                BAD_UPSTREAM,
                "13",
                "An invalid response was received from the upstream server",
            ),
            (
                StatusCode::GATEWAY_TIMEOUT,
                UPSTREAM_TIMEOUT,
                "4",
                "The upstream server is timing out",
            ),
            (
                StatusCode::UNAUTHORIZED,
                r#"{"message":"No API key found in request"}"#,
                "16",
                "No API key found in request",
            ),
            (StatusCode::OK, "", "0", "OK"),
        ] {
            let r = grpc(kong(status, body, vec![], "rid", Instant::now()), body);
            assert_eq!(r.status(), status);
            assert_eq!(r.headers()["grpc-status"], code, "{status}");
            assert_eq!(r.headers()["grpc-message"], message, "{status}");
            assert_eq!(r.headers()["content-length"], "0");
            assert!(!r.headers().contains_key(CONTENT_TYPE));
            assert_eq!(r.headers()["x-kong-request-id"], "rid");
        }
    }

    #[test]
    fn latency_values_small_and_large() {
        for n in [0u128, 1, 9, 10, 12345, u128::from(u64::MAX) + 1] {
            let want = u64::try_from(n).unwrap_or(u64::MAX).to_string();
            assert_eq!(super::millis(n).to_str().unwrap(), want, "{n}");
        }
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

    #[test]
    fn an_upgrade_keeps_its_upgrade_headers_and_nothing_else() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("sec-websocket-key", HeaderValue::from_static("k"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["connection"], "upgrade");
        assert!(!h.contains_key("keep-alive"));
        assert_eq!(h["sec-websocket-key"], "k");
        // `Upgrade` without `Connection: upgrade` is not an upgrade.
        let mut h = HeaderMap::new();
        h.insert("upgrade", HeaderValue::from_static("h2c"));
        strip_hop_by_hop(&mut h);
        assert!(h.is_empty());
    }
}
