//! The AI flow: a route with ai-proxy or ai-proxy-advanced → the plugin turns the client's body
//! into the provider's request (with failover between targets) → upstream; JSON answers are
//! read for usage, SSE streams are passed through chunk by chunk (re-framed as OpenAI SSE for
//! other providers).

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, SET_COOKIE};
use http::request::Parts;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Either};

use super::body::{boxed, full, LoggedBody, ProxyBody, UpstreamBody};
use super::forward::ForwardError;
use super::h1;
use super::headers::{self, Forwarded};
use super::{ms, raw_head, read_body, reply, Ctx};
use crate::llm::sse::SseUsage;
use crate::plugins::ai_proxy::client::{AiClient, Timeouts};
use crate::plugins::ai_proxy::{AiPlugin, AiRequest, Seen};
use proto::schema::Service;

static X_KONG_LLM_MODEL: HeaderName = HeaderName::from_static("x-kong-llm-model");

/// The upstream request of one AI attempt: the client's headers (minus hop-by-hop and
/// `accept-encoding`) with the plan's auth and provider headers, URI and body; and the proxy's
/// own headers, to be written beside them (`None`: already in the map, because the plan sets
/// one of them itself).
fn ai_upstream_request(
    ctx: &Ctx,
    parts: &Parts,
    plan: &AiRequest,
) -> (Request<ProxyBody>, Option<Forwarded>) {
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
                a.as_str().to_string()
            }
        })
        .unwrap_or_default();
    let host = HeaderValue::from_str(&host).ok();
    let (mut headers, fwd) = headers::into_upstream(ctx, parts.headers.clone(), host);
    let fwd = if plan.headers.iter().any(|(k, _)| fwd.replaces(k)) {
        fwd.apply(&mut headers);
        None
    } else {
        Some(fwd)
    };
    headers.remove(http::header::ACCEPT_ENCODING);
    for (k, v) in &plan.headers {
        headers.insert(k.clone(), v.clone());
    }
    if !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(plan.body.len()));
    let mut req = Request::new(full(plan.body.clone()));
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = plan.uri.clone();
    *req.headers_mut() = headers;
    (req, fwd)
}

/// The timeouts of the upstream calls: ai-proxy-advanced's balancer's, else the service's.
fn timeouts(plugin: &AiPlugin, service: Option<&Service>) -> Timeouts {
    plugin.timeouts.unwrap_or_else(|| {
        service.map_or_else(Timeouts::default, |s| Timeouts {
            connect_ms: s.connect_timeout,
            read_ms: s.read_timeout,
            write_ms: s.write_timeout,
        })
    })
}

/// Whether an upstream failure is a timeout (connect, read or write).
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

/// One upstream attempt: Kong's 504 on a timeout, 502 otherwise. A plain-HTTP upstream goes
/// through the proxy's lean HTTP/1.1 client and its per-thread pool (with the plugin's connect,
/// write and read timeouts), any other through the plugin's client.
async fn send(
    ctx: &Ctx,
    client: &AiClient,
    (mut req, fwd): (Request<ProxyBody>, Option<Forwarded>),
    t: Timeouts,
) -> Result<Response<UpstreamBody>, (StatusCode, &'static str)> {
    if req.uri().scheme() == Some(&http::uri::Scheme::HTTP) {
        let opts = h1::Options {
            forwarded: fwd,
            raw_head: ctx.heads_as_bytes(),
        };
        let ms = |v: u64| Duration::from_millis(v.max(1));
        let limits = h1::Limits {
            connect: ms(t.connect_ms),
            write: Some(ms(t.write_ms)),
            read: Some(t.read()),
        };
        return match tokio::time::timeout(t.read(), h1::send_with(req, opts, limits)).await {
            Ok(Ok(r)) => Ok(r.map(Either::Right)),
            Err(_) | Ok(Err(ForwardError::Timeout)) => {
                Err((StatusCode::GATEWAY_TIMEOUT, reply::UPSTREAM_TIMEOUT))
            }
            Ok(Err(e)) => {
                tracing::warn!(request_id = %ctx.request_id, error = %e, "AI upstream request failed");
                Err((StatusCode::BAD_GATEWAY, reply::BAD_UPSTREAM))
            }
        };
    }
    if let Some(f) = fwd {
        f.apply(req.headers_mut());
    }
    match tokio::time::timeout(t.read(), client.request(req)).await {
        Ok(Ok(r)) => Ok(r.map(Either::Left)),
        Ok(Err(e)) if timed_out(&e) => Err((StatusCode::GATEWAY_TIMEOUT, reply::UPSTREAM_TIMEOUT)),
        Err(_) => Err((StatusCode::GATEWAY_TIMEOUT, reply::UPSTREAM_TIMEOUT)),
        Ok(Err(e)) => {
            tracing::warn!(request_id = %ctx.request_id, error = %e, "AI upstream request failed");
            Err((StatusCode::BAD_GATEWAY, reply::BAD_UPSTREAM))
        }
    }
}

