//! Proxy: the request path. Per request: one runtime snapshot → route → plugins (key-auth,
//! AI, prometheus in the log phase) → upstream → response back, streamed. The listener is in
//! `serve`; the two ways to the upstream in `plain` (a service) and `ai` (ai-proxy(-advanced)).

mod ai;
mod balanced;
pub mod body;
pub mod forward;
#[cfg(test)]
mod future_sizes;
mod h1;
mod h1_server;
mod headers;
pub mod listen;
mod log;
mod peer;
mod plain;
mod pool;
mod raw_head;
pub mod reply;
mod scheme;
pub mod serve;
pub mod server_tls;
#[cfg(test)]
mod test_state;
mod transform;
pub mod workers;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};

use crate::plugins::prometheus::{self, LogRecord};
use crate::plugins::resolved::Known;
use crate::plugins::response_headers::HeaderChange;
use crate::plugins::{correlation_id, cors, key_auth, rate_limiting, Instance};
use crate::router::RequestInfo;
use crate::State;
use body::{boxed, BodyWatch, ClientBody, Finisher, LoggedBody, ProxyBody};
use forward::ForwardError;

use peer::request_id;
pub use peer::Peer;
pub use serve::serve;

/// The plugins running after key-auth that read the request's headers (or log them).
const READ_HEADERS_LATER: [Known; 7] = [
    Known::RateLimiting,
    Known::RequestTransformer,
    Known::AiProxyAdvanced,
    Known::AiProxy,
    Known::AiMcpProxy,
    Known::HttpLog,
    Known::FileLog,
];

/// Bodies key-auth reads for `key_in_body` are capped at this size.
const KEY_IN_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Everything one request carries through the phases.
struct Ctx {
    state: Arc<State>,
    request_id: String,
    started: Instant,
    /// The prometheus instance that applies (its config decides what the log phase records).
    prometheus: Option<Arc<Instance>>,
    remote: SocketAddr,
    /// The client's address as a header value (`X-Real-IP`, `X-Forwarded-For`).
    remote_ip: http::HeaderValue,
    /// The port the client connected to, as a header value (`X-Forwarded-Port`).
    local_port: Option<http::HeaderValue>,
    client_host: String,
    /// Boxed: the context moves from phase to phase, the record stays put.
    record: Box<LogRecord>,
    /// Set on every response by the header filter (correlation-id, cors, rate-limiting).
    response_headers: Vec<HeaderChange>,
    /// The log plugins (http-log, file-log) that apply; their log phase runs in the finisher.
    loggers: Vec<Arc<Instance>>,
    /// The upstream path set by request-transformer's `replace.uri` (query kept).
    upstream_path: Option<String>,
    /// Tells whether the client's request body timed out (then any Kong reply becomes 408).
    body_watch: BodyWatch,
    /// A gRPC request: Kong's own replies carry `grpc-status`/`grpc-message`, no body.
    grpc: bool,
    /// The request came over TLS (`X-Forwarded-Proto: https`, `https://` in the log).
    https: bool,
    /// The response is written by our own HTTP/1.1 loop, which takes upstream headers as
    /// bytes (`raw_head`).
    raw_heads: bool,
    /// key-auth's consumer headers, left for the upstream request's writer (`headers::Forwarded`)
    /// because nothing after key-auth reads the request's headers.
    consumer_headers: Option<key_auth::ConsumerHeaders>,
}

impl Ctx {
    fn finisher(&self) -> Finisher {
        // The shared state, not a clone of `Metrics` (two dozen reference counts).
        let state = self.state.clone();
        let prom = self.prometheus.clone();
        let request_id = self.request_id.clone();
        let loggers = self.loggers.clone();
        Box::new(move |rec: Box<LogRecord>| {
            let metrics = &state.metrics;
            log::run(metrics, &loggers, &rec);
            if let Some(ai) = rec.ai.as_ref().filter(|a| a.log_statistics) {
                tracing::debug!(request_id, ai = %ai.to_log_json(), "ai analytics");
            }
            if let Some(Instance::Prometheus(cfg)) = prom.as_deref() {
                prometheus::log(metrics, cfg, &rec);
            }
        })
    }

