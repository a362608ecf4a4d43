//! The in-flight guard of one attempt (least-connections counts) and a response body that
//! holds it until the body ends or is dropped.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};

use super::Balancer;

/// Counts one request in flight to a target; the count drops with the guard.
#[derive(Debug)]
pub struct InFlight {
    balancer: Arc<Balancer>,
    index: usize,
}

impl InFlight {
    pub(super) fn new(balancer: Arc<Balancer>, index: usize) -> Self {
        if let Some(c) = balancer.in_flight_counter(index) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        InFlight { balancer, index }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(c) = self.balancer.in_flight_counter(self.index) {
            c.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A body that keeps its `InFlight` guard until the last frame.
pub struct Guarded<B> {
    inner: Pin<Box<B>>,
    guard: Option<InFlight>,
}

impl<B> Guarded<B> {
    pub fn new(inner: B, guard: InFlight) -> Self {
        Guarded {
            inner: Box::pin(inner),
            guard: Some(guard),
        }
    }
}

impl<B: Body> Body for Guarded<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let r = self.inner.as_mut().poll_frame(cx);
        if matches!(r, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.guard = None;
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
