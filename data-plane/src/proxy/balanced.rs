//! The balanced flow: a route whose service host names an upstream → one target per attempt
//! from the upstream's balancer, retried on another target after a connect failure (up to the
//! service's `retries`, as Kong's balancer does) → the response streams back while the target
//! counts as in flight; each outcome feeds passive health checks.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::request::Parts;
use http::{Method, Request, Response, StatusCode, Uri};
use http_body::Body as _;
use proto::schema::Service;

use super::body::{boxed, full, ClientBody, ProxyBody};
use super::forward::{upstream_path, ForwardError};
use super::{headers, ms, plain, read_body, reply, Ctx};
use crate::router::captures::UriCaptures;
use crate::runtime::CompiledRoute;
use crate::upstream::guard::Guarded;
use crate::upstream::hash_key::RequestFacts;
use crate::upstream::health::Outcome;
use crate::upstream::NO_PEER;

/// Request bodies up to this size are read up front so that a retry can send them again
/// (Kong's `request_buffering`); larger or unsized bodies stream and get a single attempt.
const REPLAY_LIMIT: u64 = 1024 * 1024;

/// The request body: kept for replays, or streamed once.
enum ReqBody {
    Replay { bytes: Bytes, set_length: bool },
    Stream(Option<ClientBody>),
}

pub(super) async fn flow(
    mut ctx: Ctx,
    route: &CompiledRoute,
    matched_len: usize,
    mut parts: Parts,
    body: Option<ClientBody>,
    buffered: Option<Bytes>,
) -> Response<ProxyBody> {
    let (Some(service), Some(balancer)) = (route.service.clone(), route.balancer.clone()) else {
        return ctx.reply(
            StatusCode::SERVICE_UNAVAILABLE,
            reply::NO_SERVICE.into(),
            vec![],
        );
    };
    let scheme = if service.uses_tls() { "https" } else { "http" };
    let default_port = service.default_port();
    let path = upstream_path(
        service.path.as_deref(),
        route.route.strip_path,
        parts.uri.path(),
        parts.uri.path().get(..matched_len).unwrap_or(""),
    );
    let pq = match parts.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let client_ip = ctx.remote.ip().to_string();
    let captures = if balancer.hashes_on_captures() {
        let paths = route.route.paths.as_deref().unwrap_or_default();
        UriCaptures::of(paths, parts.uri.path())
    } else {
        None
    };
    let key = balancer.hash_key(&RequestFacts {
        consumer: ctx.record.consumer.as_deref(),
        client_ip: &client_ip,
        headers: &parts.headers,
        path: parts.uri.path(),
        query: parts.uri.query(),
        captures: captures.as_ref(),
    });
    let mut req_body = match (buffered, body) {
        (Some(b), _) => ReqBody::Replay {
            bytes: b,
            set_length: true,
        },
        (None, None) => ReqBody::Replay {
            bytes: Bytes::new(),
            set_length: false,
        },
        (None, Some(b)) if b.is_end_stream() => ReqBody::Replay {
            bytes: Bytes::new(),
            set_length: false,
        },
        (None, Some(b)) if replayable(&service, route, &b) => {
            match read_body(Some(b), REPLAY_LIMIT as usize).await {
                Ok(bytes) => ReqBody::Replay {
                    bytes,
                    set_length: true,
                },
                Err(_) => {
                    return ctx.reply(
                        StatusCode::BAD_REQUEST,
                        r#"{"message":"Bad request"}"#.into(),
                        vec![],
                    )
                }
            }
        }
        (None, Some(b)) => ReqBody::Stream(Some(b)),
    };
    let tries = match req_body {
        ReqBody::Replay { .. } => service.retries.saturating_add(1),
        ReqBody::Stream(_) => 1,
    };
    let idempotent = matches!(
        parts.method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    );
    let timeout = Duration::from_millis(service.read_timeout.max(1));
    let proxy_latency = ctx.started.elapsed();
    let mut tried: Vec<usize> = Vec::new();
    loop {
        let Some((i, target)) = balancer
            .pick(key.as_deref(), &tried)
            .and_then(|i| balancer.target(i).map(|t| (i, t)))
        else {
            return ctx.reply(StatusCode::SERVICE_UNAVAILABLE, NO_PEER.into(), vec![]);
        };
        tried.push(i);
        let uri: Uri = match format!("{scheme}://{}:{}{pq}", target.host, target.port).parse() {
            Ok(u) => u,
            Err(_) => {
                return ctx.reply(StatusCode::BAD_GATEWAY, reply::BAD_UPSTREAM.into(), vec![])
            }
        };
        let host = if route.route.preserve_host && !ctx.client_host.is_empty() {
            ctx.client_host.clone()
        } else {
            let h = balancer.host_header.as_deref().unwrap_or(&target.host);
            if target.port == default_port {
                h.to_string()
            } else {
                format!("{h}:{}", target.port)
            }
        };
        let mut headers = headers::upstream(&ctx, &parts, &host);
        let b = match &mut req_body {
            ReqBody::Replay { bytes, set_length } => {
                if *set_length {
                    reply::set(
                        &mut headers,
                        CONTENT_LENGTH.as_str(),
                        &bytes.len().to_string(),
                    );
                }
                full(bytes.clone())
            }
            ReqBody::Stream(s) => s.take().map(boxed).unwrap_or_else(|| full(Bytes::new())),
        };
        let mut req = Request::new(b);
        *req.method_mut() = parts.method.clone();
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        super::forward::for_service(&mut req, route, &mut parts.extensions);
        ctx.log_upstream(req.uri());
        let guard = balancer.start(i);
        let sent = Instant::now();
        let err = match ctx.state.upstream.send(req, timeout).await {
            Ok(resp) => {
                let latency = sent.elapsed();
                balancer.report(i, Outcome::Status(resp.status().as_u16()), Some(latency));
                let resp = resp.map(|b| Guarded::new(b, guard));
                return plain::respond(ctx, resp, proxy_latency, latency);
            }
            Err(e) => e,
        };
        drop(guard);
        ctx.record.upstream_latency_ms = Some(ms(sent));
        if ctx.body_watch.timed_out() {
            // The client stalled, not the target: no health report, no retry.
            return ctx.reply(StatusCode::REQUEST_TIMEOUT, String::new(), vec![]);
        }
        let (outcome, retry) = match &err {
            ForwardError::Connect(_) => (Outcome::TcpFailure, true),
            ForwardError::Timeout => (Outcome::Timeout, idempotent),
            _ => (Outcome::TcpFailure, idempotent),
        };
        balancer.report(i, outcome, None);
        tracing::warn!(
            request_id = %ctx.request_id, upstream = %balancer.name, target = %target.name,
            try_number = tried.len(), error = %err, "upstream target failed"
        );
        if retry && (tried.len() as u64) < u64::from(tries) {
            continue;
        }
        let (status, msg) = match err {
            ForwardError::Timeout => (StatusCode::GATEWAY_TIMEOUT, reply::UPSTREAM_TIMEOUT),
            _ => (StatusCode::BAD_GATEWAY, reply::BAD_UPSTREAM),
        };
        return ctx.reply(status, msg.into(), vec![]);
    }
}

/// Whether a body with content is read up front for retries: the service retries, the route
/// buffers requests and the declared length is small.
fn replayable(service: &Service, route: &CompiledRoute, body: &ClientBody) -> bool {
    service.retries > 0
        && route.route.request_buffering
        && body.size_hint().exact().is_some_and(|n| n <= REPLAY_LIMIT)
}
