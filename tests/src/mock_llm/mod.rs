//! An OpenAI-compatible mock upstream on 127.0.0.1: answers chat, completions, embeddings and
//! responses calls (JSON or SSE), echoes the request's `model`, and records every request.
//! A request header `x-mock-stream-gap-ms: N` spaces the events of an SSE answer N ms apart
//! (default 5 ms), for tests that need a slow stream. Path prefixes force failures for fail-over
//! tests: `/status/NNN/…` answers status NNN, `/delay/MS/…` waits MS ms before answering.

mod mcp_calls;
mod openai;
mod responses;
mod sse;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use openai::{estimate_tokens, Reply};

/// Request header: milliseconds between two SSE events of the answer.
pub const STREAM_GAP_HEADER: &str = "x-mock-stream-gap-ms";

/// The body type of every mock response.
pub type MockBody = BoxBody<Bytes, Infallible>;

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// `usage.total_tokens` of the answer the mock gave, when it had one.
    pub total_tokens: Option<u64>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.body).context("recorded request body is not JSON")
    }
}

#[derive(Debug, Default)]
struct State {
    requests: Mutex<Vec<RecordedRequest>>,
    next_id: AtomicU64,
}

/// A running mock; the server stops when this is dropped.
#[derive(Debug)]
pub struct MockLlm {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl MockLlm {
    /// Starts on an ephemeral port of 127.0.0.1.
    pub async fn start() -> Result<Self> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn bind(addr: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("mock-llm: binding {addr}"))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let task = tokio::spawn(accept_loop(listener, state.clone()));
        Ok(Self { addr, state, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors or similar: back off instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(state.clone(), req));
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// `/delay/MS/…`: how long to wait before answering.
fn forced_delay(path: &str) -> Option<u64> {
    path.strip_prefix("/delay/")?
        .split('/')
        .next()?
        .parse()
        .ok()
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<MockBody>, Infallible> {
    let (parts, body) = req.into_parts();
    let gap = parts
        .headers
        .get(STREAM_GAP_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .map_or(sse::EVENT_GAP, std::time::Duration::from_millis);
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if let Some(ms) = forced_delay(parts.uri.path()) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    let id = state.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let answer = openai::answer(&parts.method, parts.uri.path(), &body, id);
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        total_tokens: answer.total_tokens,
    };
    if let Ok(mut requests) = state.requests.lock() {
        requests.push(recorded);
    }
    let mut response = match answer.reply {
        Reply::Json { status, body } => {
            let bytes = Bytes::from(body.to_string());
            let mut r = Response::new(Full::new(bytes).boxed());
            *r.status_mut() = status;
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        }
        Reply::Stream { events } => {
            let mut r = Response::new(sse::body(events, gap));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream; charset=utf-8"),
            );
            r
        }
    };
    if let Ok(v) = HeaderValue::from_str(&format!("req_mock_{id:06}")) {
        response.headers_mut().insert("x-request-id", v);
    }
    Ok(response)
}
