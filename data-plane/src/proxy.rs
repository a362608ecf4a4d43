//! Proxy: the client-facing listener. Per request: one runtime snapshot → route → plugins
//! (key-auth, AI, prometheus in log phase) → upstream → response back, streamed.

pub mod body;
pub mod forward;
pub mod reply;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::request::Parts;
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use proto::schema::plugins::prometheus::PrometheusConfig;
use tokio::net::TcpListener;

use crate::llm::sse::SseUsage;
use crate::plugins::ai_proxy::AiPlugin;
use crate::plugins::prometheus::{self, LogRecord};
use crate::plugins::{key_auth, Instance};
use crate::router::RequestInfo;
use crate::runtime::CompiledRoute;
use crate::State;
use body::{boxed, full, Finisher, LoggedBody, ProxyBody};
use forward::{upstream_path, ForwardError};

/// Bodies key-auth reads for `key_in_body` are capped at this size.
const KEY_IN_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Accepts connections forever (HTTP/1.1 and h2c on the same port).
pub async fn serve(listener: TcpListener, state: Arc<State>) {
    let local = listener.local_addr().ok();
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "proxy accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().ok().or(local);
        state.metrics.connection_opened();
        let state = state.clone();
        tokio::spawn(async move {
            let metrics = state.metrics.clone();
            let svc = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(state, req, remote, local).await) }
            });
            let conn = auto::Builder::new(TokioExecutor::new());
            if let Err(e) = conn.serve_connection(TokioIo::new(stream), svc).await {
                tracing::debug!(error = %e, "proxy connection ended with error");
            }
            metrics.connection_closed();
        });
    }
}

/// Everything one request carries through the phases.
struct Ctx {
    state: Arc<State>,
    request_id: String,
    started: Instant,
    prometheus: Option<PrometheusConfig>,
    remote: SocketAddr,
    local: Option<SocketAddr>,
    client_host: String,
    record: LogRecord,
}

impl Ctx {
    fn finisher(&self) -> Finisher {
        let metrics = self.state.metrics.clone();
        let prom = self.prometheus.clone();
        let request_id = self.request_id.clone();
        Box::new(move |rec: LogRecord| {
            if let Some(ai) = rec.ai.as_ref().filter(|a| a.log_statistics) {
                tracing::debug!(request_id, ai = %ai.to_log_json(), "ai analytics");
            }
            if let Some(cfg) = prom {
                prometheus::log(&metrics, &cfg, &rec);
            }
        })
    }

