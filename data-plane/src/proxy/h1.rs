//! The lean HTTP/1.1 client for plain-HTTP upstreams, driven inside the request's own task (no
//! connection task, no dispatch channel): the request head and the body frames at hand are
//! encoded into one buffer and written, the rest of a streamed body follows, the response head
//! is parsed with `httparse`, and the response body is read from the connection by whoever polls
//! it. Connections come from and go back to this thread's idle list (`pool`); a request that
//! found its reused connection closed is sent again on a new one when its write failed, or, for
//! an idempotent method, when EOF came before any response byte.

mod conn;
pub(in crate::proxy) mod encode;
pub(in crate::proxy) mod framing;
pub(in crate::proxy) mod head;
mod response;
#[cfg(test)]
mod tests;
mod upload;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use http::{Method, Request, Response};
use http_body::Body as _;

use super::body::ProxyBody;
use super::forward::ForwardError;
use super::headers::Forwarded;
use super::pool;
pub use conn::Conn;
pub(super) use encode::decimal;
use encode::Encoding;
pub use response::Body;

/// Up to this many bytes of body frames at hand go out with the head in the first write (and
/// are kept for a re-send).
const GATHER_LIMIT: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum H1Error {
    #[error("connect failed: {0}")]
    Connect(String),
    #[error("connect timed out")]
    ConnectTimeout,
    #[error("upstream write timed out")]
    WriteTimeout,
    #[error("upstream read timed out")]
    ReadTimeout,
    #[error("upstream closed the connection before responding")]
    Closed,
    #[error("upstream connection failed before responding: {0}")]
    ClosedWith(String),
    #[error("upstream connection failed: {0}")]
    Io(String),
    #[error("upstream response truncated (connection closed mid-message)")]
    Truncated,
    #[error("invalid upstream response head: {0}")]
    BadHead(String),
    #[error("upstream response head larger than {} bytes", head::MAX_HEAD)]
    HeadTooLarge,
    #[error("invalid upstream response body: {0}")]
    BadBody(String),
    #[error("request not sendable: {0}")]
    BadRequest(String),
    #[error("request body failed: {0}")]
    RequestBody(String),
}

impl H1Error {
    /// The reused connection was found closed before any response byte: send again.
    fn stale(&self) -> bool {
        matches!(self, H1Error::Closed | H1Error::ClosedWith(_))
    }
}

impl From<H1Error> for ForwardError {
    fn from(e: H1Error) -> Self {
        match e {
            H1Error::ConnectTimeout | H1Error::WriteTimeout | H1Error::ReadTimeout => {
                ForwardError::Timeout
            }
            H1Error::Connect(m) => ForwardError::Connect(m),
            e => ForwardError::Failed(e.to_string()),
        }
    }
}

/// nginx's timeouts for one exchange. The wait for the response head is bounded by the
/// caller (around `send`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Making the connection.
    pub connect: Duration,
    /// Writing the request head with the body at hand (`None`: unbounded).
    pub write: Option<Duration>,
    /// Between two reads of the response body (`None`: unbounded).
    pub read: Option<Duration>,
}

impl Default for Limits {
    /// What a service's plain-HTTP request gets: Kong's default connect timeout, no others.
    fn default() -> Self {
        Limits {
            connect: conn::CONNECT_TIMEOUT,
            write: None,
            read: None,
        }
    }
}

/// A pooled connection to `authority`, or a new one; and whether it was reused.
async fn conn_for(
    authority: &http::uri::Authority,
    connect: Duration,
) -> Result<(Conn, bool), H1Error> {
    match pool::checkout(authority.as_str()) {
        Some(c) => Ok((c, true)),
        // Boxed: connecting is rare next to reuse, and its future is large.
        None => Ok((Box::pin(Conn::connect(authority, connect)).await?, false)),
    }
}

/// Writes all of `out` to `conn`, within `limit`.
async fn write(conn: &mut Conn, out: &[u8], limit: Option<Duration>) -> Result<(), H1Error> {
    let r = match limit {
        Some(d) => tokio::time::timeout(d, conn.write(out))
            .await
            .map_err(|_| H1Error::WriteTimeout)?,
        None => conn.write(out).await,
    };
    r.map_err(|e| H1Error::Io(e.to_string()))
}

/// What the proxy brings to an exchange beside the request.
#[derive(Debug, Default)]
pub(super) struct Options {
    /// Its own headers, written beside the request's map.
    pub forwarded: Option<Forwarded>,
    /// The response headers may come as bytes (`RawHead`, in the response's extensions).
    pub raw_head: bool,
}

/// Sends `req` (an absolute `http://` URI) over a pooled connection; the response body streams
/// from the connection.
/// (A plain function: an `async` wrapper would keep its arguments a second time.)
pub(super) fn send(
    req: Request<ProxyBody>,
    opts: Options,
) -> impl Future<Output = Result<Response<Body>, ForwardError>> {
    send_with(req, opts, Limits::default())
}

