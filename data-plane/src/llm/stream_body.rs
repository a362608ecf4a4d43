//! The response body the proxy sends for a translated stream: wraps the upstream body and runs
//! every data frame through the provider's `stream::Translator` (pass-through when there is none).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::balancer::InFlight;
use super::stream::Translator;

/// An upstream body, translated to OpenAI SSE when `translator` is set.
pub struct TranslatedBody<B> {
    inner: B,
    translator: Option<Translator>,
    ended: bool,
    /// Dropped with the body: the target's in-flight count goes down when the stream ends.
    _inflight: Option<InFlight>,
}

impl<B> TranslatedBody<B> {
    pub fn new(inner: B, translator: Option<Translator>) -> Self {
        TranslatedBody {
            inner,
            translator,
            ended: false,
            _inflight: None,
        }
    }

    /// Keeps `inflight` alive as long as the body.
    pub fn holding(mut self, inflight: Option<InFlight>) -> Self {
        self._inflight = inflight;
        self
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
                        return Poll::Ready(Some(Ok(frame)));
                    };
                    // Trailers are dropped: the translated stream has its own end.
                    if let Ok(data) = frame.into_data() {
                        let out = t.feed(&data);
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                }
                Poll::Ready(None) => {
                    this.ended = true;
                    return match this.translator.as_mut().map(Translator::finish) {
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
}
