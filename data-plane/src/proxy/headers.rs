//! Upstream request headers: the client's headers minus hop-by-hop ones, plus `Host`,
//! `X-Forwarded-*`, `X-Real-IP` and `X-Kong-Request-Id` (what Kong's nginx template sets); and
//! the request head limits nginx applies before Kong sees a request.

use http::header::{Entry, HeaderName, HeaderValue, HOST};
use http::request::Parts;
use http::HeaderMap;

use super::reply;
use super::Ctx;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
pub(super) static X_KONG_REQUEST_ID: HeaderName = HeaderName::from_static("x-kong-request-id");

/// nginx's `large_client_header_buffers 4 8k`: one header line (or the request line) must fit
/// in a buffer of 8 KiB, and the whole head in four of them.
const LINE_LIMIT: usize = 8 * 1024;
const HEAD_LIMIT: usize = 4 * LINE_LIMIT;

/// What is wrong with a request head nginx would refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HeadTooLarge {
    /// The request line does not fit a buffer: 414.
    Uri,
    /// A header line, or all of them together, does not fit: 400 (nginx's 494).
    Headers,
}

/// Checks the request head against nginx's limits.
pub(super) fn check_head(uri: &http::Uri, h: &HeaderMap) -> Result<(), HeadTooLarge> {
    // "GET " + target + " HTTP/1.1"
    if uri.path_and_query().map_or(0, |p| p.as_str().len()) + 14 > LINE_LIMIT {
        return Err(HeadTooLarge::Uri);
    }
    let mut total = 0;
    for (name, value) in h {
        // "name: value\r\n"
        let line = name.as_str().len() + value.len() + 4;
        if line > LINE_LIMIT {
            return Err(HeadTooLarge::Headers);
        }
        total += line;
    }
    if total > HEAD_LIMIT {
        return Err(HeadTooLarge::Headers);
    }
    Ok(())
}

fn set(h: &mut HeaderMap, name: &HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name.clone(), v);
    }
}

/// The headers sent upstream for a request from `ctx`'s client, with `Host: host`.
pub(super) fn upstream(ctx: &Ctx, parts: &Parts, host: &str) -> HeaderMap {
    into_upstream(ctx, parts.headers.clone(), host)
}

/// `upstream` on the client's headers themselves (no copy), for a single attempt.
pub(super) fn into_upstream(ctx: &Ctx, mut h: HeaderMap, host: &str) -> HeaderMap {
    reply::strip_hop_by_hop(&mut h);
    // The client's `Host` value, kept for `X-Forwarded-Host` when it is that very text.
    let client_host = match HeaderValue::from_str(host) {
        Ok(v) => h.insert(HOST, v),
        Err(_) => h.get(HOST).cloned(),
    };
    // One lookup: appended to the client's `X-Forwarded-For`, or the address alone.
    match h.entry(X_FORWARDED_FOR.clone()) {
        Entry::Occupied(mut e) => {
            let joined = e
                .get()
                .to_str()
                .ok()
                .map(|prev| format!("{prev}, {}", ctx.remote.ip()));
            match joined {
                Some(v) => {
                    if let Ok(v) = HeaderValue::from_str(&v) {
                        e.insert(v);
                    }
                }
                None => {
                    e.insert(ctx.remote_ip.clone());
                }
            }
        }
        Entry::Vacant(e) => {
            e.insert(ctx.remote_ip.clone());
        }
    }
    h.insert(X_REAL_IP.clone(), ctx.remote_ip.clone());
    let proto = if ctx.https { "https" } else { "http" };
    h.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(proto));
    let fwd_host = ctx.client_host.split(':').next().unwrap_or("");
    match client_host.filter(|v| v.as_bytes() == fwd_host.as_bytes()) {
        Some(v) => {
            h.insert(X_FORWARDED_HOST.clone(), v);
        }
        None => set(&mut h, &X_FORWARDED_HOST, fwd_host),
    }
    if let Some(p) = &ctx.local_port {
        h.insert(X_FORWARDED_PORT.clone(), p.clone());
    }
    set(&mut h, &X_KONG_REQUEST_ID, &ctx.request_id);
    h
}

#[cfg(test)]
mod tests;
