//! Scalars for the fast YAML reader: where a plain scalar ends, quoted scalars on one line, and
//! how a plain scalar resolves to null/bool/int/float/string, by the same rules as serde_yaml 0.9
//! (`de.rs`: `visit_untagged_scalar`, `parse_unsigned_int`, `parse_negative_int`, `parse_f64`).

use std::borrow::Cow;
use std::num::ParseIntError;

use serde_json::Value;

/// "Not in the subset": the caller falls back to serde_yaml.
#[derive(Debug)]
pub(super) struct Bail;

pub(super) type R<T> = Result<T, Bail>;

pub(super) fn skip_spaces(s: &str) -> &str {
    let n = s.bytes().take_while(|&b| b == b' ').count();
    &s[n..]
}

/// What follows a complete value on its line: nothing, or a comment after a space.
pub(super) fn check_trailing(after: &str) -> R<()> {
    let t = skip_spaces(after);
    if t.is_empty() || (t.starts_with('#') && t.len() < after.len()) {
        Ok(())
    } else {
        Err(Bail)
    }
}

/// A plain scalar in block context (its first byte already checked): up to a comment or the end
/// of the line, trailing spaces trimmed. `: ` inside means a map where none may be: bail.
pub(super) fn plain_block(s: &str) -> R<&str> {
    let b = s.as_bytes();
    let mut end = b.len();
    for (i, &c) in b.iter().enumerate() {
        match c {
            b':' if matches!(b.get(i + 1), None | Some(b' ')) => return Err(Bail),
            b'#' if i > 0 && b[i - 1] == b' ' => {
                end = i;
                break;
            }
            b'\t' => return Err(Bail),
            _ => {}
        }
    }
    Ok(s[..end].trim_end_matches(' '))
}

/// A single- or double-quoted scalar that starts `s` and closes on the same line: its value and
/// the byte index after the closing quote.
pub(super) fn quoted(s: &str) -> R<(Cow<'_, str>, usize)> {
    match s.as_bytes().first() {
        Some(b'\'') => single(s),
        Some(b'"') => double(s),
        _ => Err(Bail),
    }
}

fn single(s: &str) -> R<(Cow<'_, str>, usize)> {
    let mut out: Option<String> = None;
    let mut start = 1;
    loop {
        let at = start + s[start..].find('\'').ok_or(Bail)?;
        if s.as_bytes().get(at + 1) == Some(&b'\'') {
            out.get_or_insert_with(String::new).push_str(&s[start..=at]);
            start = at + 2;
            continue;
        }
        return Ok((finish(s, out, start, at), at + 1));
    }
}

/// The value of a quoted scalar whose closing quote is at `at`: the text between the quotes
/// when nothing was unescaped (`out` is `None`), else `out` with the rest from `start`.
fn finish(s: &str, out: Option<String>, start: usize, at: usize) -> Cow<'_, str> {
    match out {
        None => Cow::Borrowed(&s[1..at]),
        Some(mut o) => {
            o.push_str(&s[start..at]);
            Cow::Owned(o)
        }
    }
}

fn double(s: &str) -> R<(Cow<'_, str>, usize)> {
    let b = s.as_bytes();
    let mut out: Option<String> = None;
    let mut start = 1;
    loop {
        let at = start + memchr::memchr2(b'"', b'\\', &b[start..]).ok_or(Bail)?;
        if b[at] == b'"' {
            return Ok((finish(s, out, start, at), at + 1));
        }
        let o = out.get_or_insert_with(String::new);
        o.push_str(&s[start..at]);
        let (c, len) = escape(&b[at + 1..])?;
        o.push(c);
        start = at + 1 + len;
    }
}

/// libyaml's escapes after a backslash: the character and how many bytes the escape used.
fn escape(b: &[u8]) -> R<(char, usize)> {
    let c = match b.first().ok_or(Bail)? {
        b'0' => '\0',
        b'a' => '\x07',
        b'b' => '\x08',
        b't' | b'\t' => '\t',
        b'n' => '\n',
        b'v' => '\x0B',
        b'f' => '\x0C',
        b'r' => '\r',
        b'e' => '\x1B',
        b' ' => ' ',
        b'"' => '"',
        b'/' => '/',
        b'\\' => '\\',
        b'N' => '\u{85}',
        b'_' => '\u{A0}',
        b'L' => '\u{2028}',
        b'P' => '\u{2029}',
        b'x' => return hex(b, 2),
        b'u' => return hex(b, 4),
        b'U' => return hex(b, 8),
        _ => return Err(Bail),
    };
    Ok((c, 1))
}

