//! request-transformer value templates (Kong renders them with Penlight's `pl.template`):
//! `$(expr)` pieces inside a value, where `expr` reads the client request —
//! `headers.x`, `headers["x-y"]`, `query_params.z`, `uri_captures.name`, `uri_captures[1]` —
//! optionally with Lua's `or` fallbacks (`$(query_params.v or 'default')`). The CP refuses a
//! template this parser does not accept at write time; the DP renders the parsed form.
//!
//! Kong evaluates any sandboxed Lua expression here; this gateway evaluates the subset above
//! and refuses the rest by name, so no config is accepted that would render differently.

use std::fmt;

/// What a template reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The client's request headers (case-insensitive; `_` in a `.name` key reads as `-`).
    Headers,
    /// The client's query arguments.
    QueryParams,
    /// The regex captures of the route path the request matched.
    UriCaptures,
}

/// The key looked up in a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// `.name` or `["name"]`.
    Name(String),
    /// `[n]` (captures by number; `0` is the whole match).
    Index(u32),
}

/// One operand of an `or` chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    Literal(String),
    Lookup(Source, Key),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// The first operand that has a value; none renders as "" (Penlight's `(expr or '')`).
    Expr(Vec<Operand>),
}

/// A parsed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(pub Vec<Piece>);

/// Why a template is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

fn err<T>(msg: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError(msg.into()))
}

/// Whether `value` holds a `$(` at all (values without one are plain text).
pub fn is_templated(value: &str) -> bool {
    value.contains("$(")
}

/// Parses `value`. A `$(` without its closing parenthesis stays text, as in Penlight.
pub fn parse(value: &str) -> Result<Template, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = value;
    while let Some(at) = rest.find("$(") {
        let inner_start = at + 2;
        let Some(close) = balanced_end(&rest[inner_start..]) else {
            break;
        };
        if at > 0 {
            pieces.push(Piece::Text(rest[..at].to_string()));
        }
        let expr = &rest[inner_start..inner_start + close];
        pieces.push(Piece::Expr(parse_expr(expr)?));
        rest = &rest[inner_start + close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Ok(Template(pieces))
}

/// The index of the `)` closing an already opened parenthesis (Lua's `%b()`).
fn balanced_end(s: &str) -> Option<usize> {
    let mut depth = 1usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(u32),
    Dot,
    Open,
    Close,
}

const SUPPORTED: &str = "supported: headers.<name>, headers[\"<name>\"], query_params.<name>, \
                         uri_captures.<name>, uri_captures[<n>], '<text>' and 'or'";

fn tokens(expr: &str) -> Result<Vec<Tok>, TemplateError> {
    let mut out = Vec::new();
    let mut chars = expr.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '.' => out.push(Tok::Dot),
            '[' => out.push(Tok::Open),
            ']' => out.push(Tok::Close),
            '\'' | '"' => {
                let mut s = String::new();
                let mut closed = false;
                while let Some((_, d)) = chars.next() {
                    match d {
                        '\\' => match chars.next() {
                            Some((_, e)) => s.push(e),
                            None => break,
                        },
                        d if d == c => {
                            closed = true;
                            break;
                        }
                        d => s.push(d),
                    }
                }
                if !closed {
                    return err(format!("unfinished string in '{expr}'"));
                }
                out.push(Tok::Str(s));
            }
            c if c.is_ascii_digit() => {
                let mut end = i + 1;
                while let Some((j, d)) = chars.peek().copied() {
                    if !d.is_ascii_digit() {
                        break;
                    }
                    end = j + 1;
                    chars.next();
                }
                match expr[i..end].parse() {
                    Ok(n) => out.push(Tok::Int(n)),
                    Err(_) => return err(format!("number '{}' is too large", &expr[i..end])),
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = i + 1;
                while let Some((j, d)) = chars.peek().copied() {
                    if !(d.is_ascii_alphanumeric() || d == '_') {
                        break;
                    }
                    end = j + 1;
                    chars.next();
                }
                out.push(Tok::Ident(expr[i..end].to_string()));
            }
            c => {
                return err(format!(
                "unexpected '{c}' in '{expr}'; this gateway evaluates only lookups ({SUPPORTED})"
            ))
            }
        }
    }
    Ok(out)
}

