//! The response body the proxy sends for a translated stream: wraps the upstream body and runs
//! every data frame through the provider's `stream::Translator` (pass-through when there is none).
//! For lowest-usage it also reads the stream's usage and credits the target when it ends.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::balancer::{self, InFlight};
use super::sse::SseUsage;
use super::stream::Translator;
use super::AiAnalytics;

/// Reads a streamed reply's usage (as the client gets it) for lowest-usage: `strategy` is
/// the balancer's `tokens_count_strategy`, `analytics` the request's.
pub struct UsageMeter {
    sse: SseUsage,
    analytics: AiAnalytics,
    strategy: String,
    started: std::time::Instant,
}

impl UsageMeter {
    pub fn new(analytics: AiAnalytics, strategy: &str) -> Self {
        UsageMeter {
            sse: SseUsage::new(false),
            analytics,
            strategy: strategy.to_string(),
            started: std::time::Instant::now(),
        }
    }

    /// The amount the whole stream used.
    fn amount(mut self) -> f64 {
        self.sse.apply(&mut self.analytics, self.started);
        balancer::amount(&self.strategy, &self.analytics)
    }
}

/// An upstream body, translated to OpenAI SSE when `translator` is set.
pub struct TranslatedBody<B> {
    inner: B,
    translator: Option<Translator>,
    ended: bool,
    /// Dropped with the body: the target's in-flight count goes down when the stream ends.
    inflight: Option<InFlight>,
    meter: Option<UsageMeter>,
}

impl<B> TranslatedBody<B> {
    pub fn new(inner: B, translator: Option<Translator>) -> Self {
        TranslatedBody {
            inner,
            translator,
            ended: false,
            inflight: None,
            meter: None,
        }
    }

    /// Keeps `inflight` alive as long as the body.
    pub fn holding(mut self, inflight: Option<InFlight>) -> Self {
        self.inflight = inflight;
        self
    }

    /// Credits the stream's usage to the target (of `inflight`) when the stream ends whole.
    pub fn metering(mut self, meter: Option<UsageMeter>) -> Self {
        self.meter = meter;
        self
    }

    fn seen(&mut self, out: &[u8]) {
        if let Some(m) = self.meter.as_mut() {
            m.sse.feed(out);
        }
    }

    fn end(&mut self) {
        if let (Some(m), Some(f)) = (self.meter.take(), self.inflight.as_ref()) {
            f.used(m.amount());
        }
    }
}

impl<B> Body for TranslatedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        loop {
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let Some(t) = this.translator.as_mut() else {
                        if let Some(d) = frame.data_ref() {
                            this.seen(d);
                        }
                        return Poll::Ready(Some(Ok(frame)));
                    };
                    // Trailers are dropped: the translated stream has its own end.
                    if let Ok(data) = frame.into_data() {
                        let out = t.feed(&data);
                        if !out.is_empty() {
                            this.seen(&out);
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                }
                Poll::Ready(None) => {
                    this.ended = true;
                    let out = this.translator.as_mut().map(Translator::finish);
                    if let Some(out) = &out {
                        this.seen(out);
                    }
                    this.end();
                    return match out {
                        Some(out) if !out.is_empty() => Poll::Ready(Some(Ok(Frame::data(out)))),
                        _ => Poll::Ready(None),
                    };
                }
                other => return other,
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        match self.translator {
            Some(_) => SizeHint::default(),
            None => self.inner.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::stream::{Framing, Translate};
    use http_body_util::{BodyExt, StreamBody};
    use serde_json::{json, Value};

    struct Upper;
    impl Translate for Upper {
        fn event(&mut self, e: &Value, out: &mut Vec<Value>) {
            out.push(json!(e["t"].as_str().unwrap_or("").to_uppercase()));
        }
        fn finish(&mut self, _: &mut Vec<Value>) {}
    }

    #[tokio::test]
    async fn translates_frames_and_appends_done() {
        let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = vec![
            Ok(Frame::data(Bytes::from_static(b"{\"t\":\"a\"}\n{\"t\""))),
            Ok(Frame::data(Bytes::from_static(b":\"b\"}\n"))),
        ];
        let inner = StreamBody::new(futures_util::stream::iter(frames));
        let t = Translator::new(Framing::Ndjson, Box::new(Upper));
        let out = TranslatedBody::new(inner, Some(t))
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(&out[..], b"data: \"A\"\n\ndata: \"B\"\n\ndata: [DONE]\n\n");
    }

    /// lowest-usage learns from streamed replies too: the usage chunk of a passed-through
    /// stream is credited to its target when the stream ends.
    #[tokio::test]
    async fn a_finished_stream_credits_its_usage_to_the_target() {
        let cfg = serde_json::from_value(json!({"algorithm": "lowest-usage"})).unwrap();
        let b = crate::llm::balancer::Balancer::new(&cfg, &[1, 1]);
        let sse = concat!(
            "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":40,\"completion_tokens\":10,\"total_tokens\":50}}\n\n",
            "data: [DONE]\n\n"
        );
        let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> =
            vec![Ok(Frame::data(Bytes::from_static(sse.as_bytes())))];
        let inner = StreamBody::new(futures_util::stream::iter(frames));
        let meter = UsageMeter::new(AiAnalytics::default(), "total-tokens");
        let out = TranslatedBody::new(inner, None)
            .holding(b.begin(0))
            .metering(Some(meter))
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(&out[..], sse.as_bytes());
        // Target 0 used 50 tokens, target 1 none: 1 is picked, twice.
        assert_eq!(b.pick(&[], None), Some(1));
        assert_eq!(b.pick(&[], None), Some(1));
        b.used(1, 60.0);
        assert_eq!(b.pick(&[], None), Some(0));
    }
}