fn hex(b: &[u8], digits: usize) -> R<(char, usize)> {
    let hex = b.get(1..=digits).ok_or(Bail)?;
    let mut code: u32 = 0;
    for &h in hex {
        let d = char::from(h).to_digit(16).ok_or(Bail)?;
        code = (code << 4) | d;
    }
    // Surrogates and values past U+10FFFF are errors in libyaml: `from_u32` refuses them too.
    Ok((char::from_u32(code).ok_or(Bail)?, 1 + digits))
}

/// A plain scalar's value, as serde_yaml resolves it into a `serde_json::Value`. Integers that
/// need 128 bits and infinities/NaN (which serde_json turns into errors or nulls) bail.
pub(super) fn resolve_plain(v: &str) -> R<Value> {
    let first = v.as_bytes().first().copied().unwrap_or(b' ');
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        // Neither an integer nor a finite float can start with anything else.
        return Ok(match v {
            "" | "~" | "null" | "Null" | "NULL" => Value::Null,
            "true" | "True" | "TRUE" => Value::Bool(true),
            "false" | "False" | "FALSE" => Value::Bool(false),
            _ => Value::String(v.to_owned()),
        });
    }
    if let Some(i) = parse_unsigned_int(v, u64::from_str_radix) {
        return Ok(Value::from(i));
    }
    if let Some(i) = parse_negative_int(v, i64::from_str_radix) {
        return Ok(Value::from(i));
    }
    if parse_unsigned_int(v, u128::from_str_radix).is_some()
        || parse_negative_int(v, i128::from_str_radix).is_some()
    {
        return Err(Bail);
    }
    if !digits_but_not_number(v) {
        if let Some(f) = parse_f64(v) {
            return if f.is_finite() {
                Ok(Value::from(f))
            } else {
                Err(Bail)
            };
        }
    }
    Ok(Value::String(v.to_owned()))
}

fn parse_unsigned_int<T>(
    scalar: &str,
    from_str_radix: fn(&str, u32) -> Result<T, ParseIntError>,
) -> Option<T> {
    let unpositive = scalar.strip_prefix('+').unwrap_or(scalar);
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = unpositive.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return None;
            }
            if let Ok(int) = from_str_radix(rest, radix) {
                return Some(int);
            }
        }
    }
    if unpositive.starts_with(['+', '-']) || digits_but_not_number(scalar) {
        return None;
    }
    from_str_radix(unpositive, 10).ok()
}

fn parse_negative_int<T>(
    scalar: &str,
    from_str_radix: fn(&str, u32) -> Result<T, ParseIntError>,
) -> Option<T> {
    for (prefix, radix) in [("-0x", 16), ("-0o", 8), ("-0b", 2)] {
        if let Some(rest) = scalar.strip_prefix(prefix) {
            if let Ok(int) = from_str_radix(&format!("-{rest}"), radix) {
                return Some(int);
            }
        }
    }
    if digits_but_not_number(scalar) {
        return None;
    }
    from_str_radix(scalar, 10).ok()
}

fn parse_f64(scalar: &str) -> Option<f64> {
    let unpositive = if let Some(unpositive) = scalar.strip_prefix('+') {
        if unpositive.starts_with(['+', '-']) {
            return None;
        }
        unpositive
    } else {
        scalar
    };
    if let ".inf" | ".Inf" | ".INF" = unpositive {
        return Some(f64::INFINITY);
    }
    if let "-.inf" | "-.Inf" | "-.INF" = scalar {
        return Some(f64::NEG_INFINITY);
    }
    if let ".nan" | ".NaN" | ".NAN" = scalar {
        return Some(f64::NAN);
    }
    match unpositive.parse::<f64>() {
        Ok(f) if f.is_finite() => Some(f),
        _ => None,
    }
}

/// Leading zero(s) followed by digits is a string (YAML 1.2), as serde_yaml decides.
fn digits_but_not_number(scalar: &str) -> bool {
    let scalar = scalar.strip_prefix(['-', '+']).unwrap_or(scalar);
    scalar.len() > 1 && scalar.starts_with('0') && scalar[1..].bytes().all(|b| b.is_ascii_digit())
}
