//! Literal block scalars (`|`, `|-`, `|+`) for the fast YAML reader, as libyaml reads them:
//! the first line sets the indentation, lines keep what follows it, and chomping decides the
//! final line breaks. PEM certificates in decK files use them. Folded scalars (`>`), explicit
//! indentation (`|2`) and leading blank lines bail to serde_yaml.

use serde_json::Value;

use super::scalar::{check_trailing, skip_spaces, Bail, R};
use super::Parser;

#[derive(Clone, Copy, PartialEq)]
enum Chomp {
    Strip,
    Clip,
    Keep,
}

impl Parser<'_> {
    /// `header` is the rest of the line from `|`; `n` is the indentation of the collection that
    /// holds the scalar (its lines must be indented further). Reads the following lines.
    pub(super) fn block_scalar(&mut self, header: &str, n: usize) -> R<Value> {
        let h = header.get(1..).ok_or(Bail)?;
        let (chomp, h) = match h.as_bytes().first() {
            Some(b'-') => (Chomp::Strip, &h[1..]),
            Some(b'+') => (Chomp::Keep, &h[1..]),
            _ => (Chomp::Clip, h),
        };
        if !(h.is_empty() || h.starts_with(' ')) {
            return Err(Bail);
        }
        check_trailing(h)?;
        let mut out = String::new();
        let mut indent = 0;
        let mut leading_break = false;
        let mut trailing = 0usize;
        loop {
            let line_start = self.pos;
            let Some((line, brk)) = self.raw_line() else {
                break;
            };
            let text = skip_spaces(line);
            let sp = line.len() - text.len();
            if indent == 0 {
                if text.is_empty() || text.starts_with('\t') || sp <= n {
                    return Err(Bail);
                }
                indent = sp;
            }
            if text.is_empty() {
                if sp > indent {
                    return Err(Bail);
                }
                trailing += usize::from(brk);
                continue;
            }
            if sp < indent {
                if text.starts_with('\t') {
                    return Err(Bail);
                }
                self.pos = line_start;
                break;
            }
            if leading_break {
                out.push('\n');
            }
            for _ in 0..trailing {
                out.push('\n');
            }
            out.push_str(&line[indent..]);
            leading_break = brk;
            trailing = 0;
        }
        if chomp != Chomp::Strip && leading_break {
            out.push('\n');
        }
        if chomp == Chomp::Keep {
            for _ in 0..trailing {
                out.push('\n');
            }
        }
        Ok(Value::String(out))
    }
}