// Not an `async fn`, which would keep its arguments twice (rust-lang/rust#62958): the
// future holds each once.
#[allow(clippy::manual_async_fn)]
pub(super) fn flow<'a>(
    mut ctx: Ctx,
    plugin: &'a AiPlugin,
    parts: Parts,
    body: Option<super::body::ClientBody>,
    buffered: Option<Bytes>,
    service: Option<&'a Service>,
) -> impl Future<Output = Response<ProxyBody>> + Send + 'a {
    async move {
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
        let mut plan =
            match plugin.prepare(parts.uri.path(), parts.uri.query(), &parts.headers, &bytes) {
                Ok(p) => p,
                Err(rej) => {
                    let body = rej.body();
                    ctx.record.ai = Some(*rej.analytics);
                    return ctx.reply(rej.status, body, vec![]);
                }
            };
        if plan.analytics.log_payloads {
            ctx.log_request_payload(&bytes);
        }
        let limits = timeouts(plugin, service);
        let timeout = limits.read();
        let client = match plugin.clients.get(limits) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "AI upstream client");
                return ctx.reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    reply::BAD_UPSTREAM.into(),
                    vec![],
                );
            }
        };
        // Attempts: ai-proxy-advanced fails over to another target per `failover_criteria`.
        let (resp, sent, proxy_latency) = loop {
            let req = ai_upstream_request(&ctx, &parts, &plan);
            ctx.log_upstream(req.0.uri());
            ctx.record.ai = Some(plan.analytics.clone());
            let proxy_latency = ctx.started.elapsed();
            let sent = Instant::now();
            let result = send(&ctx, &client, req, limits).await;
            let seen = match &result {
                Ok(r) => Seen::Status(r.status()),
                Err((status, _)) => Seen::Failed(*status),
            };
            if let Some(failure) = plugin.observe(&plan, seen, ms(sent)) {
                let (path, query) = (parts.uri.path(), parts.uri.query());
                match plugin.retry(
                    &plan,
                    failure,
                    &parts.method,
                    path,
                    query,
                    &parts.headers,
                    &bytes,
                ) {
                    Some(Ok(next)) => {
                        plan = next;
                        continue;
                    }
                    Some(Err(rej)) => {
                        let body = rej.body();
                        ctx.record.ai = Some(*rej.analytics);
                        return ctx.reply(rej.status, body, vec![]);
                    }
                    None => {}
                }
            }
            match result {
                Ok(r) => break (r, sent, proxy_latency),
                Err((status, msg)) => {
                    ctx.record.upstream_latency_ms = Some(ms(sent));
                    return ctx.reply(status, msg.into(), vec![]);
                }
            }
        };
        let upstream_latency = sent.elapsed();
        let llm_latency = ms(ctx.started);
        let (mut head, body) = resp.into_parts();
        ctx.answered(&mut head, proxy_latency, upstream_latency);
        if let Some(ai) = ctx.record.ai.as_mut() {
            ai.llm_latency_ms = Some(llm_latency);
        }
        let ok = head.status == StatusCode::OK;
        // Non-OpenAI providers' streams are re-framed as OpenAI SSE (llm::stream).
        let translator = if ok {
            plugin.stream_translator(&plan)
        } else {
            None
        };
        // The head's headers are bytes or a map (`raw_head`); these read and edit either.
        let is_sse = translator.is_some()
            || raw_head::get(&head, &CONTENT_TYPE)
                .is_some_and(|ct| ct.starts_with(b"text/event-stream"));
        if ok {
            raw_head::remove(&mut head, &SET_COOKIE);
            if translator.is_some() {
                raw_head::remove(&mut head, &CONTENT_LENGTH);
                raw_head::set(&mut head, &CONTENT_TYPE, "text/event-stream");
            }
            if let Some(m) = plan.model_header.as_deref() {
                raw_head::set(&mut head, &X_KONG_LLM_MODEL, m);
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
            // Translated back to OpenAI format for non-OpenAI providers.
            let bytes = match plugin.response_body(&plan, bytes) {
                Ok(b) => b,
                Err(rej) => {
                    let body = rej.body();
                    return ctx.reply(rej.status, body, vec![]);
                }
            };
            if let Some(ai) = ctx.record.ai.as_mut() {
                // One pass without a `Value` tree; other shapes (MCP items) read as a `Value`.
                match crate::llm::reply::observe(&bytes) {
                    Some(seen) => ai.observe_reply(seen),
                    None => {
                        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                            ai.observe_response(&v);
                        }
                    }
                }
            }
            if let Some(ai) = ctx.record.ai.as_mut().filter(|a| a.log_payloads) {
                ai.response_payload = Some(String::from_utf8_lossy(&bytes).into_owned());
            }
            // Bytes frame themselves (the writer sets the length of a whole body).
            if head.extensions.get::<raw_head::RawHead>().is_none() {
                head.headers
                    .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            }
            LoggedBody::new(full(bytes), ctx.record, None, ctx.started, finish)
        } else {
            let sse = (ok && is_sse).then(|| SseUsage::new(plan.analytics.log_payloads));
            let body = boxed(plugin.stream_body_with(body, translator, &mut plan, ok && is_sse));
            LoggedBody::new(body, ctx.record, sse, ctx.started, finish)
        };
        Response::from_parts(head, boxed(out_body))
    }
}
