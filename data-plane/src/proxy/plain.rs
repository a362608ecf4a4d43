//! The plain flow: a route with a service (no AI plugin) → the service's URL, Kong's
//! `strip_path`/`preserve_host` rules → upstream; the response body streams back untouched.

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, HOST};
use http::request::Parts;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, StatusCode, Uri};

use super::body::{boxed, full, ClientBody, LoggedBody, ProxyBody};
use super::forward::upstream_path;
use super::h1;
use super::{headers, ms, reply, Ctx};
use crate::llm::sse::SseUsage;
use crate::runtime::CompiledRoute;

// Not an `async fn`, which would keep its arguments twice (rust-lang/rust#62958): the
// future holds each once.
#[allow(clippy::manual_async_fn)]
pub(super) fn flow(
    mut ctx: Ctx,
    route: &CompiledRoute,
    matched_len: usize,
    mut parts: Parts,
    body: Option<ClientBody>,
    buffered: Option<Bytes>,
) -> impl Future<Output = Response<ProxyBody>> + Send + '_ {
    async move {
        let Some(service) = route.service.as_deref() else {
            return ctx.reply(
                StatusCode::SERVICE_UNAVAILABLE,
                reply::NO_SERVICE.into(),
                vec![],
            );
        };
        if route.balancer.is_some() {
            // Boxed, as every path off the common one: the request's future stays small (it is
            // moved as it is built).
            return Box::pin(super::balanced::flow(
                ctx,
                route,
                matched_len,
                parts,
                body,
                buffered,
            ))
            .await;
        }
        let scheme = if service.uses_tls() {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        };
        let path = match &ctx.upstream_path {
            Some(p) => p.clone(),
            None => upstream_path(
                service.path.as_deref(),
                route.route.strip_path,
                parts.uri.path(),
                parts.uri.path().get(..matched_len).unwrap_or(""),
            ),
        };
        let uri = route
            .authority
            .as_ref()
            .and_then(|a| upstream_uri(scheme, a, path, parts.uri.query()));
        let Some(uri) = uri else {
            return ctx.reply(StatusCode::BAD_GATEWAY, reply::BAD_UPSTREAM.into(), vec![]);
        };
        // The client's `Host` value itself when the route preserves it (no copy), else the
        // service's, made when the config was compiled.
        let host = if route.route.preserve_host && !ctx.client_host.is_empty() {
            match parts.headers.get(HOST) {
                Some(v) if v.as_bytes() == ctx.client_host.as_bytes() => Some(v.clone()),
                _ => HeaderValue::from_str(&ctx.client_host).ok(),
            }
        } else {
            route.upstream_host.clone()
        };
        let (mut headers, fwd) = headers::into_upstream(&ctx, parts.headers, host);
        let req_body = match (buffered, body) {
            (Some(b), _) => {
                headers.insert(CONTENT_LENGTH, HeaderValue::from(b.len()));
                full(b)
            }
            (None, Some(b)) => boxed(b),
            (None, None) => full(Bytes::new()),
        };
        let mut req = Request::new(req_body);
        *req.method_mut() = parts.method;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        super::forward::for_service(&mut req, route, &mut parts.extensions);
        let timeout = Duration::from_millis(service.read_timeout.max(1));
        // The answer's headers may stay bytes when the client's loop writes them and nothing here
        // reads or sets response headers.
        let opts = h1::Options {
            forwarded: Some(fwd),
            raw_head: ctx.heads_as_bytes(),
        };
        // Sent from here, not from a helper `async fn`: a future keeps its arguments for as long as
        // it lives, and the request and options would be kept twice.
        let proxy_latency = ctx.started.elapsed();
        ctx.log_upstream(req.uri());
        let sent = Instant::now();
        let resp = match ctx.state.upstream.send_with(req, opts, timeout).await {
            Ok(r) => r,
            Err(e) => {
                let (status, msg) = ctx.upstream_failed(e);
                ctx.record.upstream_latency_ms = Some(ms(sent));
                return ctx.reply(status, msg.into(), vec![]);
            }
        };
        let upstream_latency = sent.elapsed();
        respond(ctx, resp, proxy_latency, upstream_latency)
    }
}

/// `scheme://authority/path?query`, the path and query written into one buffer and parsed in
/// place (the authority was parsed when the config was compiled).
fn upstream_uri(
    scheme: Scheme,
    authority: &Authority,
    path: String,
    query: Option<&str>,
) -> Option<Uri> {
    let target = match query {
        Some(q) => {
            let mut s = path;
            s.reserve(q.len() + 1);
            s.push('?');
            s.push_str(q);
            s
        }
        None => path,
    };
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(scheme);
    parts.authority = Some(authority.clone());
    parts.path_and_query = Some(PathAndQuery::from_maybe_shared(Bytes::from(target)).ok()?);
    Uri::from_parts(parts).ok()
}

/// Adds Kong's headers to an upstream response and wraps its body (streamed) for the log
/// phase.
pub(super) fn respond<B>(
    mut ctx: Ctx,
    resp: Response<B>,
    proxy_latency: Duration,
    upstream_latency: Duration,
) -> Response<ProxyBody>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<super::body::BoxError>,
{
    let (mut head, body) = resp.into_parts();
    ctx.answered(&mut head, proxy_latency, upstream_latency);
    let finish = ctx.finisher();
    // ai-mcp-proxy requests: the answer is scanned (not buffered) for a JSON-RPC error.
    let rpc = ctx.record.mcp.is_some().then(SseUsage::default);
    let logged = LoggedBody::new(boxed(body), ctx.record, rpc, ctx.started, finish);
    Response::from_parts(head, boxed(logged))
}

#[cfg(test)]
mod tests {
    use super::{upstream_uri, Authority, Scheme};

    #[test]
    fn upstream_uris() {
        let a = Authority::from_static("127.0.0.1:8080");
        let u = upstream_uri(Scheme::HTTP, &a, "/a/b".into(), Some("x=1&y")).unwrap();
        assert_eq!(u.to_string(), "http://127.0.0.1:8080/a/b?x=1&y");
        assert_eq!(u.authority().unwrap().as_str(), "127.0.0.1:8080");
        let a = Authority::from_static("example.com:443");
        let u = upstream_uri(Scheme::HTTPS, &a, "/".into(), None).unwrap();
        assert_eq!(u.to_string(), "https://example.com:443/");
        assert!(upstream_uri(Scheme::HTTP, &a, "/a b".into(), None).is_none());
        assert!(Authority::try_from("bad host:80").is_err());
    }
}
