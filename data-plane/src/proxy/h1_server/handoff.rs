//! The way out of the client-facing HTTP/1.1 loop (`h1_server`): a connection whose next
//! request the loop does not serve itself goes, with the bytes already read in front of the
//! socket's, to hyper's HTTP/1.1 + h2c connection (upgrades included) for the rest of its life,
//! drained gracefully like every other connection when the proxy stops.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::proxy::Peer;
use crate::State;

/// Serves the rest of the connection with hyper; `read`: what was read and not consumed.
pub async fn serve(
    stream: TcpStream,
    read: Bytes,
    builder: &auto::Builder<TokioExecutor>,
    state: Arc<State>,
    peer: Arc<Peer>,
    mut stop: watch::Receiver<bool>,
) {
    let io = Prefixed { read, stream };
    let svc = service_fn(move |req| crate::proxy::serve::respond(state.clone(), req, peer.clone()));
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), svc);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        if !stopping && *stop.borrow_and_update() {
            conn.as_mut().graceful_shutdown();
            stopping = true;
        }
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "proxy connection ended with error");
                }
                return;
            }
            changed = stop.changed(), if !stopping => {
                if changed.is_err() {
                    // No stop signal can come any more: serve to the end.
                    stopping = true;
                }
            }
        }
    }
}

/// A TCP stream with bytes already read from it in front.
struct Prefixed {
    read: Bytes,
    stream: TcpStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.read.has_remaining() {
            let n = this.read.len().min(buf.remaining());
            buf.put_slice(&this.read[..n]);
            this.read.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
