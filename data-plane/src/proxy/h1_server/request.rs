//! Request heads for the client-facing HTTP/1.1 loop (`h1_server`): the bytes read from the
//! client parsed with `httparse` into method, target and headers (values share the read
//! buffer), and the body framing they announce (RFC 9112 §6.3). A head this loop does not
//! serve itself — HTTP/1.0, an upgrade, `Expect`, `CONNECT`, a framing it would have to judge,
//! anything malformed — is left in the buffer untouched, for hyper to serve.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Uri};

use crate::proxy::h1::framing::Framing;
use crate::proxy::h1::head::parse_length;

/// The largest head parsed here; a longer one goes to hyper (whose limit is larger, and whose
/// answer to an oversized head the proxy keeps).
pub const MAX_HEAD: usize = 64 * 1024;
/// Headers the proxy may add to a request on its way upstream.
const ADDED_UPSTREAM: usize = 12;
/// The most header lines parsed here (hyper's default; more go to hyper, which refuses them).
const MAX_HEADERS: usize = 100;

/// A request head, removed from the buffer.
#[derive(Debug)]
pub struct Head {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub framing: Framing,
    /// The client asked to close the connection after this request.
    pub close: bool,
    /// The client accepts trailers (`TE: trailers`).
    pub trailers: bool,
}

/// What the start of the buffer holds.
// Not boxed: the head moves once, and a box would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Parsed {
    Head(Head),
    /// Not a whole head yet.
    Partial,
    /// A head for hyper; the buffer is as it was.
    Handoff,
}

/// What the framing and connection headers said.
#[derive(Default)]
struct Facts {
    length: Option<u64>,
    chunked: bool,
    close: bool,
    trailers: bool,
    /// Something only hyper serves (upgrade, expect, an odd framing).
    handoff: bool,
}

/// Parses the head at the start of `buf`. `scratch` keeps its allocation from one request to
/// the next.
pub fn parse(buf: &mut BytesMut, scratch: &mut Vec<(HeaderName, usize, usize)>) -> Parsed {
    scratch.clear();
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let len = match httparse::ParserConfig::default()
        .parse_request_with_uninit_headers(&mut req, buf, &mut slots)
    {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => return Parsed::Partial,
        _ => return Parsed::Handoff,
    };
    if len > MAX_HEAD || req.version != Some(1) {
        return Parsed::Handoff;
    }
    let Ok(method) = Method::from_bytes(req.method.unwrap_or_default().as_bytes()) else {
        return Parsed::Handoff;
    };
    if method == Method::CONNECT {
        return Parsed::Handoff;
    }
    let base = buf.as_ptr() as usize;
    let target = req.path.unwrap_or_default();
    let target_at = (target.as_ptr() as usize - base, target.len());
    let mut facts = Facts::default();
    for h in req.headers.iter() {
        let Ok(name) = HeaderName::from_bytes(h.name.as_bytes()) else {
            return Parsed::Handoff;
        };
        facts.note(&name, h.value);
        scratch.push((name, h.value.as_ptr() as usize - base, h.value.len()));
    }
    if facts.handoff {
        return Parsed::Handoff;
    }
    let framing = match (facts.chunked, facts.length) {
        (true, _) => Framing::Chunked,
        (false, Some(0) | None) => Framing::Empty,
        (false, Some(n)) => Framing::Length(n),
    };
    let head = buf.split_to(len).freeze();
    let Some((uri, headers)) = build(&head, target_at, scratch) else {
        // A target or value `http` refuses: the head goes back, for hyper to answer.
        let mut back = BytesMut::with_capacity(head.len() + buf.len());
        back.extend_from_slice(&head);
        back.extend_from_slice(buf);
        *buf = back;
        return Parsed::Handoff;
    };
    Parsed::Head(Head {
        method,
        uri,
        headers,
        framing,
        close: facts.close,
        trailers: facts.trailers,
    })
}

