//! The plain flow: a route with a service (no AI plugin) → the service's URL, Kong's
//! `strip_path`/`preserve_host` rules → upstream; the response body streams back untouched.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::request::Parts;
use http::{Request, Response, StatusCode, Uri};
use hyper::body::Incoming;

use super::body::{boxed, full, LoggedBody, ProxyBody};
use super::forward::upstream_path;
use super::{headers, ms, reply, Ctx};
use crate::llm::sse::SseUsage;
use crate::runtime::CompiledRoute;

pub(super) async fn flow(
    ctx: Ctx,
    route: &CompiledRoute,
    matched_len: usize,
    parts: Parts,
    body: Option<Incoming>,
    buffered: Option<Bytes>,
) -> Response<ProxyBody> {
    let Some(service) = route.service.clone() else {
        return ctx.reply(
            StatusCode::SERVICE_UNAVAILABLE,
            reply::NO_SERVICE.into(),
            vec![],
        );
    };
    if route.balancer.is_some() {
        return super::balanced::flow(ctx, route, matched_len, parts, body, buffered).await;
    }
    let https = matches!(service.protocol.as_str(), "https" | "grpcs");
    let scheme = if https { "https" } else { "http" };
    let default_port = if https { 443 } else { 80 };
    let path = match &ctx.upstream_path {
        Some(p) => p.clone(),
        None => upstream_path(
            service.path.as_deref(),
            route.route.strip_path,
            parts.uri.path(),
            parts.uri.path().get(..matched_len).unwrap_or(""),
        ),
    };
    let pq = match parts.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let uri: Uri = match format!("{scheme}://{}:{}{pq}", service.host, service.port).parse() {
        Ok(u) => u,
        Err(_) => return ctx.reply(StatusCode::BAD_GATEWAY, reply::BAD_UPSTREAM.into(), vec![]),
    };
    let host = if route.route.preserve_host && !ctx.client_host.is_empty() {
        ctx.client_host.clone()
    } else if service.port == default_port {
        service.host.clone()
    } else {
        format!("{}:{}", service.host, service.port)
    };
    let mut headers = headers::into_upstream(&ctx, parts.headers, &host);
    let req_body = match (buffered, body) {
        (Some(b), _) => {
            reply::set(&mut headers, CONTENT_LENGTH.as_str(), &b.len().to_string());
            full(b)
        }
        (None, Some(b)) => boxed(b),
        (None, None) => full(Bytes::new()),
    };
    let mut req = Request::new(req_body);
    *req.method_mut() = parts.method;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    let timeout = Duration::from_millis(service.read_timeout.max(1));
    forward_and_log(ctx, req, timeout).await
}

/// Sends `req`, adds Kong's headers and wraps the body (streamed) for the log phase.
async fn forward_and_log(
    mut ctx: Ctx,
    req: Request<ProxyBody>,
    timeout: Duration,
) -> Response<ProxyBody> {
    let proxy_latency = ctx.started.elapsed();
    ctx.log_upstream(req.uri());
    let sent = Instant::now();
    let resp = match ctx.send(req, timeout).await {
        Ok(r) => r,
        Err((status, msg)) => {
            ctx.record.upstream_latency_ms = Some(ms(sent));
            return ctx.reply(status, msg.into(), vec![]);
        }
    };
    let upstream_latency = sent.elapsed();
    respond(ctx, resp, proxy_latency, upstream_latency)
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
    reply::proxied_headers(
        &mut head.headers,
        &ctx.request_id,
        upstream_latency.as_millis(),
        proxy_latency.as_millis(),
    );
    ctx.header_filter(&mut head.headers);
    ctx.log_response(&head.headers);
    ctx.record.status = head.status.as_u16();
    ctx.record.from_service = true;
    ctx.record.kong_latency_ms = proxy_latency.as_secs_f64() * 1000.0;
    ctx.record.upstream_latency_ms = Some(upstream_latency.as_secs_f64() * 1000.0);
    let finish = ctx.finisher();
    // ai-mcp-proxy requests: the answer is scanned (not buffered) for a JSON-RPC error.
    let rpc = ctx.record.mcp.is_some().then(SseUsage::default);
    let logged = LoggedBody::new(boxed(body), ctx.record, rpc, ctx.started, finish);
    Response::from_parts(head, boxed(logged))
}
