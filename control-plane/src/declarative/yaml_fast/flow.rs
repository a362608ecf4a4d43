//! Flow collections on one line for the fast YAML reader: `[a, "b", 1]`, `{name: x}`, `[]`,
//! `{}` and nestings of them. Anything that needs more (a collection spanning lines, `[a: b]`,
//! `{a}`, a trailing comma) bails to serde_yaml.

use serde_json::{Map, Value};

use super::scalar::{quoted, resolve_plain, Bail, R};

/// Deeper flow nesting than this bails.
const MAX_FLOW_DEPTH: usize = 16;

/// Parses the flow collection that starts `s`; returns it and the byte index after it.
pub(super) fn parse(s: &str) -> R<(Value, usize)> {
    let mut f = Flow { s, i: 0, depth: 0 };
    let v = f.value()?;
    Ok((v, f.i))
}

struct Flow<'a> {
    s: &'a str,
    i: usize,
    depth: usize,
}

impl<'a> Flow<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    fn value(&mut self) -> R<Value> {
        self.skip_spaces();
        match self.peek().ok_or(Bail)? {
            b'[' => self.nested(Self::seq),
            b'{' => self.nested(Self::map),
            b'"' | b'\'' => {
                let (v, end) = quoted(&self.s[self.i..])?;
                self.i += end;
                Ok(Value::String(v.into_owned()))
            }
            _ => resolve_plain(self.plain()?),
        }
    }

    fn nested(&mut self, f: fn(&mut Self) -> R<Value>) -> R<Value> {
        self.depth += 1;
        if self.depth > MAX_FLOW_DEPTH {
            return Err(Bail);
        }
        self.i += 1;
        let v = f(self)?;
        self.depth -= 1;
        Ok(v)
    }

    /// After `[`: entries up to `]`.
    fn seq(&mut self) -> R<Value> {
        let mut items = Vec::new();
        self.skip_spaces();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value()?);
            if self.entry_end(b']')? {
                return Ok(Value::Array(items));
            }
        }
    }

    /// After an entry of a collection closed by `close`: `,` and another entry (false), or
    /// `close` (true); a trailing comma is left to serde_yaml.
    fn entry_end(&mut self, close: u8) -> R<bool> {
        self.skip_spaces();
        match self.peek().ok_or(Bail)? {
            b',' => {
                self.i += 1;
                self.skip_spaces();
                if self.peek() == Some(close) {
                    return Err(Bail);
                }
                Ok(false)
            }
            c if c == close => {
                self.i += 1;
                Ok(true)
            }
            _ => Err(Bail),
        }
    }

    /// After `{`: `key: value` entries up to `}`.
    fn map(&mut self) -> R<Value> {
        let mut map = Map::new();
        self.skip_spaces();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_spaces();
            let key = match self.peek().ok_or(Bail)? {
                b'"' | b'\'' => {
                    let (k, end) = quoted(&self.s[self.i..])?;
                    self.i += end;
                    k.into_owned()
                }
                _ => self.plain()?.to_owned(),
            };
            self.skip_spaces();
            let b = self.s.as_bytes();
            if self.peek() != Some(b':') || b.get(self.i + 1) != Some(&b' ') {
                return Err(Bail);
            }
            self.i += 1;
            self.skip_spaces();
            if matches!(self.peek(), None | Some(b',' | b'}' | b'#')) {
                return Err(Bail);
            }
            let value = self.value()?;
            if map.insert(key, value).is_some() {
                return Err(Bail);
            }
            if self.entry_end(b'}')? {
                return Ok(Value::Object(map));
            }
        }
    }

    /// A plain scalar in flow context: up to `,`, a bracket or brace, `: ` or ` #`.
    fn plain(&mut self) -> R<&'a str> {
        let b = self.s.as_bytes();
        let start = self.i;
        let first = *b.get(start).ok_or(Bail)?;
        let next = b.get(start + 1).copied();
        let indicator = |c: Option<u8>| {
            matches!(
                c,
                None | Some(b' ' | b'\t' | b',' | b'[' | b']' | b'{' | b'}')
            )
        };
        if !super::plain_start(first) || (first == b'-' && indicator(next)) {
            return Err(Bail);
        }
        let mut end = b.len();
        for (i, &c) in b.iter().enumerate().skip(start) {
            match c {
                b',' | b'[' | b']' | b'{' | b'}' => {
                    end = i;
                    break;
                }
                b':' => match b.get(i + 1) {
                    None | Some(b' ') => {
                        end = i;
                        break;
                    }
                    Some(b',' | b'?' | b'[' | b']' | b'{' | b'}' | b'\t') => return Err(Bail),
                    Some(_) => {}
                },
                b'#' if i > 0 && b[i - 1] == b' ' => {
                    end = i;
                    break;
                }
                b'\t' => return Err(Bail),
                _ => {}
            }
        }
        self.i = end;
        let v = self.s[start..end].trim_end_matches(' ');
        if v.is_empty() {
            return Err(Bail);
        }
        Ok(v)
    }
}