/// `send` with `limits`.
// Not an `async fn`, which would keep its arguments twice (rust-lang/rust#62958): the
// future holds each once.
#[allow(clippy::manual_async_fn)]
pub(super) fn send_with(
    req: Request<ProxyBody>,
    opts: Options,
    limits: Limits,
) -> impl Future<Output = Result<Response<Body>, ForwardError>> + Send {
    async move {
        let (parts, mut body) = req.into_parts();
        let Some(authority) = parts.uri.authority() else {
            return Err(ForwardError::Failed("upstream URI has no host".into()));
        };
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let (mut conn, mut reused) = conn_for(authority, limits.connect).await?;
        let mut out = std::mem::take(&mut conn.wbuf);
        out.clear();
        let end_stream = body.is_end_stream();
        let exact = body.size_hint().exact();
        let mut enc = encode::head(
            &mut out,
            &parts.method,
            target,
            &parts.headers,
            opts.forwarded.as_ref(),
            authority,
            end_stream,
            exact,
        )?;
        let complete = if end_stream {
            enc.end(&mut out, None)?;
            true
        } else {
            gather(&mut body, &mut enc, &mut out).await?
        };
        let want = head::Want {
            head_request: parts.method == Method::HEAD,
            raw: opts.raw_head,
        };
        let head = loop {
            if let Err(e) = write(&mut conn, &out, limits.write).await {
                // Nothing of the body past `out` was taken yet: any request can go again.
                if reused && !matches!(e, H1Error::WriteTimeout) {
                    tracing::debug!(error = %e, "reused upstream connection was closed; sending again");
                    (conn, reused) = conn_for(authority, limits.connect).await?;
                    continue;
                }
                return Err(e.into());
            }
            if !complete {
                // The rest of the body streams while the head is awaited; what is left of it when
                // the head arrives goes on with the response body.
                let mut up = upload::Upload::new(body, enc);
                let mut sent = false;
                let head = poll_fn(|cx| {
                    if !sent {
                        match up.poll_send(&mut conn, cx) {
                            Poll::Ready(Ok(())) => sent = true,
                            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                            Poll::Pending => {}
                        }
                    }
                    conn.poll_head(want, cx)
                })
                .await?;
                let rest = (!sent).then_some(up);
                return Ok(respond(conn, head, rest, limits.read));
            }
            let r = conn.read_head(want).await;
            match r {
                Ok(h) => break h,
                // A complete request (still in `out`) met a reused connection the upstream closed
                // before answering. It may have read the request first, so only a method nginx
                // counts as idempotent goes again: a POST, PATCH or LOCK is never sent twice.
                Err(e) if reused && e.stale() && idempotent(&parts.method) => {
                    tracing::debug!(error = %e, "reused upstream connection was closed; sending again");
                    (conn, reused) = conn_for(authority, limits.connect).await?;
                }
                Err(e) => return Err(e.into()),
            }
        };
        out.clear();
        conn.wbuf = out;
        Ok(respond(conn, head, None, limits.read))
    }
}

/// nginx's rule for sending a request again after it was sent (`proxy_next_upstream` without
/// `non_idempotent`): everything but POST, PATCH and LOCK.
fn idempotent(method: &Method) -> bool {
    !matches!(method.as_str(), "POST" | "PATCH" | "LOCK")
}

/// The response whose head was read from `conn`; `upload`: the rest of a request body still
/// being sent.
fn respond(
    conn: Conn,
    head: head::Head,
    upload: Option<upload::Upload>,
    read: Option<Duration>,
) -> Response<Body> {
    let body = Body::new(conn, head.framing, head.keep_alive, upload).read_timeout(read);
    let mut resp = Response::new(body);
    *resp.status_mut() = head.status;
    *resp.version_mut() = head.version;
    *resp.headers_mut() = head.headers;
    if let Some(raw) = head.raw {
        resp.extensions_mut().insert(raw);
    }
    resp
}

/// Encodes the body frames that are ready now into `out` (up to `GATHER_LIMIT`); true when the
/// body is over.
async fn gather(
    body: &mut ProxyBody,
    enc: &mut Encoding,
    out: &mut Vec<u8>,
) -> Result<bool, H1Error> {
    while out.len() < GATHER_LIMIT {
        let polled = poll_fn(|cx| Poll::Ready(Pin::new(&mut *body).poll_frame(cx))).await;
        match polled {
            Poll::Pending => return Ok(false),
            Poll::Ready(frame) => {
                if encode_frame(frame, enc, out)? {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

/// Encodes one polled frame into `out`; true when the body is over.
fn encode_frame(
    frame: Option<Result<http_body::Frame<bytes::Bytes>, super::body::BoxError>>,
    enc: &mut Encoding,
    out: &mut Vec<u8>,
) -> Result<bool, H1Error> {
    match frame {
        None => {
            enc.end(out, None)?;
            Ok(true)
        }
        Some(Err(e)) => Err(H1Error::RequestBody(e.to_string())),
        Some(Ok(frame)) => match frame.into_data() {
            Ok(d) => {
                enc.data(out, d)?;
                Ok(false)
            }
            Err(frame) => match frame.into_trailers() {
                Ok(t) => {
                    enc.end(out, Some(&t))?;
                    Ok(true)
                }
                Err(_) => Ok(false),
            },
        },
    }
}
