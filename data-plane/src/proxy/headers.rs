//! Upstream request headers: the client's headers minus hop-by-hop ones, plus `Host`,
//! `X-Forwarded-*`, `X-Real-IP` and `X-Kong-Request-Id` (what Kong's nginx template sets).

use http::header::{HeaderName, HeaderValue, HOST};
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

fn set(h: &mut HeaderMap, name: &HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name.clone(), v);
    }
}

/// The headers sent upstream for a request from `ctx`'s client, with `Host: host`.
pub(super) fn upstream(ctx: &Ctx, parts: &Parts, host: &str) -> HeaderMap {
    let mut h = parts.headers.clone();
    reply::strip_hop_by_hop(&mut h);
    set(&mut h, &HOST, host);
    let ip = ctx.remote.ip().to_string();
    let xff = match h.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prev) => format!("{prev}, {ip}"),
        None => ip.clone(),
    };
    set(&mut h, &X_FORWARDED_FOR, &xff);
    set(&mut h, &X_REAL_IP, &ip);
    h.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
    let fwd_host = ctx.client_host.split(':').next().unwrap_or("");
    set(&mut h, &X_FORWARDED_HOST, fwd_host);
    if let Some(l) = ctx.local {
        h.insert(X_FORWARDED_PORT.clone(), HeaderValue::from(l.port()));
    }
    set(&mut h, &X_KONG_REQUEST_ID, &ctx.request_id);
    h
}