    /// The header filter and the log record of an answer from the upstream: Kong's headers
    /// (`Via`, the latencies, the request id), the plugins' headers, status and latencies.
    fn answered(
        &mut self,
        head: &mut http::response::Parts,
        proxy_latency: std::time::Duration,
        upstream_latency: std::time::Duration,
    ) {
        reply::proxied(
            head,
            self.heads_as_bytes(),
            &self.request_id,
            upstream_latency.as_millis(),
            proxy_latency.as_millis(),
        );
        self.header_filter(&mut head.headers);
        self.log_response(&head.headers);
        self.record.status = head.status.as_u16();
        self.record.from_service = true;
        self.record.kong_latency_ms = proxy_latency.as_secs_f64() * 1000.0;
        self.record.upstream_latency_ms = Some(upstream_latency.as_secs_f64() * 1000.0);
    }

    /// Whether a proxied answer's headers may stay bytes: our own loop writes the answer, no
    /// plugin sets response headers and no log plugin reads them.
    fn heads_as_bytes(&self) -> bool {
        self.raw_heads && self.response_headers.is_empty() && self.record.log.is_none()
    }

    /// The header filter phase: plugin headers on a proxied or Kong-made response.
    fn header_filter(&self, h: &mut http::HeaderMap) {
        for c in &self.response_headers {
            c.apply(h);
        }
    }

    /// A Kong-made response that still goes through the log phase.
    fn reply(
        mut self,
        status: StatusCode,
        body: String,
        extra: Vec<(http::HeaderName, http::HeaderValue)>,
    ) -> Response<ProxyBody> {
        // nginx's client_body_timeout: whatever failed after the body stalled, the request ends
        // as 408 in the log and the connection closes without a response.
        let timed_out = self.body_watch.timed_out();
        let (status, body) = if timed_out {
            (StatusCode::REQUEST_TIMEOUT, reply::REQUEST_TIMEOUT.into())
        } else {
            (status, body)
        };
        let grpc_body = self.grpc.then(|| body.clone());
        let mut resp = reply::kong(status, body, extra, &self.request_id, self.started);
        if let Some(b) = grpc_body {
            resp = reply::grpc(resp, &b);
        }
        if timed_out {
            resp.extensions_mut().insert(body::Terminate);
        }
        self.header_filter(resp.headers_mut());
        self.log_response(resp.headers());
        self.record.status = status.as_u16();
        self.record.from_service = false;
        self.record.kong_latency_ms = ms(self.started);
        let finish = self.finisher();
        let (parts, b) = resp.into_parts();
        let logged = LoggedBody::new(b, self.record, None, self.started, finish);
        Response::from_parts(parts, boxed(logged))
    }

