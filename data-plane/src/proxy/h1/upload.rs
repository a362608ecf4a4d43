//! A streamed request body of the lean HTTP/1.1 client (`h1`), sent while the response is read:
//! a poll-driven writer the exchange drives next to reading the response head and, if the
//! upstream answers before the body is all sent, the response body keeps driving (as hyper's
//! client does), so an upstream that answers early or echoes as it reads never waits on us.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::Body as _;

use super::conn::Conn;
use super::encode::Encoding;
use super::{encode_frame, H1Error};
use crate::proxy::body::ProxyBody;

pub struct Upload {
    body: ProxyBody,
    enc: Encoding,
    /// Encoded bytes not yet written, from `off`.
    out: Vec<u8>,
    off: usize,
    /// The body's end is encoded into `out`.
    ended: bool,
}

impl Upload {
    pub fn new(body: ProxyBody, enc: Encoding) -> Self {
        Upload {
            body,
            enc,
            out: Vec::new(),
            off: 0,
            ended: false,
        }
    }

    /// Sends what the body has to `conn`: `Ready(Ok(()))` once all of it is written.
    pub fn poll_send(
        &mut self,
        conn: &mut Conn,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), H1Error>> {
        loop {
            if self.off < self.out.len() {
                match std::task::ready!(conn.poll_write(cx, &self.out[self.off..])) {
                    Ok(0) => {
                        return Poll::Ready(Err(H1Error::Io("upstream write returned 0".into())))
                    }
                    Ok(n) => self.off += n,
                    Err(e) => return Poll::Ready(Err(H1Error::Io(e.to_string()))),
                }
                continue;
            }
            if self.ended {
                return Poll::Ready(Ok(()));
            }
            self.out.clear();
            self.off = 0;
            let frame = std::task::ready!(Pin::new(&mut self.body).poll_frame(cx));
            self.ended = encode_frame(frame, &mut self.enc, &mut self.out)?;
        }
    }
}