fn parse_expr(expr: &str) -> Result<Vec<Operand>, TemplateError> {
    let toks = tokens(expr)?;
    if toks.is_empty() {
        return err("empty expression '$()'");
    }
    let mut ops = Vec::new();
    let mut it = toks.into_iter().peekable();
    loop {
        ops.push(operand(&mut it, expr)?);
        match it.next() {
            None => return Ok(ops),
            Some(Tok::Ident(k)) if k == "or" => {}
            Some(t) => {
                return err(format!(
                    "unexpected {} in '{expr}' ({SUPPORTED})",
                    describe(&t)
                ))
            }
        }
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::Int(n) => format!("number {n}"),
        Tok::Dot => "'.'".into(),
        Tok::Open => "'['".into(),
        Tok::Close => "']'".into(),
    }
}

fn operand(
    it: &mut std::iter::Peekable<std::vec::IntoIter<Tok>>,
    expr: &str,
) -> Result<Operand, TemplateError> {
    let source = match it.next() {
        Some(Tok::Str(s)) => return Ok(Operand::Literal(s)),
        Some(Tok::Int(n)) => return Ok(Operand::Literal(n.to_string())),
        Some(Tok::Ident(id)) => match id.as_str() {
            "headers" => Source::Headers,
            "query_params" => Source::QueryParams,
            "uri_captures" => Source::UriCaptures,
            _ => return err(format!("unknown name '{id}' in '{expr}' ({SUPPORTED})")),
        },
        Some(t) => return err(format!("unexpected {} in '{expr}'", describe(&t))),
        None => return err(format!("missing operand in '{expr}'")),
    };
    let key = match (it.next(), it.peek().cloned()) {
        (Some(Tok::Dot), Some(Tok::Ident(name))) => {
            it.next();
            Key::Name(name)
        }
        (Some(Tok::Open), Some(Tok::Str(name))) => {
            it.next();
            close(it, expr)?;
            Key::Name(name)
        }
        (Some(Tok::Open), Some(Tok::Int(n))) => {
            it.next();
            close(it, expr)?;
            Key::Index(n)
        }
        _ => {
            return err(format!(
            "'{expr}' must read one field of headers, query_params or uri_captures ({SUPPORTED})"
        ))
        }
    };
    if let Some(t) = it.peek() {
        if matches!(t, Tok::Dot | Tok::Open) {
            return err(format!("nested lookups are not supported in '{expr}'"));
        }
    }
    Ok(Operand::Lookup(source, key))
}

fn close(
    it: &mut std::iter::Peekable<std::vec::IntoIter<Tok>>,
    expr: &str,
) -> Result<(), TemplateError> {
    match it.next() {
        Some(Tok::Close) => Ok(()),
        _ => err(format!("missing ']' in '{expr}'")),
    }
}

impl Template {
    /// Renders with `lookup` giving a source's value for a key (`None`: Lua's nil).
    pub fn render(&self, lookup: &mut dyn FnMut(Source, &Key) -> Option<String>) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Expr(ops) => {
                    for op in ops {
                        let v = match op {
                            Operand::Literal(s) => Some(s.clone()),
                            Operand::Lookup(src, key) => lookup(*src, key),
                        };
                        if let Some(v) = v {
                            out.push_str(&v);
                            break;
                        }
                    }
                }
            }
        }
        out
    }

    /// Whether any lookup reads `source`.
    pub fn reads(&self, source: Source) -> bool {
        self.0.iter().any(|p| match p {
            Piece::Expr(ops) => ops
                .iter()
                .any(|o| matches!(o, Operand::Lookup(s, _) if *s == source)),
            Piece::Text(_) => false,
        })
    }
}

#[cfg(test)]
mod tests;
