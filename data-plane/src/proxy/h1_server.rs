//! The client-facing HTTP/1.1 loop for plaintext connections (`serve` hands it each accepted
//! connection): request heads parsed with `httparse` straight into `http` types, each request
//! given to `proxy::handle` inside the connection's own task, the response head and body
//! written by us (Content-Length or chunked, a cached `Date`), keep-alive and pipelining.
//! What it does not serve itself — an HTTP/2 preface, HTTP/1.0, upgrades, `Expect`, `CONNECT`,
//! an unusual framing, anything malformed — goes with the bytes already read to hyper's
//! connection for the rest of the connection (`handoff`), so those keep hyper's behaviour.
//! Slow clients: a head not whole within `header_read_timeout` (counted from the first wait
//! for it, an idle keep-alive connection included) closes the connection.

mod body;
mod date;
mod handoff;
mod request;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_random;
mod write;

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use bytes::BytesMut;
use http::Request;
use http_body_util::Either;
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

pub use body::ReqBody;
use request::Parsed;

use super::body::Terminate;
use super::Peer;
use crate::State;

/// How much room a read asks for.
const READ_CHUNK: usize = 8 * 1024;
/// The most of an unread request body read and dropped after its response, to keep the
/// connection; a longer one, or one slower than `DRAIN_TIME`, closes it.
const DRAIN_LIMIT: usize = 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(1);

/// What every connection of a listener shares.
pub struct Listener {
    pub state: Arc<State>,
    /// Serves what the loop hands off.
    pub builder: auto::Builder<TokioExecutor>,
    pub header_read_timeout: Duration,
    /// Turns true when the proxy stops: an idle connection closes, a busy one after its
    /// response.
    pub stop: watch::Receiver<bool>,
}

/// One client connection.
struct Conn {
    io: Arc<TcpStream>,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    /// Header names and value offsets of the head being parsed (allocation kept).
    scratch: Vec<(http::HeaderName, usize, usize)>,
    peer: Arc<Peer>,
    stop: watch::Receiver<bool>,
    /// No stop signal can come any more.
    stop_gone: bool,
    /// The head read timer: armed once and moved on only when it fires early.
    timer: Option<Pin<Box<Sleep>>>,
}

/// What waiting for the next request gave (not boxed: see `request::Parsed`).
#[allow(clippy::large_enum_variant)]
enum Next {
    Head(request::Head),
    Close,
    Handoff,
}

/// Serves `stream` until it closes, or the proxy stops.
pub async fn serve(stream: TcpStream, peer: Arc<Peer>, listener: Arc<Listener>) {
    let mut conn = Conn {
        io: Arc::new(stream),
        rbuf: BytesMut::with_capacity(READ_CHUNK),
        wbuf: Vec::with_capacity(4096),
        scratch: Vec::new(),
        peer,
        stop: listener.stop.clone(),
        stop_gone: false,
        timer: None,
    };
    loop {
        let head = match conn.next_head(listener.header_read_timeout).await {
            Next::Head(h) => h,
            Next::Close => return,
            Next::Handoff => return Box::pin(conn.handoff(&listener)).await,
        };
        if !conn.exchange(head, &listener.state).await {
            return;
        }
    }
}

