//! The upstream response body of the lean HTTP/1.1 client (`h1`): read from the connection by
//! whoever polls it (the client connection's task, while it writes the response out), framed
//! by the decoder; once the body is read to its end the connection goes back to this thread's
//! idle list (`pool`), if both sides allow keep-alive.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::conn::Conn;
use super::framing::{Decoder, Framing, Step};
use super::upload::Upload;
use super::H1Error;
use crate::proxy::pool;

pub struct Body {
    /// `None` once the body is over (the connection pooled or closed).
    conn: Option<Conn>,
    decoder: Decoder,
    keep_alive: bool,
    /// The rest of the request body, still being sent (the connection is then not reused).
    upload: Option<Upload>,
    /// The longest wait for the next read (`None`: unbounded).
    read_limit: Option<Box<ReadLimit>>,
    /// Data went out since the body last waited: an error found now is reported on the next
    /// poll, so that the client connection first writes out what it got (as nginx does).
    delivered: bool,
    /// The error held back for that next poll.
    deferred: Option<Box<H1Error>>,
}

/// A read limit and its timer (made when a read first waits).
struct ReadLimit {
    limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl Body {
    /// The body of the response whose head was just read from `conn`; `upload`: the rest of
    /// the request body, sent as this body is read.
    pub fn new(conn: Conn, framing: Framing, keep_alive: bool, upload: Option<Upload>) -> Self {
        let mut body = Body {
            conn: Some(conn),
            decoder: Decoder::new(framing),
            keep_alive: keep_alive && upload.is_none(),
            upload,
            read_limit: None,
            delivered: false,
            deferred: None,
        };
        if body.decoder.is_done() {
            body.release();
        }
        body
    }

    /// Fails the body when a read waits longer than `limit` (nginx's `proxy_read_timeout`
    /// between two reads).
    pub fn read_timeout(mut self, limit: Option<Duration>) -> Self {
        self.read_limit = limit.map(|limit| Box::new(ReadLimit { limit, timer: None }));
        self
    }

    /// A read is waiting: `Ready` when it has waited too long.
    fn read_expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(r) = self.read_limit.as_mut() else {
            return false;
        };
        let limit = r.limit;
        let timer = r
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        timer.as_mut().poll(cx).is_ready()
    }

    /// A read got data: the wait for the next one starts now.
    fn read_progress(&mut self) {
        if let Some(r) = self.read_limit.as_mut() {
            let limit = r.limit;
            if let Some(timer) = r.timer.as_mut() {
                timer.as_mut().reset(Instant::now() + limit);
            }
        }
    }

    /// The body is over: the connection goes back to the pool when it can be reused.
    fn release(&mut self) {
        if let Some(conn) = self.conn.take() {
            if self.keep_alive && self.decoder.is_done() && conn.rbuf.is_empty() {
                pool::checkin(conn);
            }
        }
    }

    fn fail(
        &mut self,
        e: H1Error,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, H1Error>>> {
        self.conn = None;
        if std::mem::take(&mut self.delivered) {
            self.deferred = Some(Box::new(e));
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(Some(Err(e)))
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = H1Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, H1Error>>> {
        let this = &mut *self;
        if let Some(e) = this.deferred.take() {
            return Poll::Ready(Some(Err(*e)));
        }
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            if let Some(up) = this.upload.as_mut() {
                match up.poll_send(conn, cx) {
                    Poll::Pending => {}
                    Poll::Ready(r) => {
                        // Sent, or the upstream stopped taking it: the response goes on.
                        if let Err(e) = r {
                            tracing::debug!(error = %e, "request body not sent to the end");
                        }
                        this.upload = None;
                    }
                }
            }
            match this.decoder.step(&mut conn.rbuf) {
                Err(e) => return this.fail(e, cx),
                Ok(Step::Data(b)) => {
                    if this.decoder.is_done() {
                        this.release();
                    }
                    this.delivered = true;
                    return Poll::Ready(Some(Ok(Frame::data(b))));
                }
                Ok(Step::Trailers(t)) => {
                    this.release();
                    return Poll::Ready(Some(Ok(Frame::trailers(t))));
                }
                Ok(Step::End) => {
                    this.release();
                    return Poll::Ready(None);
                }
                Ok(Step::More) => match conn.poll_fill(cx) {
                    Poll::Pending if this.read_expired(cx) => {
                        return this.fail(H1Error::ReadTimeout, cx)
                    }
                    Poll::Pending => {
                        this.delivered = false;
                        return Poll::Pending;
                    }
                    Poll::Ready(Ok(0)) => match this.decoder.eof() {
                        Ok(_) => {
                            this.conn = None;
                            return Poll::Ready(None);
                        }
                        Err(e) => return this.fail(e, cx),
                    },
                    Poll::Ready(Ok(_)) => this.read_progress(),
                    Poll::Ready(Err(e)) => return this.fail(H1Error::Io(e.to_string()), cx),
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.conn.is_none() && self.deferred.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.decoder.remaining() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
