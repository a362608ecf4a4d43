//! Upstream response heads passed through as bytes. On the plain path, when the client is
//! served by our own HTTP/1.1 loop and no plugin reads or sets response headers, the upstream
//! client (`h1::head`) renders the header lines it keeps straight into one buffer instead of a
//! header map; the proxy appends Kong's headers to it, and the client-facing writer
//! (`h1_server::write`) copies it whole. Upstream names keep their case, as nginx passes them.

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

/// What a raw head leaves out: the framing and hop-by-hop headers (the writer frames the body
/// itself) and the ones the proxy sets on every proxied answer.
const LEFT_OUT: [&str; 12] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "via",
    "x-kong-upstream-latency",
    "x-kong-proxy-latency",
    "x-kong-request-id",
];

/// Header lines, each `name: value` and CRLF, ready to be written.
#[derive(Debug, Clone, Default)]
pub struct RawHead {
    lines: Vec<u8>,
    /// A `Date` line is among them.
    date: bool,
}

impl RawHead {
    /// An empty head with room for `capacity` bytes of lines.
    pub fn with_capacity(capacity: usize) -> Self {
        RawHead {
            lines: Vec::with_capacity(capacity),
            date: false,
        }
    }

    /// Adds an upstream header, unless it is one a raw head leaves out.
    pub fn push_upstream(&mut self, name: &[u8], value: &[u8]) {
        if LEFT_OUT
            .iter()
            .any(|n| n.len() == name.len() && n.as_bytes().eq_ignore_ascii_case(name))
        {
            return;
        }
        self.date |= name.eq_ignore_ascii_case(b"date");
        self.push(name, value);
    }

    /// Adds a line as it is.
    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        super::h1::encode::line(&mut self.lines, name, value);
    }

    /// The lines, each ending in CRLF.
    pub fn as_bytes(&self) -> &[u8] {
        &self.lines
    }

    /// Whether a `Date` line is among them.
    pub fn has_date(&self) -> bool {
        self.date
    }

    /// The same headers as a map (for a response that must go on as one after all).
    pub fn to_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in self.lines.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = line.iter().position(|b| *b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
                map.append(n, v);
            }
        }
        map
    }
}

#[cfg(test)]
mod tests;
