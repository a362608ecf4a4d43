//! A strict JSON scanner over a reply body (no tree, no allocation), for the fast read in
//! `reply`: it walks the document as `serde_json` would parse it and answers `None` for
//! anything it cannot vouch for exactly (invalid JSON, and the rare shapes where it would have
//! to decode: escaped keys, surrogate escapes, exponents, nesting deeper than `MAX_DEPTH`), so
//! its caller can fall back to the `Value` reading.

/// Deeper nesting is left to `serde_json` (whose own limit is 128).
const MAX_DEPTH: usize = 100;
/// Longer number tokens are left to `serde_json` (they may overflow an `f64`).
const MAX_NUMBER: usize = 300;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Flags (bit 7 of a byte) the bytes of `w` (little-endian) that are a quote, a backslash, a
/// control character or, when `high` is `HIGH`, non-ASCII: the bytes a string scan must look
/// at one by one. Zero iff there is none; the lowest flag is always a true one (a borrow only
/// runs upward from a true one), so it gives the position of the first.
fn special(w: u64, high: u64) -> u64 {
    // Flags bytes of `v` below `n` (n <= 0x80).
    let below = |v: u64, n: u64| v.wrapping_sub(ONES * n) & !v & HIGH;
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    below(quote, 1) | below(backslash, 1) | below(w, 0x20) | (w & high)
}

/// A string token: its raw bytes between the quotes, and whether it holds escapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Str<'a> {
    pub raw: &'a [u8],
    pub escaped: bool,
}

pub struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    depth: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner over `b` (any bytes: what is not UTF-8 is not JSON).
    pub fn new(b: &'a [u8]) -> Self {
        Scanner { b, i: 0, depth: 0 }
    }

    pub fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// Consumes `c` if it is next (after whitespace).
    pub fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    pub fn expect(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }

    /// The next byte (after whitespace), not consumed.
    pub fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    /// Whether only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.ws();
        self.i == self.b.len()
    }

    /// A string (the opening quote next, after whitespace). Plain runs go eight bytes at a
    /// time; a string with non-ASCII bytes is checked to be UTF-8 (outside strings, such bytes
    /// are a syntax error anyway).
    pub fn string(&mut self) -> Option<Str<'a>> {
        self.expect(b'"')?;
        let b = self.b;
        let start = self.i;
        let mut i = start;
        let mut escaped = false;
        let mut high = HIGH;
        loop {
            while let Some(word) = b.get(i..i + 8) {
                let Ok(word) = <[u8; 8]>::try_from(word) else {
                    break;
                };
                let m = special(u64::from_le_bytes(word), high);
                if m != 0 {
                    // The lowest flag marks the first special byte exactly.
                    i += (m.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            let c = *b.get(i)?;
            i += 1;
            match c {
                b'"' => {
                    self.i = i;
                    let raw = &b[start..i - 1];
                    if high == 0 {
                        std::str::from_utf8(raw).ok()?;
                    }
                    return Some(Str { raw, escaped });
                }
                b'\\' => {
                    escaped = true;
                    self.i = i;
                    self.escape()?;
                    i = self.i;
                }
                0..=0x1f => return None,
                0x80.. => high = 0,
                _ => {}
            }
        }
    }

    /// The rest of an escape after its backslash.
    fn escape(&mut self) -> Option<()> {
        let c = *self.b.get(self.i)?;
        self.i += 1;
        match c {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(()),
            b'u' => {
                let hex = self.b.get(self.i..self.i + 4)?;
                let mut n: u32 = 0;
                for h in hex {
                    n = n * 16 + char::from(*h).to_digit(16)?;
                }
                self.i += 4;
                // Surrogates (paired or not) are left to serde_json.
                (!(0xD800..=0xDFFF).contains(&n)).then_some(())
            }
            _ => None,
        }
    }

    /// A number: `Some(Some(n))` for a plain non-negative integer that fits a `u64`,
    /// `Some(None)` for any other valid number without an exponent.
    pub fn number(&mut self) -> Option<Option<u64>> {
        self.ws();
        let start = self.i;
        let negative = self.b.get(self.i) == Some(&b'-');
        if negative {
            self.i += 1;
        }
        match self.b.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let int_end = self.i;
        let mut fraction = false;
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !self.b.get(self.i)?.is_ascii_digit() {
                return None;
            }
            self.digits();
            fraction = true;
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E' | b'0'..=b'9')) {
            // An exponent, or a leading zero followed by digits.
            return None;
        }
        if self.i - start > MAX_NUMBER {
            return None;
        }
        if negative || fraction {
            return Some(None);
        }
        let mut n: u64 = 0;
        for d in &self.b[start..int_end] {
            match n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
            {
                Some(v) => n = v,
                None => return Some(None),
            }
        }
        Some(Some(n))
    }

    fn digits(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
    }

    /// `true`, `false` or `null`.
    fn literal(&mut self) -> Option<()> {
        for word in [&b"true"[..], b"false", b"null"] {
            if self.b[self.i..].starts_with(word) {
                self.i += word.len();
                return Some(());
            }
        }
        None
    }

    /// `null` next: consumed.
    pub fn null(&mut self) -> bool {
        self.ws();
        if self.b[self.i..].starts_with(b"null") {
            self.i += 4;
            true
        } else {
            false
        }
    }

    /// Skips one value of any kind, checking its syntax.
    pub fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' => self.object(|s, _| s.skip()),
            b'[' => self.array(|s| s.skip()),
            b'-' | b'0'..=b'9' => self.number().map(|_| ()),
            _ => self.literal(),
        }
    }

    /// An object; `member` reads each value (the scanner right before it) given its key.
    pub fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, Str<'a>) -> Option<()>,
    ) -> Option<()> {
        self.expect(b'{')?;
        self.enter()?;
        if !self.eat(b'}') {
            loop {
                let key = self.string()?;
                self.expect(b':')?;
                member(self, key)?;
                if self.eat(b'}') {
                    break;
                }
                self.expect(b',')?;
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// An array; `element` reads each element.
    pub fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.expect(b'[')?;
        self.enter()?;
        if !self.eat(b']') {
            loop {
                element(self)?;
                if self.eat(b']') {
                    break;
                }
                self.expect(b',')?;
            }
        }
        self.depth -= 1;
        Some(())
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::{special, HIGH};

    /// The lowest flag of `special` is the first special byte, whatever follows it.
    #[test]
    fn first_special_byte_position() {
        let plain = *b"abcdefgh";
        assert_eq!(special(u64::from_le_bytes(plain), HIGH), 0);
        for pos in 0..8 {
            for sp in [b'"', b'\\', 0x00, 0x1f, 0x80, 0xff] {
                for after in [b'a', b'"', 0x00, 0x01, 0xff] {
                    let mut w = plain;
                    w[pos] = sp;
                    for b in w.iter_mut().skip(pos + 1) {
                        *b = after;
                    }
                    let m = special(u64::from_le_bytes(w), HIGH);
                    assert_eq!(m.trailing_zeros() / 8, pos as u32, "{w:?}");
                }
            }
        }
        // Non-ASCII bytes are not special once `high` is off.
        assert_eq!(special(u64::from_le_bytes(*b"\xc3\xa9abcdef"), 0), 0);
    }
}
