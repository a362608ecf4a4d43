//! What the proxy knows of a client connection before its first request (`Peer`, made once
//! per connection by the listener and read by every request on it), and Kong's request id.

use std::net::SocketAddr;
use std::time::Duration;

use super::body;

/// Kong's request id: 32 lowercase hex digits, random (thread-local generator, no syscall).
pub(super) fn request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n = rand::random::<u128>();
    let mut id = [0u8; 32];
    for (i, d) in id.iter_mut().enumerate() {
        *d = HEX[((n >> ((31 - i) * 4)) & 0xf) as usize];
    }
    String::from_utf8(id.to_vec()).unwrap_or_default()
}

/// What a client connection knows about its peer, worked out once per connection.
pub struct Peer {
    pub remote: SocketAddr,
    pub local: Option<SocketAddr>,
    pub(super) remote_ip: http::HeaderValue,
    /// The local port as a header value, made once per connection.
    pub(super) local_port: Option<http::HeaderValue>,
    /// nginx's `client_body_timeout`: the longest wait for the next chunk of a request body.
    pub(super) body_read_timeout: Duration,
    /// The connection is TLS (an `ssl` listener).
    pub https: bool,
    /// The server name the client sent in its TLS handshake, lowercase.
    pub sni: Option<Box<str>>,
}

impl Peer {
    pub fn new(remote: SocketAddr, local: Option<SocketAddr>) -> Self {
        let ip = remote.ip().to_string();
        Peer {
            remote,
            local,
            remote_ip: http::HeaderValue::from_str(&ip)
                .unwrap_or(http::HeaderValue::from_static("")),
            local_port: local.map(|l| http::HeaderValue::from(l.port())),
            body_read_timeout: body::BODY_READ_TIMEOUT,
            https: false,
            sni: None,
        }
    }

    /// A TLS connection whose client sent `sni`.
    pub fn with_tls(mut self, sni: Option<&str>) -> Self {
        self.https = true;
        self.sni = sni.map(|s| s.to_ascii_lowercase().into_boxed_str());
        self
    }

    /// This connection's request body read timeout.
    pub fn with_body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_32_lowercase_hex_digits_and_differ() {
        let (a, b) = (super::request_id(), super::request_id());
        for id in [&a, &b] {
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
                "{id}"
            );
        }
        assert_ne!(a, b);
    }
}
