//! Non-streamed OpenAI-format replies on the AI path: the usage and model the log phase
//! records, read in one pass over the body by a strict scanner (`scan`: no `serde_json::Value`
//! tree, no allocation but the model name, the rest of the document only checked). Replies this
//! fast read does not cover exactly (MCP output items, escaped keys, unusual shapes) are left
//! to the `Value` reading of `AiAnalytics::observe_response`.

mod scan;

use scan::{Scanner, Str};

use super::Usage;

/// What `AiAnalytics::observe_response` reads from a reply with no MCP items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// `None` without a usage object.
    pub usage: Option<Usage>,
    pub model: Option<String>,
}

/// The usage fields, as read (`None`: absent or null).
#[derive(Default)]
struct UsageFields {
    prompt_tokens: Option<u64>,
    input_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    output_tokens: Option<u64>,
    total_tokens: Option<u64>,
}

/// Sets `slot` once: a second time (a duplicate key) means the fast read cannot stand for the
/// `Value` reading (where the last one wins).
fn once<T>(slot: &mut Option<T>, v: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(v);
            Some(())
        }
    }
}

/// A key without escapes (an escaped key may spell a field read here).
fn plain(key: Str<'_>) -> Option<&[u8]> {
    (!key.escaped).then_some(key.raw)
}

/// `null` or a string without escapes.
fn model(s: &mut Scanner<'_>) -> Option<Option<String>> {
    if s.null() {
        return Some(None);
    }
    let v = s.string().filter(|v| !v.escaped)?;
    std::str::from_utf8(v.raw).ok().map(|m| Some(m.to_string()))
}

/// `null` or a non-negative integer that fits a `u64`.
fn count(s: &mut Scanner<'_>) -> Option<Option<u64>> {
    if s.null() {
        return Some(None);
    }
    s.number()?.map(Some)
}

fn usage(s: &mut Scanner<'_>) -> Option<Option<UsageFields>> {
    if s.null() {
        return Some(None);
    }
    let mut u = UsageFields::default();
    let mut seen = [false; 5];
    s.object(|s, key| {
        let (i, slot) = match plain(key)? {
            b"prompt_tokens" => (0, &mut u.prompt_tokens),
            b"input_tokens" => (1, &mut u.input_tokens),
            b"completion_tokens" => (2, &mut u.completion_tokens),
            b"output_tokens" => (3, &mut u.output_tokens),
            b"total_tokens" => (4, &mut u.total_tokens),
            _ => return s.skip(),
        };
        if std::mem::replace(&mut seen[i], true) {
            return None;
        }
        *slot = count(s)?;
        Some(())
    })?;
    Some(Some(u))
}

/// `output`: `null` or an array of objects, none of them an MCP item.
fn output(s: &mut Scanner<'_>) -> Option<()> {
    if s.null() {
        return Some(());
    }
    s.array(|s| {
        let mut kind: Option<Str<'_>> = None;
        s.object(|s, key| match plain(key)? {
            b"type" => {
                if s.null() {
                    return Some(());
                }
                once(&mut kind, s.string()?)
            }
            _ => s.skip(),
        })?;
        match kind {
            Some(k) if k.escaped => None,
            Some(k) if matches!(k.raw, b"mcp_list_tools" | b"mcp_call") => None,
            _ => Some(()),
        }
    })
}

/// The usage and model of `body`, or `None` when the body is not JSON or the fast read cannot
/// stand for the `Value` reading (a field of another type than the one read, a duplicate key,
/// an MCP output item, an escape it would have to decode): the caller then parses a `Value`.
pub fn observe(body: &[u8]) -> Option<Observed> {
    let mut s = Scanner::new(body);
    let mut model_field: Option<Option<String>> = None;
    let mut usage_field: Option<Option<UsageFields>> = None;
    let mut output_seen: Option<()> = None;
    s.object(|s, key| match plain(key)? {
        b"model" => once(&mut model_field, model(s)?),
        b"usage" => once(&mut usage_field, usage(s)?),
        b"output" => {
            output(s)?;
            once(&mut output_seen, ())
        }
        _ => s.skip(),
    })?;
    if !s.at_end() {
        return None;
    }
    let usage = usage_field.flatten().map(|u| {
        Usage {
            prompt_tokens: u.prompt_tokens.or(u.input_tokens).unwrap_or(0),
            completion_tokens: u.completion_tokens.or(u.output_tokens).unwrap_or(0),
            total_tokens: u.total_tokens.unwrap_or(0),
        }
        .normalized()
    });
    Some(Observed {
        usage,
        model: model_field.flatten(),
    })
}

#[cfg(test)]
mod tests;
