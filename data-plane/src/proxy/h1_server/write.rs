//! Responses of the client-facing HTTP/1.1 loop (`h1_server`): the status line and headers
//! written into the connection's write buffer with the framing the body needs (hyper's server
//! rules, so answers look as they did), then the body's frames as Content-Length bytes or
//! chunks, each written as soon as no next frame is at hand (SSE events go out one by one).

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::Poll;

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRAILER, TRANSFER_ENCODING};
use http::{Method, StatusCode};
use http_body::Body as _;
use tokio::net::TcpStream;

use super::date;
use crate::proxy::body::ProxyBody;
use crate::proxy::h1::encode::{decimal, line, Encoding};
use crate::proxy::h1::head::parse_length;
use crate::proxy::raw_head::RawHead;

/// Frames at hand are gathered up to this many bytes before a write.
const GATHER: usize = 64 * 1024;

/// Why a response could not be written whole; the connection closes.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("writing to the client failed: {0}")]
    Io(#[from] io::Error),
    #[error("response body failed: {0}")]
    Body(String),
    #[error("response does not match its framing: {0}")]
    Framing(String),
}

/// Writes the head of a response to a `method` request into `out`, and says how its body
/// follows. `end_stream`/`exact`: what the body knows of its length. `close`: the connection
/// closes after this response (set here too when the response says so); a `Connection:
/// close` is added when the caller decided it.
pub fn head(
    out: &mut Vec<u8>,
    parts: &http::response::Parts,
    method: &Method,
    end_stream: bool,
    exact: Option<u64>,
    close: &mut bool,
) -> Result<Encoding, WriteError> {
    // hyper's server sends no 1xx as a final answer: a 500 instead.
    let status = if parts.status.is_informational() {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        parts.status
    };
    let head_req = method == Method::HEAD;
    let no_content = matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED);
    let can_body = !head_req && !no_content;
    // Upstream headers taken as bytes (their framing and hop-by-hop lines already left out).
    let raw = parts.extensions.get::<RawHead>();
    let lines: usize = parts
        .headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    out.reserve(lines + raw.map_or(0, |r| r.as_bytes().len()) + 96);
    status_line(out, status);
    let mut enc = None;
    let (mut wrote_date, mut said_close) = (false, false);
    if let Some(raw) = raw {
        out.extend_from_slice(raw.as_bytes());
        wrote_date = raw.has_date();
    }
    for (name, value) in &parts.headers {
        if name == CONTENT_LENGTH {
            if no_content {
                continue;
            }
            if end_stream && !head_req {
                // An empty body: the `content-length: 0` below.
                continue;
            }
            let n = match exact {
                Some(n) => n,
                None => parse_length(value.as_bytes().trim_ascii())
                    .ok_or_else(|| WriteError::Framing("invalid content-length".into()))?,
            };
            if enc.is_some_and(|e| e != Encoding::Length(n)) {
                return Err(WriteError::Framing("conflicting framing headers".into()));
            }
            if enc.is_some() {
                continue;
            }
            enc = Some(Encoding::Length(n));
        } else if name == TRANSFER_ENCODING {
            if !can_body {
                continue;
            }
            if matches!(enc, Some(Encoding::Length(_))) {
                return Err(WriteError::Framing(
                    "content-length and transfer-encoding".into(),
                ));
            }
            enc = Some(Encoding::Chunked);
            let v = value.as_bytes();
            let last = v.rsplit(|b| *b == b',').next().unwrap_or_default();
            if !last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                // `chunked` must come last: added, as hyper does (a rare shape: upstream
                // codings are hop-by-hop and dropped before this).
                let v = [v, b", chunked"].concat();
                line(out, name.as_str().as_bytes(), &v);
                continue;
            }
        } else if name == CONNECTION {
            if value
                .as_bytes()
                .split(|b| *b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
            {
                *close = true;
                said_close = true;
            }
        } else if name == DATE {
            wrote_date = true;
        } else if name == TRAILER && !can_body {
            continue;
        }
        line(out, name.as_str().as_bytes(), value.as_bytes());
    }
    let enc = match enc {
        Some(e) => e,
        None if !end_stream && exact.is_none() => {
            if can_body {
                out.extend_from_slice(b"transfer-encoding: chunked\r\n");
                Encoding::Chunked
            } else {
                Encoding::Empty
            }
        }
        None => {
            let n = if end_stream { 0 } else { exact.unwrap_or(0) };
            if !no_content && (n > 0 || !head_req) {
                let mut buf = [0u8; 20];
                line(out, b"content-length", decimal(n, &mut buf));
            }
            Encoding::Length(n)
        }
    };
    if *close && !said_close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    if !wrote_date {
        out.extend_from_slice(b"date: ");
        date::extend(out);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(if can_body { enc } else { Encoding::Empty })
}

