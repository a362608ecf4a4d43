//! Upstream response heads for the lean HTTP/1.1 client (`h1`): the bytes read from the upstream
//! parsed with `httparse` into status, version and headers (values share the read buffer), the
//! body framing they announce (RFC 9112 §6.3) and whether the connection may be kept.

use std::mem::MaybeUninit;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode, Version};

use super::framing::Framing;
use super::H1Error;
use crate::proxy::raw_head::RawHead;

/// The largest response head read (status line and headers), as e.g. nginx's 4×8 KiB buffers
/// and hyper's default, rounded up.
pub const MAX_HEAD: usize = 64 * 1024;
/// The most header lines a response head may carry.
const MAX_HEADERS: usize = 128;
/// The headers the proxy adds to a proxied answer: `Via`, `X-Kong-Upstream-Latency`,
/// `X-Kong-Proxy-Latency`, `X-Kong-Request-Id`, and one a plugin may set.
const ADDED_HEADERS: usize = 5;
/// Room for the lines the proxy appends to a raw head (those four, with their values).
const RAW_ADDED: usize = 160;

/// What the caller wants of a response head.
#[derive(Debug, Clone, Copy, Default)]
pub struct Want {
    /// The request was `HEAD`: the response has no body.
    pub head_request: bool,
    /// The headers as bytes (`RawHead`) where the response allows it.
    pub raw: bool,
}

/// A parsed response head.
#[derive(Debug)]
pub struct Head {
    pub status: StatusCode,
    pub version: Version,
    /// Empty when the headers were taken as bytes (`raw`).
    pub headers: HeaderMap,
    pub raw: Option<RawHead>,
    pub framing: Framing,
    /// Neither side asked to close (HTTP/1.0 must ask to keep) and the framing allows reuse.
    pub keep_alive: bool,
}

