//! Between the JSON fast path and serde_yaml in `document::parse`: a line-by-line reader for the
//! common shape of decK files (block maps and sequences, one-line scalars and flow collections,
//! literal block scalars). It returns the same tree serde_yaml would, or `None` for anything
//! outside that subset, so serde_yaml stays the reference (and the source of error messages).

mod block_scalar;
mod flow;
mod scalar;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use serde_json::{Map, Value};

use scalar::{check_trailing, plain_block, resolve_plain, skip_spaces, Bail, R};

/// Nesting deeper than this is left to serde_yaml (which has its own recursion limit).
const MAX_DEPTH: usize = 64;

/// Longest plain or quoted key read here (libyaml refuses simple keys over 1024 characters).
const MAX_KEY: usize = 512;

/// Parses `text` if every part of it is in the supported subset; `None` means "ask serde_yaml".
/// When it returns `Some(v)`, `v` equals `serde_yaml::from_str::<Value>(text)`.
pub fn parse(text: &str) -> Option<Value> {
    prescan(text).ok()?;
    let mut p = Parser {
        text,
        pos: 0,
        cur: None,
        started: false,
        depth: 0,
    };
    let first = p.peek().ok()??;
    let v = if first.text.starts_with(['[', '{']) {
        // A one-line flow collection as the whole document (`{}`, `[]`).
        p.cur = None;
        let (v, end) = flow::parse(first.text).ok()?;
        check_trailing(&first.text[end..]).ok()?;
        v
    } else {
        p.block(first).ok()?
    };
    match p.peek() {
        Ok(None) => Some(v),
        _ => None,
    }
}

/// Bytes that need a closer look in `prescan`: control characters other than line feed and tab,
/// DEL, and the lead bytes of the few non-ASCII characters libyaml treats specially.
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = i != b'\n' as usize && i != b'\t' as usize;
        i += 1;
    }
    t[0x7F] = true;
    t[0xC2] = true;
    t[0xE2] = true;
    t[0xEF] = true;
    t
};

/// Refuses characters libyaml treats specially anywhere in a stream: control characters, lone
/// carriage returns, the byte-order mark, and Unicode line breaks (NEL, LS, PS).
fn prescan(text: &str) -> R<()> {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(off) = b[from..].iter().position(|&c| SPECIAL[usize::from(c)]) {
        let i = from + off;
        let bad = match b[i] {
            b'\r' => b.get(i + 1) != Some(&b'\n'),
            0xC2 => b.get(i + 1).is_some_and(|n| (0x80..=0x9F).contains(n)),
            0xE2 => b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xA8 | 0xA9)),
            0xEF => matches!(
                (b.get(i + 1), b.get(i + 2)),
                (Some(0xBB), Some(0xBF)) | (Some(0xBF), Some(0xBE | 0xBF))
            ),
            _ => true,
        };
        if bad {
            return Err(Bail);
        }
        from = i + 1;
    }
    Ok(())
}

/// One content line (not blank, not a comment): its indentation and the text after it. A line
/// may also be the tail of a physical line, as in `- key: v` (the map starts at `key`).
#[derive(Clone, Copy)]
struct Line<'a> {
    indent: usize,
    text: &'a str,
}

struct Parser<'a> {
    text: &'a str,
    /// Start of the next physical line not read yet.
    pos: usize,
    /// The current content line, read but not consumed.
    cur: Option<Line<'a>>,
    /// A content line or `---` has been seen (a later `---` is a second document).
    started: bool,
    depth: usize,
}

/// `- ` or a lone `-`: a block sequence entry.
fn is_dash_entry(text: &str) -> bool {
    let b = text.as_bytes();
    b.first() == Some(&b'-') && matches!(b.get(1), None | Some(b' '))
}

/// A plain scalar may start with this byte in block context (`-x` is checked by the caller).
pub(super) fn plain_start(b: u8) -> bool {
    !matches!(
        b,
        b',' | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
            | b'?'
            | b':'
            | b' '
            | b'\t'
    )
}

/// `key: rest` → the key and what follows the colon; `None` when the line is not a map entry.
fn split_key(text: &str) -> R<Option<(Cow<'_, str>, &str)>> {
    let b = text.as_bytes();
    let Some(&first) = b.first() else {
        return Ok(None);
    };
    if first == b'"' || first == b'\'' {
        let (key, end) = scalar::quoted(text)?;
        let after = skip_spaces(&text[end..]);
        let ab = after.as_bytes();
        if ab.first() == Some(&b':') && matches!(ab.get(1), None | Some(b' ')) {
            if end > MAX_KEY {
                return Err(Bail);
            }
            return Ok(Some((key, &after[1..])));
        }
        return Ok(None);
    }
    if !plain_start(first) || (first == b'-' && matches!(b.get(1), None | Some(b' '))) {
        return Ok(None);
    }
    for (i, &c) in b.iter().enumerate() {
        match c {
            b':' if matches!(b.get(i + 1), None | Some(b' ')) => {
                if i > MAX_KEY {
                    return Err(Bail);
                }
                let key = text[..i].trim_end_matches(' ');
                return Ok(Some((Cow::Borrowed(key), &text[i + 1..])));
            }
            b'#' if i > 0 && b[i - 1] == b' ' => return Ok(None),
            b'\t' => return Err(Bail),
            _ => {}
        }
    }
    Ok(None)
}