    /// Kong's 502/504 for a failed upstream exchange.
    fn upstream_failed(&self, e: ForwardError) -> (StatusCode, &'static str) {
        match e {
            ForwardError::Timeout => (StatusCode::GATEWAY_TIMEOUT, reply::UPSTREAM_TIMEOUT),
            e => {
                tracing::warn!(request_id = %self.request_id, error = %e, "upstream request failed");
                (StatusCode::BAD_GATEWAY, reply::BAD_UPSTREAM)
            }
        }
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Serves one request from `peer`. `raw_heads`: the caller writes the response itself and
/// takes upstream headers as bytes (`raw_head::RawHead` in the response's extensions).
// Not an `async fn`, which would keep its arguments twice (rust-lang/rust#62958): the
// future holds each once.
#[allow(clippy::manual_async_fn)]
pub fn handle(
    state: Arc<State>,
    req: Request<body::ClientSource>,
    peer: &Peer,
    raw_heads: bool,
) -> impl Future<Output = Response<ProxyBody>> + Send + '_ {
    async move {
        let (remote, local) = (peer.remote, peer.local);
        let started = Instant::now();
        state.metrics.request_seen();
        let rt = state.runtime.load_full();
        let request_id = request_id();
        let (mut parts, body) = req.into_parts();
        let (body, body_watch) = ClientBody::new(body, peer.body_read_timeout);
        let grpc = reply::is_grpc(parts.version, &parts.headers);
        let early = |status, msg: &str| {
            let r = reply::kong(status, msg, vec![], &request_id, started);
            if grpc {
                reply::grpc(r, msg)
            } else {
                r
            }
        };
        if let Err(e) = headers::check_head(&parts.uri, &parts.headers) {
            let (status, msg) = match e {
                headers::HeadTooLarge::Uri => (StatusCode::URI_TOO_LONG, reply::URI_TOO_LONG),
                headers::HeadTooLarge::Headers => {
                    (StatusCode::BAD_REQUEST, reply::HEADER_TOO_LARGE)
                }
            };
            return early(status, msg);
        }
        let client_host = parts
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()))
            .unwrap_or_default();
        let found = rt.router.find(&RequestInfo {
            method: parts.method.as_str(),
            host: &client_host,
            path: parts.uri.path(),
            headers: &parts.headers,
            sni: peer.sni.as_deref(),
            https: peer.https,
        });
        let Some((m, route)) = found.and_then(|m| rt.routes.get(m.index).map(|r| (m, r))) else {
            return early(StatusCode::NOT_FOUND, reply::NO_ROUTE);
        };
        let route_id = route.route.id;
        let service_id = route.service.as_ref().map(|s| s.id);
        let find = |p, consumer| {
            route
                .plugins
                .get(p, &rt.plugins, route_id, service_id, consumer)
        };
        let mut ctx = Ctx {
            state: state.clone(),
            request_id,
            started,
            prometheus: find(Known::Prometheus, None),
            remote,
            remote_ip: peer.remote_ip.clone(),
            local_port: peer.local_port.clone(),
            client_host,
            record: Box::new(LogRecord {
                service: route.service_label(),
                route: route.label(),
                bytes_in: content_length(&parts.headers),
                ..Default::default()
            }),
            response_headers: Vec::new(),
            loggers: Vec::new(),
            upstream_path: None,
            body_watch,
            grpc,
            https: peer.https,
            raw_heads,
            consumer_headers: None,
        };
        ctx.start_log(&rt, route, &parts, None);
        if let Some(r) = scheme::enforce(&route.route, peer.https, &ctx.client_host, &parts.uri) {
            let mut resp = ctx.reply(r.status, r.body.into(), r.headers);
            if r.body.is_empty() {
                resp.headers_mut().remove(http::header::CONTENT_TYPE);
            }
            return resp;
        }

        // correlation-id (priority 100001), before authentication: never consumer-scoped here.
        if let Some(inst) = find(Known::CorrelationId, None) {
            if let Instance::CorrelationId(cfg) = &*inst {
                if let Some(c) = correlation_id::access(cfg, &mut parts, local) {
                    if c.echo {
                        ctx.response_headers
                            .push(HeaderChange::Set(c.name, c.value));
                    }
                }
            }
        }

        // cors (priority 2000): a preflight is answered here, with no body.
        if let Some(inst) = find(Known::Cors, None) {
            if let Instance::Cors(plugin) = &*inst {
                match plugin.access(&parts) {
                    cors::Access::Continue(changes) => ctx.response_headers.extend(changes),
                    cors::Access::Preflight(changes) => {
                        ctx.response_headers.extend(changes);
                        let mut resp = ctx.reply(StatusCode::OK, String::new(), vec![]);
                        resp.headers_mut().remove(http::header::CONTENT_TYPE);
                        return resp;
                    }
                }
            }
        }

