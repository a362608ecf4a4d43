//! Upstream response body framing for the lean HTTP/1.1 client (`h1`): a decoder, free of I/O,
//! that takes the body's bytes out of the connection's read buffer as the head announced them
//! (a length, chunked with trailers, or up to the close) and says when the body is over.

use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

use super::H1Error;

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304, `Content-Length: 0`).
    Empty,
    Length(u64),
    Chunked,
    /// Up to the upstream closing the connection.
    Close,
}

/// The longest chunk-size line (size and extensions) accepted.
const MAX_CHUNK_LINE: usize = 4096;
/// The most bytes of trailers accepted.
const MAX_TRAILERS: usize = 16 * 1024;

/// What the decoder made of the buffer.
#[derive(Debug, PartialEq)]
pub enum Step {
    Data(Bytes),
    Trailers(HeaderMap),
    /// The body is over (the rest of the buffer is not part of it).
    End,
    /// More bytes are needed.
    More,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Length(u64),
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailers, then an empty line.
    Trailers,
    Close,
    Done,
}

#[derive(Debug)]
pub struct Decoder(State);

impl Decoder {
    pub fn new(framing: Framing) -> Self {
        Decoder(match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Size,
            Framing::Close => State::Close,
        })
    }

    pub fn is_done(&self) -> bool {
        self.0 == State::Done
    }

    /// The bytes of body still expected, when known.
    pub fn remaining(&self) -> Option<u64> {
        match self.0 {
            State::Length(n) => Some(n),
            State::Done => Some(0),
            _ => None,
        }
    }

    /// Takes the next piece of the body out of `buf`.
    pub fn step(&mut self, buf: &mut BytesMut) -> Result<Step, H1Error> {
        loop {
            match self.0 {
                State::Done => return Ok(Step::End),
                State::Length(n) | State::Data(n) => {
                    if buf.is_empty() {
                        return Ok(Step::More);
                    }
                    let take = usize::try_from(n).unwrap_or(usize::MAX).min(buf.len());
                    let left = n - take as u64;
                    self.0 = match self.0 {
                        State::Length(_) if left == 0 => State::Done,
                        State::Length(_) => State::Length(left),
                        _ if left == 0 => State::DataEnd,
                        _ => State::Data(left),
                    };
                    return Ok(Step::Data(buf.split_to(take).freeze()));
                }
                State::Close => {
                    if buf.is_empty() {
                        return Ok(Step::More);
                    }
                    return Ok(Step::Data(buf.split().freeze()));
                }
                State::Size => {
                    let Some(line) = line_end(buf, MAX_CHUNK_LINE)? else {
                        return Ok(Step::More);
                    };
                    let size = chunk_size(&buf[..line])?;
                    buf.advance(line + 2);
                    self.0 = if size == 0 {
                        State::Trailers
                    } else {
                        State::Data(size)
                    };
                }
                State::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(Step::More);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(H1Error::BadBody("chunk data not followed by CRLF".into()));
                    }
                    buf.advance(2);
                    self.0 = State::Size;
                }
                State::Trailers => return self.trailers(buf),
            }
        }
    }

    fn trailers(&mut self, buf: &mut BytesMut) -> Result<Step, H1Error> {
        if buf.starts_with(b"\r\n") {
            buf.advance(2);
            self.0 = State::Done;
            return Ok(Step::End);
        }
        let mut slots = [httparse::EMPTY_HEADER; 32];
        let (len, parsed) = match httparse::parse_headers(buf, &mut slots) {
            Ok(httparse::Status::Complete(c)) => c,
            Ok(httparse::Status::Partial) if buf.len() > MAX_TRAILERS => {
                return Err(H1Error::BadBody("trailers too large".into()))
            }
            Ok(httparse::Status::Partial) => return Ok(Step::More),
            Err(e) => return Err(H1Error::BadBody(format!("trailers: {e}"))),
        };
        let mut map = HeaderMap::with_capacity(parsed.len());
        for h in parsed {
            let name = HeaderName::from_bytes(h.name.as_bytes());
            let value = HeaderValue::from_bytes(h.value);
            if let (Ok(n), Ok(v)) = (name, value) {
                map.append(n, v);
            }
        }
        buf.advance(len);
        self.0 = State::Done;
        Ok(Step::Trailers(map))
    }

    /// The upstream closed the connection: the end of a close-delimited body, an error for any
    /// other body not over yet.
    pub fn eof(&mut self) -> Result<Step, H1Error> {
        match self.0 {
            State::Done => Ok(Step::End),
            State::Close => {
                self.0 = State::Done;
                Ok(Step::End)
            }
            _ => Err(H1Error::Truncated),
        }
    }
}

