//! Upstream request headers: the client's headers minus hop-by-hop ones, plus `Host`,
//! `X-Forwarded-*`, `X-Real-IP` and `X-Kong-Request-Id` (what Kong's nginx template sets); and
//! the request head limits nginx applies before Kong sees a request.

use http::header::{HeaderName, HeaderValue, HOST};
use http::request::Parts;
use http::HeaderMap;

use super::reply;
use super::Ctx;
use crate::plugins::key_auth::{set_consumer_headers, ConsumerHeaders};

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static HOST_NAME: HeaderName = HOST;
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

/// The headers the proxy sets on every upstream request: `Host`, `X-Forwarded-*`, `X-Real-IP`
/// and `X-Kong-Request-Id` (what Kong's nginx template sets). They are kept apart from the
/// client's map: the HTTP/1.1 encoder writes them after the client's headers, skipping the
/// client's own of the same names (no map insertions on the request path); any other sender
/// `apply`s them to the map first.
#[derive(Debug, Clone)]
pub(super) struct Forwarded {
    /// `None`: the host was not a valid value; the client's `Host` goes on.
    host: Option<HeaderValue>,
    forwarded_for: HeaderValue,
    real_ip: HeaderValue,
    proto: HeaderValue,
    /// `None` (not a valid value): the client's own `X-Forwarded-Host` goes on.
    forwarded_host: Option<HeaderValue>,
    /// `None` (port unknown): the client's own `X-Forwarded-Port` goes on.
    port: Option<HeaderValue>,
    request_id: Option<HeaderValue>,
    /// key-auth's consumer headers, when it left them to be written here.
    consumer: Option<ConsumerHeaders>,
}

impl Forwarded {
    /// What to set for a request from `ctx`'s client whose headers are `h`, with `Host: host`
    /// (`None`: the client's goes on).
    pub(super) fn new(ctx: &Ctx, h: &HeaderMap, host: Option<HeaderValue>) -> Self {
        // The client's `X-Forwarded-For` (the first, as nginx's
        // `$proxy_add_x_forwarded_for` reads it) with the address appended.
        let forwarded_for = h
            .get(&X_FORWARDED_FOR)
            .and_then(|prev| prev.to_str().ok())
            .and_then(|prev| HeaderValue::from_str(&format!("{prev}, {}", ctx.remote.ip())).ok())
            .unwrap_or_else(|| ctx.remote_ip.clone());
        let fwd_host = ctx.client_host.split(':').next().unwrap_or("");
        // The client's `Host` value itself when it is that very text (no new value).
        let forwarded_host = match h.get(HOST) {
            Some(v) if v.as_bytes() == fwd_host.as_bytes() => Some(v.clone()),
            _ => HeaderValue::from_str(fwd_host).ok(),
        };
        Forwarded {
            host,
            forwarded_for,
            real_ip: ctx.remote_ip.clone(),
            proto: HeaderValue::from_static(if ctx.https { "https" } else { "http" }),
            forwarded_host,
            port: ctx.local_port.clone(),
            request_id: HeaderValue::from_str(&ctx.request_id).ok(),
            consumer: ctx.consumer_headers.clone(),
        }
    }

    /// The proxy's own headers that are set, in the order they are written (`Host` first).
    fn lines(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        [
            (&HOST_NAME, self.host.as_ref()),
            (&X_FORWARDED_FOR, Some(&self.forwarded_for)),
            (&X_REAL_IP, Some(&self.real_ip)),
            (&X_FORWARDED_PROTO, Some(&self.proto)),
            (&X_FORWARDED_HOST, self.forwarded_host.as_ref()),
            (&X_FORWARDED_PORT, self.port.as_ref()),
            (&X_KONG_REQUEST_ID, self.request_id.as_ref()),
        ]
        .into_iter()
        .filter_map(|(n, v)| v.map(|v| (n, v)))
    }

    /// Whether `Host` is among them.
    pub(super) fn has_host(&self) -> bool {
        self.host.is_some()
    }

    /// Whether the client's header `name` is replaced by one of these (then it is not sent).
    pub(super) fn replaces(&self, name: &HeaderName) -> bool {
        let s = name.as_str();
        // Every name here but `Host` is an `x-` name of 9 or more letters.
        if s.len() < 9 || !s.starts_with("x-") {
            return *name == HOST && self.host.is_some();
        }
        match s {
            "x-forwarded-for" | "x-real-ip" | "x-forwarded-proto" => true,
            "x-forwarded-host" => self.forwarded_host.is_some(),
            "x-forwarded-port" => self.port.is_some(),
            "x-kong-request-id" => self.request_id.is_some(),
            n => self.consumer.is_some() && ConsumerHeaders::names(n),
        }
    }

    /// Writes the lines, each through `line(name, value)`.
    pub(super) fn write(&self, mut line: impl FnMut(&[u8], &[u8])) {
        for (n, v) in self.lines() {
            line(n.as_str().as_bytes(), v.as_bytes());
        }
        if let Some(c) = &self.consumer {
            c.write(line);
        }
    }

    /// How many bytes `write` adds (for one reservation of the head).
    pub(super) fn len(&self) -> usize {
        let mut n = 0;
        self.write(|name, value| n += name.len() + value.len() + 4);
        n
    }

    /// Sets them in `h` (for a sender that takes a map).
    pub(super) fn apply(self, h: &mut HeaderMap) {
        for (n, v) in self.lines() {
            h.insert(n.clone(), v.clone());
        }
        if let Some(c) = &self.consumer {
            set_consumer_headers(h, c);
        }
    }
}

/// The headers sent upstream for a request from `ctx`'s client, with `Host: host`, in one map.
pub(super) fn upstream(ctx: &Ctx, parts: &Parts, host: &str) -> HeaderMap {
    let host = HeaderValue::from_str(host).ok();
    let (mut h, fwd) = into_upstream(ctx, parts.headers.clone(), host);
    fwd.apply(&mut h);
    h
}

/// The client's headers themselves (no copy) without hop-by-hop ones, and what the proxy sets
/// next to them, with `Host: host` (`None`: the client's goes on).
pub(super) fn into_upstream(
    ctx: &Ctx,
    mut h: HeaderMap,
    host: Option<HeaderValue>,
) -> (HeaderMap, Forwarded) {
    reply::strip_hop_by_hop(&mut h);
    let fwd = Forwarded::new(ctx, &h, host);
    (h, fwd)
}

#[cfg(test)]
mod tests;