        // key-auth (priority 1250), never consumer-scoped.
        let mut body = Some(body);
        let mut buffered: Option<Bytes> = None;
        let mut consumer = None;
        let mut credential = None;
        if let Some(inst) = find(Known::KeyAuth, None) {
            if let Instance::KeyAuth(cfg) = &*inst {
                if cfg.key_in_body {
                    match Box::pin(read_body(body.take(), KEY_IN_BODY_LIMIT)).await {
                        Ok(b) => buffered = Some(b),
                        Err(_) => {
                            return ctx.reply(
                                StatusCode::PAYLOAD_TOO_LARGE,
                                r#"{"message":"Request body is too large"}"#.into(),
                                vec![],
                            )
                        }
                    }
                }
                // Nothing after key-auth reads the request's headers (no plugin that does may
                // apply, whoever the consumer; no balancer): its consumer headers are written
                // beside the upstream request's map instead of inserted into the client's.
                let beside = route.balancer.is_none() && route.plugins.none_of(&READ_HEADERS_LATER);
                match key_auth::access(cfg, &rt.consumers, &mut parts, buffered.as_mut(), beside) {
                    Ok(Some(a)) => {
                        credential = a.credential;
                        ctx.consumer_headers = a.headers;
                        consumer = Some(a.consumer);
                    }
                    Ok(None) => {}
                    Err(rej) => return ctx.reply(rej.status, rej.body, rej.headers),
                }
            }
        }
        let consumer_id = consumer.as_ref().map(|c| c.id);
        if consumer.is_some() {
            ctx.start_log(&rt, route, &parts, consumer.as_deref());
        }
        ctx.record.consumer = consumer
            .as_ref()
            .and_then(|c| c.username.clone().or_else(|| c.custom_id.clone()));
        if consumer_id.is_some() {
            ctx.prometheus = find(Known::Prometheus, consumer_id);
        }

        // rate-limiting (priority 910).
        if let Some(inst) = find(Known::RateLimiting, consumer_id) {
            if let Instance::RateLimiting(rl) = &*inst {
                let client = rate_limiting::Client {
                    consumer: consumer_id,
                    credential,
                    service: service_id,
                    headers: &parts.headers,
                    path: parts.uri.path(),
                    ip: remote.ip(),
                };
                match rl.access(&client) {
                    rate_limiting::Outcome::Allowed(h) => ctx.response_headers.extend(h),
                    rate_limiting::Outcome::Refused {
                        status,
                        body,
                        headers,
                    } => return ctx.reply(status, body, headers),
                }
            }
        }

        // request-transformer (priority 801).
        if let Some(inst) = find(Known::RequestTransformer, consumer_id) {
            if let Instance::RequestTransformer(cfg) = &*inst {
                let paths = route.route.paths.as_deref().unwrap_or_default();
                let r = Box::pin(transform::request(
                    &mut ctx,
                    cfg,
                    paths,
                    &mut parts,
                    &mut body,
                    &mut buffered,
                ))
                .await;
                if let Err(e) = r {
                    let (status, msg) = e.reply();
                    return ctx.reply(status, msg.into(), vec![]);
                }
            }
        }

        // ai-proxy(-advanced) (priority 770).
        let ai = [Known::AiProxyAdvanced, Known::AiProxy]
            .into_iter()
            .find_map(|p| find(p, consumer_id));
        if let Some(inst) = ai {
            if let Instance::Ai(plugin) = &*inst {
                let service = route.service.as_deref();
                return ai::flow(ctx, plugin, parts, body, buffered, service).await;
            }
        }
        // ai-mcp-proxy (passthrough-listener): the JSON-RPC call is read for the log phase.
        if let Some(inst) = find(Known::AiMcpProxy, consumer_id) {
            if let (Instance::Mcp(mcp), &http::Method::POST) = (&*inst, &parts.method) {
                let bytes = match buffered.take() {
                    Some(b) => b,
                    None => match Box::pin(read_body(body.take(), mcp.body_limit())).await {
                        Ok(b) => b,
                        Err(_) => {
                            return ctx.reply(
                                StatusCode::PAYLOAD_TOO_LARGE,
                                mcp.too_large(),
                                vec![],
                            )
                        }
                    },
                };
                ctx.record.mcp = Some(mcp.observe(&bytes));
                buffered = Some(bytes);
            }
        }
        plain::flow(ctx, route, m.matched_len, parts, body, buffered).await
    }
}

fn content_length(h: &http::HeaderMap) -> u64 {
    h.get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn read_body(body: Option<ClientBody>, limit: usize) -> Result<Bytes, body::BoxError> {
    match body {
        Some(b) => Ok(Limited::new(b, limit).collect().await?.to_bytes()),
        None => Ok(Bytes::new()),
    }
}