impl<'a> Parser<'a> {
    /// The next physical line (without its line break) and whether a line break ended it.
    fn raw_line(&mut self) -> Option<(&'a str, bool)> {
        if self.pos >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.pos..];
        let (line, brk) = match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(i) => (&rest[..i], true),
            None => (rest, false),
        };
        self.pos += line.len() + usize::from(brk);
        Some((line.strip_suffix('\r').unwrap_or(line), brk))
    }

    /// The current content line, reading past blank and comment lines; `None` at the end.
    #[inline]
    fn peek(&mut self) -> R<Option<Line<'a>>> {
        match self.cur {
            Some(l) => Ok(Some(l)),
            None => self.next_line(),
        }
    }

    fn next_line(&mut self) -> R<Option<Line<'a>>> {
        loop {
            let Some((raw, _)) = self.raw_line() else {
                return Ok(None);
            };
            let b = raw.as_bytes();
            let mut indent = 0;
            while indent < b.len() && b[indent] == b' ' {
                indent += 1;
            }
            match b.get(indent) {
                None | Some(b'#') => continue,
                Some(b'\t') => return Err(Bail),
                Some(_) => {}
            }
            let text = &raw[indent..];
            if indent == 0 && (text.starts_with("---") || text.starts_with("...")) {
                let after = &text[3..];
                if after.is_empty() || after.starts_with(' ') {
                    if !self.started && text.starts_with("---") && check_trailing(after).is_ok() {
                        self.started = true;
                        continue;
                    }
                    return Err(Bail);
                }
            }
            self.started = true;
            let line = Line { indent, text };
            self.cur = Some(line);
            return Ok(Some(line));
        }
    }

    /// A block collection starting at `line` (a sequence or a map at its indentation).
    fn block(&mut self, line: Line<'a>) -> R<Value> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Bail);
        }
        let v = if is_dash_entry(line.text) {
            self.seq(line.indent)?
        } else {
            let first = split_key(line.text)?.ok_or(Bail)?;
            self.map(line.indent, first)?
        };
        self.depth -= 1;
        Ok(v)
    }

    /// A block map whose keys sit at column `n`; the current line is its first entry, already
    /// split into `first`.
    fn map(&mut self, n: usize, first: (Cow<'a, str>, &'a str)) -> R<Value> {
        let mut map = Map::new();
        let mut entry = Some(first);
        loop {
            let (key, rest) = match entry.take() {
                Some(e) => e,
                None => match self.peek()? {
                    Some(line) if line.indent == n => split_key(line.text)?.ok_or(Bail)?,
                    Some(line) if line.indent > n => return Err(Bail),
                    _ => break,
                },
            };
            self.cur = None;
            let rest = skip_spaces(rest);
            let value = if rest.is_empty() || rest.starts_with('#') {
                match self.peek()? {
                    Some(l) if l.indent > n => self.block(l)?,
                    Some(l) if l.indent == n && is_dash_entry(l.text) => self.nested_seq(n)?,
                    _ => Value::Null,
                }
            } else {
                self.inline_value(rest, n)?
            };
            if map.insert(key.into_owned(), value).is_some() {
                return Err(Bail);
            }
        }
        Ok(Value::Object(map))
    }

    fn nested_seq(&mut self, n: usize) -> R<Value> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Bail);
        }
        let v = self.seq(n)?;
        self.depth -= 1;
        Ok(v)
    }

    /// A block sequence whose dashes sit at column `n`; the current line is its first entry.
    /// Stops at a line of that indentation that is not an entry (the rest of a parent map).
    fn seq(&mut self, n: usize) -> R<Value> {
        let mut items = Vec::new();
        while let Some(line) = self.peek()? {
            if line.indent > n {
                return Err(Bail);
            }
            if line.indent < n || !is_dash_entry(line.text) {
                break;
            }
            let after = &line.text[1..];
            let rest = skip_spaces(after);
            let inner = Line {
                indent: n + 1 + (after.len() - rest.len()),
                text: rest,
            };
            let item = if rest.is_empty() || rest.starts_with('#') {
                self.cur = None;
                match self.peek()? {
                    Some(l) if l.indent > n => self.block(l)?,
                    _ => Value::Null,
                }
            } else if is_dash_entry(rest) {
                self.cur = Some(inner);
                self.block(inner)?
            } else if let Some(first) = split_key(rest)? {
                self.cur = Some(inner);
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(Bail);
                }
                let v = self.map(inner.indent, first)?;
                self.depth -= 1;
                v
            } else {
                self.cur = None;
                self.inline_value(rest, n)?
            };
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    /// A value that starts on its key's or dash's line: a scalar, a one-line flow collection or a
    /// literal block scalar. `n` is the indentation of the collection holding it.
    fn inline_value(&mut self, rest: &'a str, n: usize) -> R<Value> {
        let b = rest.as_bytes();
        match b.first().copied().ok_or(Bail)? {
            b'|' => self.block_scalar(rest, n),
            b'[' | b'{' => {
                let (v, end) = flow::parse(rest)?;
                check_trailing(&rest[end..])?;
                Ok(v)
            }
            b'"' | b'\'' => {
                let (s, end) = scalar::quoted(rest)?;
                check_trailing(&rest[end..])?;
                Ok(Value::String(s.into_owned()))
            }
            b'-' if matches!(b.get(1), None | Some(b' ')) => Err(Bail),
            c if plain_start(c) => resolve_plain(plain_block(rest)?),
            _ => Err(Bail),
        }
    }
}