impl Conn {
    /// Serves one request; false when the connection must close.
    async fn exchange(&mut self, head: request::Head, state: &Arc<State>) -> bool {
        let body = ReqBody::new(head.framing, &mut self.rbuf, &self.io);
        let streamed = match &body {
            ReqBody::Stream(s) => Some(s.clone()),
            ReqBody::Full(_) => None,
        };
        let mut req = Request::new(Either::Right(body));
        *req.method_mut() = head.method.clone();
        *req.uri_mut() = head.uri;
        *req.headers_mut() = head.headers;
        let resp = super::handle(state.clone(), req, &self.peer, true).await;
        if resp.extensions().get::<Terminate>().is_some() {
            return false;
        }
        let mut close = head.close || (!self.stop_gone && *self.stop.borrow());
        let (parts, body) = resp.into_parts();
        let end = http_body::Body::is_end_stream(&body);
        let exact = http_body::Body::size_hint(&body).exact();
        let enc = match write::head(&mut self.wbuf, &parts, &head.method, end, exact, &mut close) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "response not sendable");
                return false;
            }
        };
        drop(parts);
        if let Err(e) = write::body(&self.io, &mut self.wbuf, body, enc, head.trailers).await {
            tracing::debug!(error = %e, "response not written whole");
            return false;
        }
        if let Some(shared) = streamed {
            if !self.reclaim(shared).await {
                return false;
            }
        }
        !close
    }

    /// Takes the read buffer back from a streamed request body, reading and dropping what
    /// nobody read of it (up to `DRAIN_LIMIT` in `DRAIN_TIME`); false when it cannot.
    async fn reclaim(&mut self, shared: Arc<Mutex<body::Shared>>) -> bool {
        let mut drained = 0usize;
        let done = poll_fn(|cx| {
            let Ok(mut s) = shared.lock() else {
                return Poll::Ready(false);
            };
            loop {
                match s.poll_frame(cx) {
                    Poll::Ready(None) => return Poll::Ready(true),
                    Poll::Ready(Some(Ok(f))) => {
                        drained += f.data_ref().map_or(0, |d| d.len());
                        if drained > DRAIN_LIMIT {
                            return Poll::Ready(false);
                        }
                    }
                    Poll::Ready(Some(Err(_))) => return Poll::Ready(false),
                    Poll::Pending => return Poll::Pending,
                }
            }
        });
        if !tokio::time::timeout(DRAIN_TIME, done)
            .await
            .unwrap_or(false)
        {
            return false;
        }
        match shared.lock() {
            Ok(mut s) => {
                self.rbuf = std::mem::take(&mut s.buf);
                true
            }
            Err(_) => false,
        }
    }

    /// Reads until the buffer starts with a whole head.
    async fn next_head(&mut self, timeout: Duration) -> Next {
        let mut deadline = None;
        loop {
            if !self.rbuf.is_empty() {
                match request::parse(&mut self.rbuf, &mut self.scratch) {
                    Parsed::Head(h) => return Next::Head(h),
                    Parsed::Handoff => return Next::Handoff,
                    Parsed::Partial => {}
                }
            } else if !self.stop_gone && *self.stop.borrow() {
                return Next::Close;
            }
            self.rbuf.reserve(READ_CHUNK);
            match self.io.try_read_buf(&mut self.rbuf) {
                Ok(0) => return Next::Close,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return Next::Close,
            }
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + timeout);
            if !self.wait_readable(deadline).await {
                return Next::Close;
            }
        }
    }

    /// Waits until the socket is readable; false when `deadline` passed first, or the proxy
    /// stops while no request is under way.
    async fn wait_readable(&mut self, deadline: Instant) -> bool {
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() > deadline {
            timer.as_mut().reset(deadline);
        }
        loop {
            let idle = self.rbuf.is_empty() && !self.stop_gone;
            tokio::select! {
                biased;
                r = self.io.readable() => return r.is_ok(),
                () = timer.as_mut() => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    // Armed for an earlier request's wait: move it on.
                    timer.as_mut().reset(deadline);
                }
                changed = self.stop.changed(), if idle => match changed {
                    Ok(()) if *self.stop.borrow() => return false,
                    Ok(()) => {}
                    Err(_) => self.stop_gone = true,
                },
            }
        }
    }

    /// Hands the rest of the connection to hyper.
    async fn handoff(self, listener: &Listener) {
        let Conn {
            io,
            rbuf,
            peer,
            stop,
            ..
        } = self;
        let Ok(stream) = Arc::try_unwrap(io) else {
            return;
        };
        handoff::serve(
            stream,
            rbuf.freeze(),
            &listener.builder,
            listener.state.clone(),
            peer,
            stop,
        )
        .await;
    }
}
