//! Upstream request encoding for the lean HTTP/1.1 client (`h1`): the request head written
//! straight into the connection's write buffer (request line, headers, the framing header the
//! body needs) and the body's frames as Content-Length bytes or chunks.

use bytes::Buf;
use http::header::{CONTENT_LENGTH, HOST};
use http::uri::Authority;
use http::{HeaderMap, Method};

use super::H1Error;
use crate::proxy::headers::Forwarded;

/// How the request body goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// No body.
    Empty,
    /// This many bytes still to send.
    Length(u64),
    Chunked,
}

/// Writes the request head into `out` and says how the body must follow. `end_stream`: the body
/// is known to be empty; `exact`: its exact length, if known. As hyper's client does: a
/// `Content-Length` the caller set is kept; otherwise an empty body gets no framing header, a
/// body of known length a `Content-Length`, any other one `Transfer-Encoding: chunked`.
/// `fwd`: what the proxy sets, written first (`Host` leading) in place of the client's headers
/// of the same names.
#[allow(clippy::too_many_arguments)]
pub fn head(
    out: &mut Vec<u8>,
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    fwd: Option<&Forwarded>,
    authority: &Authority,
    end_stream: bool,
    exact: Option<u64>,
) -> Result<Encoding, H1Error> {
    // One reservation for the whole head (each line below then only copies).
    let lines: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    let fwd_len = fwd.map_or(0, Forwarded::len);
    out.reserve(
        method.as_str().len() + target.len() + lines + fwd_len + authority.as_str().len() + 64,
    );
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(if target.is_empty() { "/" } else { target }.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if let Some(f) = fwd {
        f.write(|n, v| line(out, n, v));
    }
    if !fwd.is_some_and(Forwarded::has_host) && !headers.contains_key(HOST) {
        let host = match authority.port_u16() {
            Some(80) => authority.host(),
            _ => authority.as_str(),
        };
        line(out, b"host", host.as_bytes());
    }
    let mut length = None;
    for (name, value) in headers {
        if fwd.is_some_and(|f| f.replaces(name)) {
            continue;
        }
        if name == CONTENT_LENGTH {
            let n = std::str::from_utf8(value.as_bytes())
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| H1Error::BadRequest("invalid content-length".into()))?;
            if length.replace(n).is_some_and(|l| l != n) {
                return Err(H1Error::BadRequest("conflicting content-length".into()));
            }
        }
        line(out, name.as_str().as_bytes(), value.as_bytes());
    }
    let encoding = match (length, end_stream, exact) {
        (Some(n), _, _) => Encoding::Length(n),
        (None, true, _) => Encoding::Empty,
        (None, false, Some(n)) => {
            let mut digits = [0u8; 20];
            line(out, b"content-length", decimal(n, &mut digits));
            Encoding::Length(n)
        }
        (None, false, None) => {
            line(out, b"transfer-encoding", b"chunked");
            Encoding::Chunked
        }
    };
    out.extend_from_slice(b"\r\n");
    Ok(match encoding {
        Encoding::Length(0) => Encoding::Empty,
        e => e,
    })
}

/// `n` in decimal, in `buf` (no formatting machinery on the request path).
pub(in crate::proxy) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Appends one header line, `name: value` and CRLF.
pub(in crate::proxy) fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in lowercase hexadecimal (a chunk size).
fn hex(mut n: usize, out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = DIGITS[n & 0xf];
        n >>= 4;
        if n == 0 || at == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[at..]);
}

impl Encoding {
    /// Appends one data frame to `out`.
    pub fn data(&mut self, out: &mut Vec<u8>, mut data: impl Buf) -> Result<(), H1Error> {
        let len = data.remaining();
        if len == 0 {
            return Ok(());
        }
        match self {
            Encoding::Empty => {
                return Err(H1Error::BadRequest("body longer than announced".into()))
            }
            Encoding::Length(n) => {
                *n = n
                    .checked_sub(len as u64)
                    .ok_or_else(|| H1Error::BadRequest("body longer than content-length".into()))?;
            }
            Encoding::Chunked => {
                hex(len, out);
                out.extend_from_slice(b"\r\n");
            }
        }
        while data.has_remaining() {
            let c = data.chunk();
            out.extend_from_slice(c);
            let n = c.len();
            data.advance(n);
        }
        if *self == Encoding::Chunked {
            out.extend_from_slice(b"\r\n");
        }
        Ok(())
    }

