//! Request bodies of the client-facing HTTP/1.1 loop (`h1_server`): a body already whole in
//! the read buffer is handed over as one piece; a longer or chunked one is read from the client
//! connection by whoever polls it (the upstream client, a plugin), out of the loop's own read
//! buffer, which the loop takes back once the response is out.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use tokio::net::TcpStream;

use crate::proxy::h1::framing::{Decoder, Framing, Step};
use crate::proxy::h1::H1Error;

/// How much room a read asks for.
const READ_CHUNK: usize = 16 * 1024;

/// What a streamed body shares with its connection's loop.
pub struct Shared {
    pub io: Arc<TcpStream>,
    /// The loop's read buffer: the body's bytes, then whatever the client sent after it.
    pub buf: BytesMut,
    pub decoder: Decoder,
    /// The client closed the connection or it failed.
    pub broken: bool,
}

/// A request body from the client.
pub enum ReqBody {
    /// Whole (possibly empty); `None` once taken.
    Full(Option<Bytes>),
    /// Read from the connection as it is polled.
    Stream(Arc<Mutex<Shared>>),
}

impl ReqBody {
    /// The body of a request framed by `framing`: whole when `buf` already holds all of it
    /// (taken out of `buf`), otherwise streamed, with `buf` moved into the shared state.
    pub fn new(framing: Framing, buf: &mut BytesMut, io: &Arc<TcpStream>) -> Self {
        match framing {
            Framing::Empty => ReqBody::Full(None),
            Framing::Length(n) if (buf.len() as u64) >= n => {
                ReqBody::Full(Some(buf.split_to(n as usize).freeze()))
            }
            _ => ReqBody::Stream(Arc::new(Mutex::new(Shared {
                io: io.clone(),
                buf: std::mem::take(buf),
                decoder: Decoder::new(framing),
                broken: false,
            }))),
        }
    }
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = H1Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, H1Error>>> {
        match self.get_mut() {
            ReqBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ReqBody::Stream(shared) => {
                let Ok(mut s) = shared.lock() else {
                    return Poll::Ready(Some(Err(H1Error::Io("request body state lost".into()))));
                };
                s.poll_frame(cx)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReqBody::Full(b) => b.as_ref().is_none_or(Bytes::is_empty),
            ReqBody::Stream(s) => s.lock().map_or(true, |s| s.decoder.is_done()),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReqBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            ReqBody::Stream(s) => match s.lock().ok().and_then(|s| s.decoder.remaining()) {
                Some(n) => SizeHint::with_exact(n),
                None => SizeHint::default(),
            },
        }
    }
}

impl Shared {
    /// The next frame of the body, read from the connection as needed.
    pub fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, H1Error>>> {
        loop {
            match self.decoder.step(&mut self.buf) {
                Ok(Step::Data(d)) => return Poll::Ready(Some(Ok(Frame::data(d)))),
                Ok(Step::Trailers(t)) => return Poll::Ready(Some(Ok(Frame::trailers(t)))),
                Ok(Step::End) => return Poll::Ready(None),
                Ok(Step::More) => {}
                Err(e) => {
                    self.broken = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
            if self.broken {
                return Poll::Ready(Some(Err(H1Error::Truncated)));
            }
            self.buf.reserve(READ_CHUNK);
            match self.io.try_read_buf(&mut self.buf) {
                Ok(0) => {
                    self.broken = true;
                    return Poll::Ready(Some(Err(H1Error::Io(
                        "client closed the connection before the end of the request body".into(),
                    ))));
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // Acknowledge what came now: a client with Nagle's algorithm on sends its
                    // next small write at once instead of after our delayed ACK (as the
                    // upstream client does for response bodies, `h1::conn`).
                    let _ = self.io.set_quickack(true);
                    if let Err(e) = std::task::ready!(self.io.poll_read_ready(cx)) {
                        self.broken = true;
                        return Poll::Ready(Some(Err(H1Error::Io(e.to_string()))));
                    }
                }
                Err(e) => {
                    self.broken = true;
                    return Poll::Ready(Some(Err(H1Error::Io(e.to_string()))));
                }
            }
        }
    }
}
