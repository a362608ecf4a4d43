//! Response bodies on the way to the client: the boxed body type, and `LoggedBody`, which counts
//! bytes, feeds the SSE usage parser and runs the log phase once the body ends or is dropped.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};

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

/// Runs when the response is over (fully sent or abandoned).
pub type Finisher = Box<dyn FnOnce(LogRecord) + Send>;

pub struct LoggedBody {
    inner: ProxyBody,
    record: Option<LogRecord>,
    sse: Option<SseUsage>,
    started: std::time::Instant,
    finish: Option<Finisher>,
}

impl LoggedBody {
    pub fn new(
        inner: ProxyBody,
        record: LogRecord,
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
