//! Bodies through the proxy: the boxed body type; `UpstreamBody`, a response body from either
//! upstream client; `ClientBody`, the client's request body with
//! nginx's `client_body_timeout` between two chunks; and `LoggedBody`, which counts response
//! bytes, feeds the SSE usage parser and runs the log phase once the body ends or is dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use crate::llm::sse::SseUsage;
use crate::plugins::prometheus::LogRecord;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

pub fn full(b: impl Into<Bytes>) -> ProxyBody {
    Full::new(b.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn boxed<B>(b: B) -> ProxyBody
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    b.map_err(Into::into).boxed_unsync()
}

/// An upstream response body: from hyper's clients (HTTPS, HTTP/2, upgrades) on the left, from
/// the lean HTTP/1.1 client for plain-HTTP upstreams (`h1`) on the right.
pub type UpstreamBody = Either<Incoming, super::h1::Body>;

/// A request body as the listener gives it: from hyper's connection (h2, TLS, handed-off
/// HTTP/1.1) on the left, from the client-facing HTTP/1.1 loop (`h1_server`) on the right.
pub type ClientSource = Either<Incoming, super::h1_server::ReqBody>;

/// nginx's default `client_body_timeout` (Kong does not change it).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The client sent nothing of its request body for longer than the body read timeout.
#[derive(Debug, thiserror::Error)]
#[error("client sent no request body data for {0:?} (client_body_timeout)")]
pub struct BodyTimeout(pub Duration);

/// Whether the request body of a request timed out; shared between the body and the request's
/// context, so that whichever error the stalled body caused (a failed read, a failed upstream
/// write) becomes nginx's 408.
#[derive(Debug, Clone, Default)]
pub struct BodyWatch(Option<Arc<AtomicBool>>);

impl BodyWatch {
    pub fn timed_out(&self) -> bool {
        self.0.as_ref().is_some_and(|t| t.load(Ordering::Relaxed))
    }
}

/// Marks a Kong-made response that nginx would not send: the listener drops it and closes the
/// connection (nginx terminates a request whose body read timed out without a response).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("request terminated without a response (client body read timed out)")]
pub struct Terminate;

/// The client's request body. A read that waits longer than `timeout` for the next chunk fails
/// with `BodyTimeout` (the timer runs only while the body is polled and has nothing, as nginx's
/// runs only between two reads).
pub struct ClientBody {
    inner: ClientSource,
    timeout: Duration,
    /// Allocated at the first wait, re-armed at each later one.
    timer: Option<Pin<Box<Sleep>>>,
    /// Whether the timer runs for the current wait.
    armed: bool,
    watch: BodyWatch,
}

impl ClientBody {
    pub fn new(inner: ClientSource, timeout: Duration) -> (Self, BodyWatch) {
        // A request without a body (most GETs) never waits: nothing to share.
        let watch = BodyWatch((!inner.is_end_stream()).then(Arc::default));
        let body = ClientBody {
            inner,
            timeout,
            timer: None,
            armed: false,
            watch: watch.clone(),
        };
        (body, watch)
    }
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(r) => {
                // The next wait starts its own clock.
                this.armed = false;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let timer = match &mut this.timer {
                    Some(t) => {
                        if !this.armed {
                            t.as_mut().reset(Instant::now() + timeout);
                        }
                        t
                    }
                    None => this.timer.insert(Box::pin(tokio::time::sleep(timeout))),
                };
                this.armed = true;
                match timer.as_mut().poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(()) => {
                        if let Some(t) = &this.watch.0 {
                            t.store(true, Ordering::Relaxed);
                        }
                        Poll::Ready(Some(Err(Box::new(BodyTimeout(this.timeout)))))
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Runs when the response is over (fully sent or abandoned).
pub type Finisher = Box<dyn FnOnce(Box<LogRecord>) + Send>;

pub struct LoggedBody {
    inner: ProxyBody,
    /// Boxed: the record is large, and the body (with its request) moves a few times.
    record: Option<Box<LogRecord>>,
    sse: Option<SseUsage>,
    started: std::time::Instant,
    finish: Option<Finisher>,
}

impl LoggedBody {
    pub fn new(
        inner: ProxyBody,
        record: Box<LogRecord>,
        sse: Option<SseUsage>,
        started: std::time::Instant,
        finish: Finisher,
    ) -> Self {
        LoggedBody {
            inner,
            record: Some(record),
            sse,
            started,
            finish: Some(finish),
        }
    }

    fn done(&mut self) {
        let (Some(mut rec), Some(f)) = (self.record.take(), self.finish.take()) else {
            return;
        };
        rec.request_latency_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        if let (Some(sse), Some(ai)) = (self.sse.as_mut(), rec.ai.as_mut()) {
            sse.apply(ai, self.started);
        }
        // ai-mcp-proxy: the JSON-RPC error of the answer, if any.
        if let (Some(sse), Some(mcp)) = (self.sse.as_mut(), rec.mcp.as_mut()) {
            mcp.rpc_error = sse.finish_rpc_error();
        }
        f(rec);
    }
}

impl Body for LoggedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_frame(cx);
        match &r {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    if let Some(rec) = this.record.as_mut() {
                        rec.bytes_out += d.len() as u64;
                    }
                    if let Some(sse) = this.sse.as_mut() {
                        sse.feed(d);
                    }
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => this.done(),
            Poll::Pending => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        self.done();
    }
}
