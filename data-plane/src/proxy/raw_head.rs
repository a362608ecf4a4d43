//! Upstream response heads passed through as bytes. On the plain path, when the client is
//! served by our own HTTP/1.1 loop and no plugin reads or sets response headers, the upstream
//! client (`h1::head`) renders the header lines it keeps straight into one buffer instead of a
//! header map; the proxy appends Kong's headers to it, and the client-facing writer
//! (`h1_server::write`) copies it whole. Upstream names keep their case, as nginx passes them.
//! The AI flow reads and edits such a head through `get`/`remove`/`set`, which work on the
//! bytes or on the map, whichever the response carries.

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

/// How many line ends a head keeps; one with more lines is searched line by line.
const INDEXED: usize = 32;

/// Header lines, each `name: value` and CRLF, ready to be written.
#[derive(Debug, Clone, Default)]
pub struct RawHead {
    lines: Vec<u8>,
    /// Where each of the first `INDEXED` lines ends (so that finding a header compares names
    /// only, without searching each line for its end).
    ends: [u32; INDEXED],
    /// How many lines there are.
    count: usize,
    /// A `Date` line is among them.
    date: bool,
}

impl RawHead {
    /// An empty head with room for `capacity` bytes of lines.
    pub fn with_capacity(capacity: usize) -> Self {
        RawHead {
            lines: Vec::with_capacity(capacity),
            ..RawHead::default()
        }
    }

    /// Adds an upstream header, unless a raw head leaves it out: `Content-Length` (the writer
    /// frames the body itself) and what a proxied answer never passes on (hop-by-hop headers,
    /// the ones the proxy sets itself).
    pub fn push_upstream(&mut self, name: &[u8], value: &[u8]) {
        if name.eq_ignore_ascii_case(b"content-length") || super::reply::not_passed_on(name) {
            return;
        }
        self.date |= name.eq_ignore_ascii_case(b"date");
        self.push(name, value);
    }

    /// Adds a line as it is.
    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        super::h1::encode::line(&mut self.lines, name, value);
        self.note_end();
    }

    /// Notes where the last line ends.
    fn note_end(&mut self) {
        match (
            self.ends.get_mut(self.count),
            u32::try_from(self.lines.len()),
        ) {
            (Some(end), Ok(at)) => *end = at,
            // Past the index (or 4 GiB of lines): the search goes line by line.
            _ => self.count = self.count.max(INDEXED),
        }
        self.count += 1;
    }

    /// Notes the line ends anew (after lines were taken out).
    fn index(&mut self) {
        let lines = std::mem::take(&mut self.lines);
        self.count = 0;
        let mut at = 0;
        while let Some(i) = lines.get(at..).and_then(|r| memchr::memchr(b'\n', r)) {
            at += i + 1;
            match (self.ends.get_mut(self.count), u32::try_from(at)) {
                (Some(end), Ok(v)) => *end = v,
                _ => self.count = self.count.max(INDEXED),
            }
            self.count += 1;
        }
        self.lines = lines;
    }

    /// The lines of header `name` (any case): where each lies, and its value without the
    /// surrounding whitespace. Only a line's start is compared; its end is in the index (or found
    /// with `memchr` past it).
    fn matching<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = (std::ops::Range<usize>, &'a [u8])> + use<'a, 'n> {
        let (lines, name) = (&self.lines, name.as_bytes());
        let ends = self.ends.get(..self.count);
        let (mut at, mut k) = (0, 0);
        std::iter::from_fn(move || loop {
            let len = match ends {
                Some(ends) => (*ends.get(k)? as usize).checked_sub(at)?,
                None => {
                    let rest = lines.get(at..).filter(|r| !r.is_empty())?;
                    memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1)
                }
            };
            k += 1;
            let (start, line) = (at, lines.get(at..at + len)?);
            at += len;
            let named = line.get(name.len()) == Some(&b':')
                && line
                    .get(..name.len())
                    .is_some_and(|n| n.eq_ignore_ascii_case(name));
            if named {
                let value = line.get(name.len() + 1..).unwrap_or_default().trim_ascii();
                return Some((start..start + len, value));
            }
        })
    }

    /// The value of the first header `name` (any case).
    pub fn get<'a>(&'a self, name: &str) -> Option<&'a [u8]> {
        self.matching(name).next().map(|(_, v)| v)
    }

    /// Removes every header `name` (any case).
    pub fn remove(&mut self, name: &str) {
        // Most removals find nothing: an empty `Vec` allocates nothing.
        let gone: Vec<_> = self.matching(name).map(|(r, _)| r).collect();
        if gone.is_empty() {
            return;
        }
        for r in gone.into_iter().rev() {
            self.lines.drain(r);
        }
        self.index();
        if name.eq_ignore_ascii_case("date") {
            self.date = false;
        }
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

/// The value of response header `name`, from the bytes or the map.
pub fn get<'a>(head: &'a http::response::Parts, name: &HeaderName) -> Option<&'a [u8]> {
    match head.extensions.get::<RawHead>() {
        Some(raw) => raw.get(name.as_str()),
        None => head.headers.get(name).map(HeaderValue::as_bytes),
    }
}

/// Removes response header `name`, from the bytes or the map.
pub fn remove(head: &mut http::response::Parts, name: &HeaderName) {
    match head.extensions.get_mut::<RawHead>() {
        Some(raw) => raw.remove(name.as_str()),
        None => {
            head.headers.remove(name);
        }
    }
}

/// Sets response header `name` to `value`, in the bytes or the map (a value that is not a
/// valid header value is not set).
pub fn set(head: &mut http::response::Parts, name: &HeaderName, value: &str) {
    let Ok(v) = HeaderValue::from_str(value) else {
        return;
    };
    match head.extensions.get_mut::<RawHead>() {
        Some(raw) => {
            raw.remove(name.as_str());
            raw.push(name.as_str().as_bytes(), v.as_bytes());
        }
        None => {
            head.headers.insert(name.clone(), v);
        }
    }
}

#[cfg(test)]
mod tests;
