//! The upstream response body of the lean HTTP/1.1 client (`h1`): read from the connection by
//! whoever polls it (the client connection's task, while it writes the response out), framed
//! by the decoder; once the body is read to its end the connection goes back to this thread's
//! idle list (`pool`), if both sides allow keep-alive.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

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
        };
        if body.decoder.is_done() {
            body.release();
        }
        body
    }

    /// The body is over: the connection goes back to the pool when it can be reused.
    fn release(&mut self) {
        if let Some(conn) = self.conn.take() {
            if self.keep_alive && self.decoder.is_done() && conn.rbuf.is_empty() {
                pool::checkin(conn);
            }
        }
    }

    fn fail(&mut self, e: H1Error) -> Poll<Option<Result<Frame<Bytes>, H1Error>>> {
        self.conn = None;
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
                Err(e) => return this.fail(e),
                Ok(Step::Data(b)) => {
                    if this.decoder.is_done() {
                        this.release();
                    }
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
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(0)) => match this.decoder.eof() {
                        Ok(_) => {
                            this.conn = None;
                            return Poll::Ready(None);
                        }
                        Err(e) => return this.fail(e),
                    },
                    Poll::Ready(Ok(_)) => {}
                    Poll::Ready(Err(e)) => return this.fail(H1Error::Io(e.to_string())),
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.conn.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.decoder.remaining() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