    /// A Kong-made response that still goes through the log phase.
    fn reply(
        mut self,
        status: StatusCode,
        body: String,
        extra: Vec<(http::HeaderName, HeaderValue)>,
    ) -> Response<ProxyBody> {
        let resp = reply::kong(status, body, extra, &self.request_id, self.started);
        self.record.status = status.as_u16();
        self.record.from_service = false;
        self.record.kong_latency_ms = ms(self.started);
        let finish = self.finisher();
        let (parts, b) = resp.into_parts();
        let logged = LoggedBody::new(b, self.record, None, self.started, finish);
        Response::from_parts(parts, boxed(logged))
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

pub async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
    remote: SocketAddr,
    local: Option<SocketAddr>,
) -> Response<ProxyBody> {
    let started = Instant::now();
    state.metrics.request_seen();
    let rt = state.runtime.load_full();
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let (mut parts, body) = req.into_parts();
    let client_host = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let found = rt.router.find(&RequestInfo {
        method: parts.method.as_str(),
        host: &client_host,
        path: &path,
        headers: &parts.headers,
    });
    let Some((m, route)) = found.and_then(|m| rt.routes.get(m.index).map(|r| (m, r))) else {
        return reply::kong(
            StatusCode::NOT_FOUND,
            reply::NO_ROUTE,
            vec![],
            &request_id,
            started,
        );
    };
    let route_id = route.route.id;
    let service_id = route.service.as_ref().map(|s| s.id);
    let mut ctx = Ctx {
        state: state.clone(),
        request_id,
        started,
        prometheus: prometheus_cfg(&rt, route_id, service_id, None),
        remote,
        local,
        client_host,
        record: LogRecord {
            service: route.service_label(),
            route: route.label(),
            bytes_in: content_length(&parts.headers),
            ..Default::default()
        },
    };

    // key-auth (priority 1250), never consumer-scoped.
    let mut body = Some(body);
    let mut buffered: Option<Bytes> = None;
    let mut consumer = None;
    if let Some(inst) = rt.plugins.lookup("key-auth", route_id, service_id, None) {
        if let Instance::KeyAuth(cfg) = &*inst {
            if cfg.key_in_body {
                match read_body(body.take(), KEY_IN_BODY_LIMIT).await {
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
            match key_auth::access(cfg, &rt.consumers, &mut parts, buffered.as_mut()) {
                Ok(a) => consumer = a.map(|a| a.consumer),
                Err(rej) => return ctx.reply(rej.status, rej.body, rej.headers),
            }
        }
    }
    let consumer_id = consumer.as_ref().map(|c| c.id);
    ctx.record.consumer = consumer
        .as_ref()
        .and_then(|c| c.username.clone().or_else(|| c.custom_id.clone()));
    if consumer_id.is_some() {
        ctx.prometheus = prometheus_cfg(&rt, route_id, service_id, consumer_id);
    }

    // ai-proxy(-advanced) (priority 770).
    let ai = ["ai-proxy-advanced", "ai-proxy"]
        .iter()
        .find_map(|n| rt.plugins.lookup(n, route_id, service_id, consumer_id));
    if let Some(inst) = ai {
        if let Instance::Ai(plugin) = &*inst {
            return ai_flow(ctx, plugin, parts, body, buffered).await;
        }
    }
    plain_flow(ctx, route, &m.matched_path, parts, body, buffered).await
}

fn prometheus_cfg(
    rt: &crate::runtime::Runtime,
    route: uuid::Uuid,
    service: Option<uuid::Uuid>,
    consumer: Option<uuid::Uuid>,
) -> Option<PrometheusConfig> {
    match rt
        .plugins
        .lookup("prometheus", route, service, consumer)
        .as_deref()
    {
        Some(Instance::Prometheus(c)) => Some(c.clone()),
        _ => None,
    }
}

fn content_length(h: &http::HeaderMap) -> u64 {
    h.get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn read_body(body: Option<Incoming>, limit: usize) -> Result<Bytes, body::BoxError> {
    match body {
        Some(b) => Ok(Limited::new(b, limit).collect().await?.to_bytes()),
        None => Ok(Bytes::new()),
    }
}

/// Upstream request headers: client headers minus hop-by-hop, plus Host, X-Forwarded-*,
/// X-Real-IP and X-Kong-Request-Id.
fn upstream_headers(ctx: &Ctx, parts: &Parts, host: &str) -> http::HeaderMap {
    let mut h = parts.headers.clone();
    reply::strip_hop_by_hop(&mut h);
    reply::set(&mut h, HOST.as_str(), host);
    let ip = ctx.remote.ip().to_string();
    let xff = match h.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prev) => format!("{prev}, {ip}"),
        None => ip.clone(),
    };
    reply::set(&mut h, "x-forwarded-for", &xff);
    reply::set(&mut h, "x-real-ip", &ip);
    reply::set(&mut h, "x-forwarded-proto", "http");
    let fwd_host = ctx.client_host.split(':').next().unwrap_or("");
    reply::set(&mut h, "x-forwarded-host", fwd_host);
    if let Some(l) = ctx.local {
        reply::set(&mut h, "x-forwarded-port", &l.port().to_string());
    }
    reply::set(&mut h, "x-kong-request-id", &ctx.request_id);
    h
}

/// Sends upstream; maps failures to Kong's 502/504.
async fn send(
    ctx: &Ctx,
    req: Request<ProxyBody>,
    timeout: Duration,
) -> Result<Response<Incoming>, (StatusCode, &'static str)> {
    match ctx.state.upstream.send(req, timeout).await {
        Ok(r) => Ok(r),
        Err(ForwardError::Timeout) => Err((StatusCode::GATEWAY_TIMEOUT, reply::UPSTREAM_TIMEOUT)),
        Err(e) => {
            tracing::warn!(request_id = %ctx.request_id, error = %e, "upstream request failed");
            Err((StatusCode::BAD_GATEWAY, reply::BAD_UPSTREAM))
        }
    }
}

async fn plain_flow(
    ctx: Ctx,
    route: &CompiledRoute,
    matched: &str,
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
    let https = matches!(service.protocol.as_str(), "https" | "grpcs");
    let scheme = if https { "https" } else { "http" };
    let default_port = if https { 443 } else { 80 };
    let path = upstream_path(
        service.path.as_deref(),
        route.route.strip_path,
        parts.uri.path(),
        matched,
    );
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
    let mut headers = upstream_headers(&ctx, &parts, &host);
    let req_body = match (buffered, body) {
        (Some(b), _) => {
            reply::set(&mut headers, CONTENT_LENGTH.as_str(), &b.len().to_string());
            full(b)
        }
        (None, Some(b)) => boxed(b),
        (None, None) => full(Bytes::new()),
    };
    let mut req = Request::new(req_body);
    *req.method_mut() = parts.method.clone();
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
    let sent = Instant::now();
    let resp = match send(&ctx, req, timeout).await {
        Ok(r) => r,
        Err((status, msg)) => {
            ctx.record.upstream_latency_ms = Some(ms(sent));
            return ctx.reply(status, msg.into(), vec![]);
        }
    };
    let upstream_latency = sent.elapsed();
    let (mut head, body) = resp.into_parts();
    reply::proxied_headers(
        &mut head.headers,
        &ctx.request_id,
        upstream_latency.as_millis(),
        proxy_latency.as_millis(),
    );
    ctx.record.status = head.status.as_u16();
    ctx.record.from_service = true;
    ctx.record.kong_latency_ms = proxy_latency.as_secs_f64() * 1000.0;
    ctx.record.upstream_latency_ms = Some(upstream_latency.as_secs_f64() * 1000.0);
    let finish = ctx.finisher();
    let logged = LoggedBody::new(boxed(body), ctx.record, None, ctx.started, finish);
    Response::from_parts(head, boxed(logged))
}

async fn ai_flow(
    mut ctx: Ctx,
    plugin: &AiPlugin,
    parts: Parts,
    body: Option<Incoming>,
    buffered: Option<Bytes>,
) -> Response<ProxyBody> {
    let limit = match plugin.max_request_body_size {
        0 => usize::MAX,
        n => usize::try_from(n).unwrap_or(usize::MAX).saturating_add(1),
    };
    let bytes = match buffered {
        Some(b) => b,
        None => match read_body(body, limit).await {
            Ok(b) => b,
            Err(e) => {
                let rej = plugin.too_large();
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_none()
                {
                    tracing::debug!(error = %e, "client body read failed");
                }
                let body = rej.body();
                ctx.record.ai = Some(*rej.analytics);
                return ctx.reply(rej.status, body, vec![]);
            }
        },
    };
    ctx.record.bytes_in = bytes.len() as u64;
    let plan = match plugin.prepare(parts.uri.path(), parts.uri.query(), &parts.headers, &bytes) {
        Ok(p) => p,
        Err(rej) => {
            let body = rej.body();
            ctx.record.ai = Some(*rej.analytics);
            return ctx.reply(rej.status, body, vec![]);
        }
    };
    let host = plan
        .uri
        .authority()
        .map(|a| {
            let default = matches!(
                (plan.uri.scheme_str(), a.port_u16()),
                (Some("https"), Some(443)) | (Some("http"), Some(80))
            );
            if default {
                a.host().to_string()
            } else {
                a.to_string()
            }
        })
        .unwrap_or_default();
    let mut headers = upstream_headers(&ctx, &parts, &host);
    headers.remove(http::header::ACCEPT_ENCODING);
    for (k, v) in &plan.headers {
        headers.insert(k.clone(), v.clone());
    }
    if !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    reply::set(
        &mut headers,
        CONTENT_LENGTH.as_str(),
        &plan.body.len().to_string(),
    );
    let mut req = Request::new(full(plan.body.clone()));
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = plan.uri.clone();
    *req.headers_mut() = headers;
    ctx.record.ai = Some(plan.analytics.clone());

    let timeout = Duration::from_millis(plugin.read_timeout_ms.max(1));
    let proxy_latency = ctx.started.elapsed();
    let sent = Instant::now();
    let resp = match send(&ctx, req, timeout).await {
        Ok(r) => r,
        Err((status, msg)) => {
            ctx.record.upstream_latency_ms = Some(ms(sent));
            return ctx.reply(status, msg.into(), vec![]);
        }
    };
    let upstream_latency = sent.elapsed();
    let llm_latency = ms(ctx.started);
    let (mut head, body) = resp.into_parts();
    reply::proxied_headers(
        &mut head.headers,
        &ctx.request_id,
        upstream_latency.as_millis(),
        proxy_latency.as_millis(),
    );
    ctx.record.status = head.status.as_u16();
    ctx.record.from_service = true;
    ctx.record.kong_latency_ms = proxy_latency.as_secs_f64() * 1000.0;
    ctx.record.upstream_latency_ms = Some(upstream_latency.as_secs_f64() * 1000.0);
    if let Some(ai) = ctx.record.ai.as_mut() {
        ai.llm_latency_ms = Some(llm_latency);
    }
    let ok = head.status == StatusCode::OK;
    let is_sse = head
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    if ok {
        head.headers.remove(http::header::SET_COOKIE);
        if let Some(m) = plan.model_header.as_deref() {
            reply::set(&mut head.headers, "x-kong-llm-model", m);
        }
    }
    let finish = ctx.finisher();
    let out_body = if ok && !is_sse {
        // Non-streamed success: buffer to read usage, then send unchanged.
        let read = tokio::time::timeout(timeout, body.collect()).await;
        let bytes = match read {
            Ok(Ok(c)) => c.to_bytes(),
            Ok(Err(_)) => {
                return ctx.reply(StatusCode::BAD_GATEWAY, reply::BAD_UPSTREAM.into(), vec![])
            }
            Err(_) => {
                return ctx.reply(
                    StatusCode::GATEWAY_TIMEOUT,
                    reply::UPSTREAM_TIMEOUT.into(),
                    vec![],
                )
            }
        };
        if let (Ok(v), Some(ai)) = (
            serde_json::from_slice::<serde_json::Value>(&bytes),
            ctx.record.ai.as_mut(),
        ) {
            if let Some(u) = crate::llm::openai::usage(&v) {
                ai.usage = u;
            }
            if let Some(m) = v["model"].as_str() {
                ai.response_model = m.to_string();
            }
        }
        reply::set(
            &mut head.headers,
            CONTENT_LENGTH.as_str(),
            &bytes.len().to_string(),
        );
        LoggedBody::new(full(bytes), ctx.record, None, ctx.started, finish)
    } else {
        let sse = (ok && is_sse).then(SseUsage::default);
        LoggedBody::new(boxed(body), ctx.record, sse, ctx.started, finish)
    };
    Response::from_parts(head, boxed(out_body))
}