/// `HTTP/1.1 <code> <reason>`.
fn status_line(out: &mut Vec<u8>, status: StatusCode) {
    if status == StatusCode::OK {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        return;
    }
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Writes the head already in `out` and then `body` framed by `enc`; trailers go out only
/// to a client that accepts them (`trailers`). Each write carries everything at hand: the
/// head with the first frame when it is ready, the frames that follow as they come.
pub async fn body(
    io: &TcpStream,
    out: &mut Vec<u8>,
    mut body: ProxyBody,
    mut enc: Encoding,
    trailers: bool,
) -> Result<(), WriteError> {
    if enc == Encoding::Empty || enc == Encoding::Length(0) {
        // Nothing is read of a body that has no place on the wire (HEAD, 204, 304).
        drop(body);
        return Ok(flush(io, out).await?);
    }
    let framing = |e: crate::proxy::h1::H1Error| WriteError::Framing(e.to_string());
    loop {
        let frame = if out.is_empty() {
            poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        } else {
            match poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx))).await {
                Poll::Ready(f) => f,
                Poll::Pending => {
                    flush(io, out).await?;
                    continue;
                }
            }
        };
        match frame {
            None => {
                enc.end(out, None).map_err(framing)?;
                break;
            }
            Some(Err(e)) => {
                // What came before the failure goes out first, as nginx does.
                let _ = flush(io, out).await;
                return Err(WriteError::Body(e.to_string()));
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    enc.data(out, data).map_err(framing)?;
                    if out.len() >= GATHER {
                        flush(io, out).await?;
                    }
                }
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        enc.end(out, trailers.then_some(&t)).map_err(framing)?;
                        break;
                    }
                }
            },
        }
    }
    Ok(flush(io, out).await?)
}

/// Writes all of `out` and empties it.
pub async fn flush(io: &TcpStream, out: &mut Vec<u8>) -> io::Result<()> {
    let mut at = 0;
    while let Some(rest) = out.get(at..).filter(|r| !r.is_empty()) {
        match io.try_write(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => io.writable().await?,
            Err(e) => return Err(e),
        }
    }
    out.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_heads_get_the_framing_their_body_needs() {
        fn parts(status: u16, headers: &[(&'static str, &str)]) -> http::response::Parts {
            let mut r = http::Response::new(());
            *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
            for (n, v) in headers {
                r.headers_mut().append(*n, v.parse().unwrap());
            }
            r.into_parts().0
        }
        let run = |p: &http::response::Parts, m: Method, end, exact, close: bool| {
            let mut out = Vec::new();
            let mut c = close;
            let enc = head(&mut out, p, &m, end, exact, &mut c).unwrap();
            (String::from_utf8(out).unwrap(), enc, c)
        };
        // A known length.
        let (h, enc, c) = run(
            &parts(200, &[("x-a", "1")]),
            Method::GET,
            false,
            Some(5),
            false,
        );
        assert!(
            h.starts_with("HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 5\r\ndate: "),
            "{h}"
        );
        assert!(
            h.ends_with(" GMT\r\n\r\n") && enc == Encoding::Length(5) && !c,
            "{h}"
        );
        // Unknown: chunked. Empty: `content-length: 0`.
        let (h, enc, _) = run(&parts(201, &[]), Method::POST, false, None, false);
        assert!(
            h.starts_with("HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n"),
            "{h}"
        );
        assert_eq!(enc, Encoding::Chunked);
        let (h, enc, _) = run(
            &parts(404, &[("content-length", "9")]),
            Method::GET,
            true,
            Some(0),
            false,
        );
        assert!(
            h.contains("content-length: 0\r\n") && !h.contains(": 9"),
            "{h}"
        );
        assert_eq!(enc, Encoding::Length(0));
        // HEAD keeps the length and sends no body; 204 and 304 carry no framing at all.
        let (h, enc, _) = run(
            &parts(200, &[("content-length", "42")]),
            Method::HEAD,
            true,
            Some(0),
            false,
        );
        assert!(
            h.contains("content-length: 42\r\n") && enc == Encoding::Empty,
            "{h}"
        );
        let (h, enc, _) = run(&parts(204, &[]), Method::GET, true, Some(0), false);
        assert!(
            !h.contains("content-length") && !h.contains("transfer-encoding"),
            "{h}"
        );
        assert_eq!(enc, Encoding::Empty);
        // Closing: said once, by the response or by us.
        let (h, _, c) = run(&parts(200, &[]), Method::GET, true, Some(0), true);
        assert!(c && h.contains("connection: close\r\n"), "{h}");
        let (h, _, c) = run(
            &parts(200, &[("connection", "close")]),
            Method::GET,
            true,
            Some(0),
            false,
        );
        assert!(c && h.matches("connection").count() == 1, "{h}");
        // A date given is kept.
        let (h, _, _) = run(
            &parts(200, &[("date", "yesterday")]),
            Method::GET,
            true,
            Some(0),
            false,
        );
        assert!(
            h.contains("date: yesterday\r\n") && h.matches("date").count() == 1,
            "{h}"
        );
    }
}