/// The target and the header values, as views of the head's bytes.
fn build(
    head: &Bytes,
    (at, len): (usize, usize),
    scratch: &mut Vec<(HeaderName, usize, usize)>,
) -> Option<(Uri, HeaderMap)> {
    let uri = Uri::from_maybe_shared(head.slice(at..at + len)).ok()?;
    // Room for what the proxy adds upstream (`X-Forwarded-*`, `X-Real-IP`, the request id,
    // key-auth's `X-Consumer-*` and `X-Credential-Identifier`), so that adding them does not
    // grow (rehash) the map.
    let mut headers = HeaderMap::with_capacity(scratch.len() + ADDED_UPSTREAM);
    for (name, at, len) in scratch.drain(..) {
        let value = HeaderValue::from_maybe_shared(head.slice(at..at + len)).ok()?;
        headers.append(name, value);
    }
    Some((uri, headers))
}

impl Facts {
    fn note(&mut self, name: &HeaderName, value: &[u8]) {
        use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, TE, TRANSFER_ENCODING, UPGRADE};
        if name == CONTENT_LENGTH {
            // `5, 5` and repeated equal headers are one length; anything else is hyper's call.
            for part in value.split(|b| *b == b',') {
                match parse_length(part.trim_ascii()) {
                    Some(n) if self.length.is_none_or(|l| l == n) => self.length = Some(n),
                    _ => self.handoff = true,
                }
            }
            self.handoff |= self.chunked;
        } else if name == TRANSFER_ENCODING {
            // Exactly `chunked`, once, and no length: anything else is hyper's call.
            self.handoff |= self.chunked
                || self.length.is_some()
                || !value.trim_ascii().eq_ignore_ascii_case(b"chunked");
            self.chunked = true;
        } else if name == CONNECTION {
            for t in value.split(|b| *b == b',') {
                let t = t.trim_ascii();
                self.close |= t.eq_ignore_ascii_case(b"close");
                self.handoff |= t.eq_ignore_ascii_case(b"upgrade");
            }
        } else if name == UPGRADE || name == EXPECT {
            self.handoff = true;
        } else if name == TE {
            self.trailers |= value
                .split(|b| *b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"trailers"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_heads_are_parsed_here_and_the_rest_left_for_hyper() {
        let mut scratch = Vec::new();
        let mut buf = BytesMut::from(
            &b"POST /p?q=1 HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\ncontent-length: 5, 5\r\n\
               te: gzip, trailers\r\n\r\nhelloGET"[..],
        );
        let Parsed::Head(h) = parse(&mut buf, &mut scratch) else {
            panic!("not parsed");
        };
        assert_eq!(
            (h.method.as_str(), h.uri.to_string()),
            ("POST", "/p?q=1".into())
        );
        assert_eq!(h.headers.get_all("x-a").iter().count(), 2);
        assert_eq!(h.framing, Framing::Length(5));
        assert!(h.trailers && !h.close);
        assert_eq!(&buf[..], b"helloGET");
        let mut buf =
            BytesMut::from(&b"GET / HTTP/1.1\r\nconnection: keep-alive, close\r\n\r\n"[..]);
        let Parsed::Head(h) = parse(&mut buf, &mut scratch) else {
            panic!("not parsed");
        };
        assert!(h.close && h.framing == Framing::Empty);
        let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\nhost: a\r\n"[..]);
        assert!(matches!(parse(&mut buf, &mut scratch), Parsed::Partial));

        for raw in [
            &b"GET / HTTP/1.0\r\n\r\n"[..],
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"GET / HTTP/1.1\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
            b"GET / HTTP/1.1\r\nconnection: Upgrade\r\n\r\n",
            b"POST / HTTP/1.1\r\nexpect: 100-continue\r\ncontent-length: 1\r\n\r\n",
            b"CONNECT a:443 HTTP/1.1\r\n\r\n",
            b"POST / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
            b"POST / HTTP/1.1\r\ncontent-length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nbad header\r\n\r\n",
            b"GET http://[::1 HTTP/1.1\r\n\r\n",
        ] {
            let mut buf = BytesMut::from(raw);
            assert!(
                matches!(parse(&mut buf, &mut scratch), Parsed::Handoff),
                "{}",
                String::from_utf8_lossy(raw)
            );
            assert_eq!(&buf[..], raw, "the bytes stay for hyper");
        }
        let mut long = BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]);
        long.extend_from_slice(&vec![b'a'; MAX_HEAD + 1]);
        assert!(matches!(parse(&mut long, &mut scratch), Parsed::Handoff));
    }
}