/// Where the CRLF of the first line of `buf` is, if it is there.
fn line_end(buf: &[u8], limit: usize) -> Result<Option<usize>, H1Error> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(i) => Ok(Some(i)),
        None if buf.len() > limit => Err(H1Error::BadBody("chunk size line too long".into())),
        None => Ok(None),
    }
}

/// The hexadecimal size of a chunk-size line (extensions after `;` ignored).
fn chunk_size(line: &[u8]) -> Result<u64, H1Error> {
    let hex = line
        .split(|b| *b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let bad = || {
        H1Error::BadBody(format!(
            "invalid chunk size {:?}",
            String::from_utf8_lossy(line)
        ))
    };
    if hex.is_empty() || hex.len() > 16 {
        return Err(bad());
    }
    hex.iter().try_fold(0u64, |n, b| {
        let d = (*b as char).to_digit(16).ok_or_else(bad)?;
        Ok((n << 4) | u64::from(d))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `raw` one piece of `split` bytes at a time and collects what the decoder gives.
    fn decode(
        framing: Framing,
        raw: &[u8],
        split: usize,
        eof: bool,
    ) -> Result<(Vec<u8>, Option<HeaderMap>, BytesMut), H1Error> {
        let mut d = Decoder::new(framing);
        let mut buf = BytesMut::new();
        let (mut data, mut trailers) = (Vec::new(), None);
        let mut pieces = raw.chunks(split.max(1));
        loop {
            match d.step(&mut buf)? {
                Step::Data(b) => data.extend_from_slice(&b),
                Step::Trailers(t) => trailers = Some(t),
                Step::End => return Ok((data, trailers, buf)),
                Step::More => match pieces.next() {
                    Some(p) => buf.extend_from_slice(p),
                    None if eof => {
                        assert_eq!(d.eof()?, Step::End);
                        return Ok((data, trailers, buf));
                    }
                    None => return Err(H1Error::Truncated),
                },
            }
        }
    }

    #[test]
    fn content_length_stops_at_the_length() {
        for split in [1, 3, 100] {
            let (data, _, rest) =
                decode(Framing::Length(5), b"helloHTTP/1.1", split, false).unwrap();
            assert_eq!(data, b"hello");
            assert!(rest.is_empty() || b"HTTP/1.1".starts_with(&rest));
        }
        assert!(Decoder::new(Framing::Length(0)).is_done());
        assert!(Decoder::new(Framing::Empty).is_done());
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let raw = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\nX-B: c\r\n\r\n";
        for split in [1, 2, 7, 1000] {
            let (data, trailers, rest) = decode(Framing::Chunked, raw, split, false).unwrap();
            assert_eq!(data, b"hello world", "split {split}");
            let t = trailers.unwrap();
            assert_eq!(
                (t["x-sum"].as_bytes(), t["x-b"].as_bytes()),
                (&b"42"[..], &b"c"[..])
            );
            assert!(rest.is_empty());
        }
        let (data, trailers, _) =
            decode(Framing::Chunked, b"A\r\n0123456789\r\n0\r\n\r\n", 4, false).unwrap();
        assert_eq!((data.as_slice(), trailers), (&b"0123456789"[..], None));
    }

    #[test]
    fn bad_chunks_are_errors() {
        for raw in [
            &b"zz\r\nhello\r\n"[..],
            b"5\r\nhelloXX0\r\n\r\n",
            b"\r\n",
            b"11111111111111111\r\n",
        ] {
            assert!(
                matches!(
                    decode(Framing::Chunked, raw, 100, false),
                    Err(H1Error::BadBody(_))
                ),
                "{raw:?}"
            );
        }
        let long = vec![b'1'; MAX_CHUNK_LINE + 10];
        assert!(matches!(
            decode(Framing::Chunked, &long, 100, false),
            Err(H1Error::BadBody(_))
        ));
    }

    #[test]
    fn close_delimited_ends_at_eof_and_others_are_truncated() {
        let (data, _, _) = decode(Framing::Close, b"all of it", 4, true).unwrap();
        assert_eq!(data, b"all of it");
        assert!(matches!(
            decode(Framing::Length(10), b"short", 2, true),
            Err(H1Error::Truncated)
        ));
        assert!(matches!(
            decode(Framing::Chunked, b"5\r\nhel", 2, true),
            Err(H1Error::Truncated)
        ));
        let mut d = Decoder::new(Framing::Length(3));
        assert_eq!(d.remaining(), Some(3));
        assert!(matches!(d.eof(), Err(H1Error::Truncated)));
    }
}