/// Parses one head at the start of `buf`; on success it is removed from `buf`. `Ok(None)`: not
/// complete yet. `head_request`: the request was `HEAD` (the response has no body). `raw`: the
/// caller takes the headers as bytes (`RawHead`) where the response allows it (a final answer
/// with a body, and no `Connection` naming other headers); the map is then left empty.
pub fn parse(buf: &mut BytesMut, head_request: bool, raw: bool) -> Result<Option<Head>, H1Error> {
    // Parsed in place; where each name and value lies is noted, so that once the head is split
    // off the buffer (no copy) the values can share it.
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut at = [(0u32, 0u32, 0u32, 0u32); MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut resp, buf, &mut slots)
    {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => return Err(H1Error::HeadTooLarge),
        // Not all there yet: the next read extends the buffer.
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(H1Error::BadHead(e.to_string())),
    };
    if len > MAX_HEAD {
        return Err(H1Error::HeadTooLarge);
    }
    let code = resp.code.unwrap_or(0);
    let status =
        StatusCode::from_u16(code).map_err(|_| H1Error::BadHead(format!("status {code}")))?;
    let version = if resp.version == Some(0) {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let base = buf.as_ptr() as usize;
    let offset = |s: &[u8]| (s.as_ptr() as usize - base) as u32;
    let count = resp.headers.len();
    // Which header lines go on into the map (bit i: line i).
    let mut kept = 0u128;
    let mut facts = Facts::default();
    for (i, (slot, h)) in at.iter_mut().zip(resp.headers.iter()).enumerate() {
        let n = h.name.as_bytes();
        *slot = (
            offset(n),
            n.len() as u32,
            offset(h.value),
            h.value.len() as u32,
        );
        if facts.note(n, h.value)? {
            kept |= 1 << i;
        }
    }
    let bodiless = head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let (framing, framing_reusable) = if bodiless {
        (Framing::Empty, true)
    } else if facts.transfer_encoding {
        // A length next to a transfer coding may be a smuggling attempt: never reused.
        let reusable = facts.length.is_none();
        if facts.chunked_last {
            (Framing::Chunked, reusable)
        } else {
            (Framing::Close, false)
        }
    } else {
        match facts.length {
            Some(0) => (Framing::Empty, true),
            Some(n) => (Framing::Length(n), true),
            None => (Framing::Close, false),
        }
    };
    let keep_alive = framing_reusable
        && status != StatusCode::SWITCHING_PROTOCOLS
        && match version {
            Version::HTTP_10 => facts.keep_alive && !facts.close,
            _ => !facts.close,
        };
    if raw && !bodiless && !facts.names_others {
        let mut head = RawHead::with_capacity(len + RAW_ADDED);
        for h in resp.headers.iter() {
            head.push_upstream(h.name.as_bytes(), h.value);
        }
        // The head leaves the buffer; what follows it (the start of the body) stays.
        buf.advance(len);
        return Ok(Some(Head {
            status,
            version,
            headers: HeaderMap::new(),
            raw: Some(head),
            framing,
            keep_alive,
        }));
    }
    // The head leaves the buffer; what follows it (the start of the body, usually all of it)
    // stays.
    let data: Bytes = buf.split_to(len).freeze();
    // Room for the headers the proxy adds to every answer (`Via`, `X-Kong-*`), so adding them
    // does not grow (rehash) the map.
    let mut headers = HeaderMap::with_capacity(count + ADDED_HEADERS);
    for (i, &(n, nl, v, vl)) in at.iter().take(count).enumerate() {
        if kept & (1 << i) == 0 {
            continue;
        }
        let (n, v) = (n as usize, v as usize);
        let name = data
            .get(n..n + nl as usize)
            .and_then(|b| HeaderName::from_bytes(b).ok())
            .ok_or_else(|| H1Error::BadHead("invalid header name".into()))?;
        let value = HeaderValue::from_maybe_shared(data.slice(v..v + vl as usize))
            .map_err(|_| H1Error::BadHead(format!("invalid value of header {name}")))?;
        headers.append(name, value);
    }
    Ok(Some(Head {
        status,
        version,
        headers,
        raw: None,
        framing,
        keep_alive,
    }))
}

/// What the framing and connection headers said.
#[derive(Default)]
struct Facts {
    length: Option<u64>,
    transfer_encoding: bool,
    /// The last transfer coding is `chunked`.
    chunked_last: bool,
    close: bool,
    keep_alive: bool,
    /// A `Connection` header names other headers (which the proxy must then strip).
    names_others: bool,
}

impl Facts {
    /// Notes what the header says; false for a hop-by-hop header with nothing left to say once
    /// noted (`Connection` naming no other header, `Keep-Alive`), which the response then goes
    /// without (the proxy drops them anyway).
    fn note(&mut self, name: &[u8], value: &[u8]) -> Result<bool, H1Error> {
        if name.eq_ignore_ascii_case(b"content-length") {
            // `5, 5` and repeated equal headers are one length; different ones are an error.
            for part in value.split(|b| *b == b',') {
                let n = parse_length(part.trim_ascii())
                    .ok_or_else(|| H1Error::BadHead("invalid content-length".into()))?;
                if self.length.is_some_and(|l| l != n) {
                    return Err(H1Error::BadHead("conflicting content-length".into()));
                }
                self.length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.transfer_encoding = true;
            let last = value.rsplit(|b| *b == b',').next().unwrap_or_default();
            self.chunked_last = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            let mut names_others = false;
            for t in value.split(|b| *b == b',') {
                let t = t.trim_ascii();
                let close = t.eq_ignore_ascii_case(b"close");
                let keep = t.eq_ignore_ascii_case(b"keep-alive");
                self.close |= close;
                self.keep_alive |= keep;
                names_others |= !(close || keep || t.is_empty());
            }
            self.names_others |= names_others;
            return Ok(names_others);
        } else if name.eq_ignore_ascii_case(b"keep-alive") {
            return Ok(false);
        }
        Ok(true)
    }
}

/// A decimal length: digits only, no sign, no overflow.
pub(in crate::proxy) fn parse_length(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |n, b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &[u8], head_request: bool) -> Result<Option<Head>, H1Error> {
        parse(&mut BytesMut::from(raw), head_request, false)
    }

    #[test]
    fn content_length_and_keep_alive() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
        let mut buf = BytesMut::from(&raw[..]);
        let h = parse(&mut buf, false, false).unwrap().unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(h.framing, Framing::Length(5));
        assert!(h.keep_alive);
        assert_eq!(h.headers["x-a"], "b");
        assert_eq!(&buf[..], b"hello", "the body stays in the buffer");
        // `Connection` naming only itself and `Keep-Alive` are dropped once noted; one naming
        // other headers stays, for the proxy to strip what it names.
        let raw = b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n";
        let h = head(raw, false).unwrap().unwrap();
        assert_eq!(h.headers.len(), 1, "{:?}", h.headers);
        let raw = b"HTTP/1.1 200 OK\r\nConnection: close, x-private\r\nContent-Length: 0\r\n\r\n";
        let h = head(raw, false).unwrap().unwrap();
        assert_eq!(
            (h.headers["connection"].as_bytes(), h.keep_alive),
            (&b"close, x-private"[..], false)
        );
    }

    #[test]
    fn chunked_close_delimited_and_bodiless() {
        let h = head(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            false,
        );
        let h = h.unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, true));
        let h = head(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            false,
        );
        let h = h.unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, false));
        let h = head(b"HTTP/1.1 200 OK\r\n\r\n", false).unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Close, false));
        let h = head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false);
        assert_eq!(h.unwrap().unwrap().framing, Framing::Close);
        for raw in [
            &b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"[..],
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\n",
        ] {
            let h = head(raw, false).unwrap().unwrap();
            assert_eq!((h.framing, h.keep_alive), (Framing::Empty, true));
        }
        let h = head(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", true);
        let h = h.unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Empty, true));
    }

    #[test]
    fn connection_close_and_http_1_0() {
        let h = head(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            false,
        );
        assert!(!h.unwrap().unwrap().keep_alive);
        let h = head(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false)
            .unwrap()
            .unwrap();
        assert_eq!((h.version, h.keep_alive), (Version::HTTP_10, false));
        let h = head(
            b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n",
            false,
        );
        assert!(h.unwrap().unwrap().keep_alive);
    }

    #[test]
    fn a_head_in_pieces_is_parsed_once_complete() {
        let raw = b"HTTP/1.1 200 OK\r\nX-A: b\r\nContent-Length: 5\r\n\r\nhello";
        let head_len = raw.len() - 5;
        let mut buf = BytesMut::new();
        let mut fed = 0;
        for piece in raw.chunks(7) {
            buf.extend_from_slice(piece);
            fed += piece.len();
            match parse(&mut buf, false, false).unwrap() {
                None => assert!(fed < head_len, "{fed}"),
                Some(h) => {
                    assert!(fed >= head_len, "{fed}");
                    assert_eq!(
                        (h.status.as_u16(), h.headers["x-a"].as_bytes()),
                        (200, &b"b"[..])
                    );
                    assert_eq!(&buf[..], &raw[head_len..fed]);
                    return;
                }
            }
        }
        panic!("never complete");
    }

    #[test]
    fn partial_garbage_and_oversized_heads() {
        assert!(head(b"HTTP/1.1 200 OK\r\nContent-Le", false)
            .unwrap()
            .is_none());
        assert!(matches!(
            head(b"SURPRISE\r\n\r\n", false),
            Err(H1Error::BadHead(_))
        ));
        for bad in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        ] {
            assert!(matches!(head(bad, false), Err(H1Error::BadHead(_))));
        }
        let h = head(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\n", false);
        assert_eq!(h.unwrap().unwrap().framing, Framing::Length(2));
        // A head that never ends within the limit.
        let mut big = b"HTTP/1.1 200 OK\r\nX-Filler: ".to_vec();
        big.resize(MAX_HEAD + 10, b'a');
        assert!(matches!(head(&big, false), Err(H1Error::HeadTooLarge)));
    }

    #[test]
    fn raw_heads_where_the_answer_allows_them() {
        let raw = b"HTTP/1.1 201 Created\r\nServer: up\r\nContent-Length: 5\r\n\
                    Connection: keep-alive\r\nX-A: b\r\n\r\nhello";
        let mut buf = BytesMut::from(&raw[..]);
        let h = parse(&mut buf, false, true).unwrap().unwrap();
        assert_eq!(h.status, 201);
        assert_eq!(h.framing, Framing::Length(5));
        assert!(h.keep_alive && h.headers.is_empty());
        let lines = h.raw.expect("raw");
        assert_eq!(lines.as_bytes(), b"Server: up\r\nX-A: b\r\n");
        assert_eq!(&buf[..], b"hello", "the body stays in the buffer");
        // Chunked, and `Connection: close`: framing and connection facts as with a map.
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        let h = parse(&mut BytesMut::from(&raw[..]), false, true)
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::Chunked);
        assert!(!h.keep_alive);
        assert_eq!(h.raw.expect("raw").as_bytes(), b"");
        // A map where the answer has no body or names headers to strip.
        let cases: [(&[u8], bool); 4] = [
            (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", true),
            (b"HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n", false),
            (b"HTTP/1.1 304 Not Modified\r\nX-A: b\r\n\r\n", false),
            (b"HTTP/1.1 200 OK\r\nConnection: x-private\r\nX-Private: 1\r\nContent-Length: 0\r\n\r\n", false),
        ];
        for (raw, head_request) in cases {
            let h = parse(&mut BytesMut::from(raw), head_request, true)
                .unwrap()
                .unwrap();
            assert!(h.raw.is_none(), "{}", String::from_utf8_lossy(raw));
        }
        // Errors stay errors.
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert!(parse(&mut BytesMut::from(&raw[..]), false, true).is_err());
    }
}