    /// Appends the end of the body (with `trailers` when chunked) to `out`.
    pub fn end(&self, out: &mut Vec<u8>, trailers: Option<&HeaderMap>) -> Result<(), H1Error> {
        match self {
            Encoding::Empty | Encoding::Length(0) => Ok(()),
            Encoding::Length(n) => Err(H1Error::BadRequest(format!(
                "body ended {n} bytes short of content-length"
            ))),
            Encoding::Chunked => {
                out.extend_from_slice(b"0\r\n");
                for (name, value) in trailers.into_iter().flatten() {
                    line(out, name.as_str().as_bytes(), value.as_bytes());
                }
                out.extend_from_slice(b"\r\n");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderValue;

    fn encode(headers: &HeaderMap, end_stream: bool, exact: Option<u64>) -> (String, Encoding) {
        let mut out = Vec::new();
        let auth = Authority::from_static("up.example:80");
        let e = head(
            &mut out,
            &Method::POST,
            "/a?b=1",
            headers,
            None,
            &auth,
            end_stream,
            exact,
        )
        .unwrap();
        (String::from_utf8(out).unwrap(), e)
    }

    #[test]
    fn heads_carry_host_and_the_framing_the_body_needs() {
        let mut h = HeaderMap::new();
        h.insert("x-a", HeaderValue::from_static("1"));
        let (s, e) = encode(&h, true, Some(0));
        assert_eq!(
            s,
            "POST /a?b=1 HTTP/1.1\r\nhost: up.example\r\nx-a: 1\r\n\r\n"
        );
        assert_eq!(e, Encoding::Empty);
        let (s, e) = encode(&h, false, Some(14));
        assert!(s.ends_with("x-a: 1\r\ncontent-length: 14\r\n\r\n"), "{s}");
        assert_eq!(e, Encoding::Length(14));
        let (s, e) = encode(&h, false, None);
        assert!(s.ends_with("transfer-encoding: chunked\r\n\r\n"), "{s}");
        assert_eq!(e, Encoding::Chunked);
        h.insert(HOST, HeaderValue::from_static("kept"));
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("3"));
        let (s, e) = encode(&h, false, None);
        assert_eq!(s.matches("host").count(), 1, "{s}");
        assert!(
            s.contains("host: kept\r\n") && s.contains("content-length: 3\r\n"),
            "{s}"
        );
        assert_eq!(e, Encoding::Length(3));
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("x"));
        let mut out = Vec::new();
        let auth = Authority::from_static("up:8080");
        let r = head(&mut out, &Method::GET, "/", &h, None, &auth, true, None);
        assert!(matches!(r, Err(H1Error::BadRequest(_))));
    }

    #[test]
    fn decimals() {
        let mut buf = [0u8; 20];
        for n in [0u64, 7, 10, 80, 65535, u64::MAX] {
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes());
        }
    }

    #[test]
    fn bodies_as_length_or_chunks() {
        let mut out = Vec::new();
        let mut e = Encoding::Chunked;
        e.data(&mut out, Bytes::from_static(b"hello")).unwrap();
        e.data(&mut out, Bytes::new()).unwrap();
        e.data(&mut out, Bytes::from_static(b"0123456789abcdef!"))
            .unwrap();
        let mut t = HeaderMap::new();
        t.insert("x-sum", HeaderValue::from_static("9"));
        e.end(&mut out, Some(&t)).unwrap();
        assert_eq!(
            out,
            b"5\r\nhello\r\n11\r\n0123456789abcdef!\r\n0\r\nx-sum: 9\r\n\r\n"
        );
        let mut out = Vec::new();
        let mut e = Encoding::Length(5);
        e.data(&mut out, Bytes::from_static(b"hel")).unwrap();
        assert!(matches!(e.end(&mut out, None), Err(H1Error::BadRequest(_))));
        e.data(&mut out, Bytes::from_static(b"lo")).unwrap();
        e.end(&mut out, None).unwrap();
        assert_eq!(out, b"hello");
        assert!(e.data(&mut out, Bytes::from_static(b"!")).is_err());
    }
}
