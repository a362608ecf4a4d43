//! One upstream connection of the lean HTTP/1.1 client (`h1`): the TCP stream, its read buffer
//! (response heads and bodies are parsed out of it in place) and its write buffer (the request
//! head and body are encoded into it), with the reads and writes the exchange needs.

use std::io;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use http::uri::Authority;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::head::{self, Head, Want};
use super::H1Error;

/// The default connect timeout (Kong's default `connect_timeout`: 60 s); the caller's overall
/// timeout bounds it further.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// How much room a read asks for.
const READ_CHUNK: usize = 8 * 1024;

pub struct Conn {
    io: TcpStream,
    /// Bytes read and not yet consumed.
    pub(super) rbuf: BytesMut,
    /// The allocation the requests on this connection are encoded into.
    pub(super) wbuf: Vec<u8>,
    /// The pool key (`host:port`) this connection belongs to.
    pub(in crate::proxy) key: Box<str>,
}

impl Conn {
    pub async fn connect(authority: &Authority, timeout: Duration) -> Result<Self, H1Error> {
        let port = authority.port_u16().unwrap_or(80);
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let io = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|_| H1Error::ConnectTimeout)?
            .map_err(|e| H1Error::Connect(format!("{authority}: {e}")))?;
        let _ = io.set_nodelay(true);
        Ok(Conn {
            io,
            rbuf: BytesMut::new(),
            wbuf: Vec::with_capacity(1024),
            key: authority.as_str().into(),
        })
    }

    /// Whether an idle connection still looks usable: nothing unread and, as far as the reactor
    /// knows, not closed by the upstream (a pending close shows as readable: a read finds EOF).
    pub fn looks_alive(&mut self) -> bool {
        if !self.rbuf.is_empty() {
            return false;
        }
        let mut probe = [0u8; 1];
        matches!(self.io.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Writes all of `buf`.
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        self.io.write_all(buf).await
    }

    /// A complete final response head from `rbuf`, if there is one (interim 1xx answers other
    /// than 101 are skipped).
    fn parsed(&mut self, want: Want) -> Result<Option<Head>, H1Error> {
        while !self.rbuf.is_empty() {
            match head::parse(&mut self.rbuf, want.head_request, want.raw)? {
                Some(h)
                    if h.status.is_informational()
                        && h.status != http::StatusCode::SWITCHING_PROTOCOLS => {}
                Some(h) => return Ok(Some(h)),
                None => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Reads the response head, skipping interim (1xx) responses other than 101.
    /// `H1Error::Closed` when the upstream closed or reset before sending a byte.
    pub async fn read_head(&mut self, want: Want) -> Result<Head, H1Error> {
        let mut got_any = !self.rbuf.is_empty();
        loop {
            if let Some(h) = self.parsed(want)? {
                return Ok(h);
            }
            self.rbuf.reserve(READ_CHUNK);
            match self.io.read_buf(&mut self.rbuf).await {
                Ok(0) if !got_any => return Err(H1Error::Closed),
                Ok(0) => return Err(H1Error::Truncated),
                Ok(_) => got_any = true,
                Err(e) if !got_any => return Err(H1Error::ClosedWith(e.to_string())),
                Err(e) => return Err(H1Error::Io(e.to_string())),
            }
        }
    }

    /// `read_head` as a poll, for reading the head while a request body is still being sent.
    pub fn poll_head(&mut self, want: Want, cx: &mut Context<'_>) -> Poll<Result<Head, H1Error>> {
        loop {
            if let Some(h) = self.parsed(want)? {
                return Poll::Ready(Ok(h));
            }
            match std::task::ready!(self.poll_fill(cx)) {
                Ok(0) => return Poll::Ready(Err(H1Error::Truncated)),
                Ok(_) => {}
                Err(e) => return Poll::Ready(Err(H1Error::Io(e.to_string()))),
            }
        }
    }

    /// Writes some of `buf`.
    pub fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
    }

    /// Reads more of the body into `rbuf`: `Ready(Ok(0))` at EOF.
    pub fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        self.rbuf.reserve(READ_CHUNK);
        loop {
            match self.io.try_read_buf(&mut self.rbuf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Waiting for more of a response (a stream): acknowledge what came now, so
                    // that an upstream with Nagle's algorithm on sends its next small write at
                    // once instead of after our delayed ACK (40 ms on Linux).
                    let _ = self.io.set_quickack(true);
                    if let Err(e) = std::task::ready!(self.io.poll_read_ready(cx)) {
                        return Poll::Ready(Err(e));
                    }
                }
                r => return Poll::Ready(r),
            }
        }
    }
}
