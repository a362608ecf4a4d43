//! `POST /config` bodies in YAML (what `control-plane apply` sends for one file), read for reuse
//! as `raw_items` reads JSON: each top-level collection written as a block sequence is cut into
//! the exact text of its items, so an item unchanged since the last check is found by its bytes
//! and never parsed. An item's lines are all deeper than its dash (or blank, or comments), so
//! read alone it is what it is in the document; anything less plain is read whole.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use serde_json::{Map, Value};

use super::kinds::{Kind, TOP_LEVEL};
use super::raw_items::Split;
use super::reuse::Reuse;
use super::yaml_fast;

/// One top-level collection written as a block sequence: its key and its items' texts.
struct Collection<'t> {
    kind: Kind,
    key: &'t str,
    items: Vec<&'t str>,
}

/// Splits `text` (YAML, not JSON), leaving unparsed the items `prev` holds under the context
/// `context(doc)` gives. None when the document is not of the plain shape this reads (then it is
/// read whole, which also explains what is wrong with it).
pub fn split<'t>(
    text: &'t str,
    prev: Option<&Reuse>,
    context: impl Fn(&Value) -> Vec<u8>,
) -> Option<Split<'t>> {
    let (rest, collections) = cut(text)?;
    let has_content = rest
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    if collections.is_empty() {
        // Nothing to split: the document is read whole (an empty one is null, not a map).
        return None;
    }
    let parsed = match has_content {
        true => yaml_fast::parse(&rest)?,
        false => Value::Object(Map::new()),
    };
    let Value::Object(mut doc) = parsed else {
        return None;
    };
    if collections.iter().any(|c| doc.contains_key(c.key)) {
        return None;
    }
    let tree = Value::Object(doc);
    let prev = prev.filter(|p| p.context_is(&context(&tree)));
    let Value::Object(d) = tree else {
        return None;
    };
    doc = d;
    let mut raw = HashMap::new();
    for c in collections {
        let mut values = Vec::with_capacity(c.items.len());
        for (i, item) in c.items.into_iter().enumerate() {
            raw.insert((c.kind, i), item);
            if prev.is_some_and(|p| p.find(c.kind, item.as_bytes()).is_some()) {
                values.push(Value::Null);
            } else {
                values.push(Value::Object(read_item(item)?));
            }
        }
        doc.insert(c.key.to_string(), Value::Array(values));
    }
    Some(Split {
        doc: Value::Object(doc),
        raw,
        read: read_item,
    })
}

/// One item's text (`- name: a` and the lines under it), read alone: its map.
pub fn read_item(text: &str) -> Option<Map<String, Value>> {
    match yaml_fast::parse(text)? {
        Value::Array(mut items) if items.len() == 1 => match items.pop() {
            Some(Value::Object(map)) => Some(map),
            _ => None,
        },
        _ => None,
    }
}

/// The document's lines apart: everything but the split collections (as one text), and the
/// split collections. None when a line does not fit the plain shape.
fn cut(text: &str) -> Option<(String, Vec<Collection<'_>>)> {
    let mut rest = String::new();
    let mut rest_open = false;
    let mut collections: Vec<Collection<'_>> = Vec::new();
    let mut keys = HashSet::new();
    // The collection being cut: its items' indentation, and where its current item started.
    let mut open: Option<(usize, Option<usize>)> = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let start = pos;
        pos += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        if body.starts_with("---") || body.starts_with("...") || body.starts_with('%') {
            return None;
        }
        let content = body.trim_start_matches(' ');
        let indent = body.len() - content.len();
        if content.is_empty() || content.starts_with('#') {
            // Blank or comment: part of whatever it sits in.
            if open.is_none() {
                rest.push_str(line);
            }
            continue;
        }
        if let Some((n, item)) = open.as_mut() {
            let dash = content == "-" || content.starts_with("- ");
            let in_item = item.is_some();
            match (indent.cmp(n), dash) {
                (std::cmp::Ordering::Greater, _) if in_item => continue,
                (std::cmp::Ordering::Equal, true) => {
                    close(text, &mut collections, *item, start);
                    *item = Some(start);
                    continue;
                }
                _ if indent == 0 && !dash => {
                    close(text, &mut collections, *item, start);
                    open = None;
                }
                _ => return None,
            }
        }
        // A line under a top-level entry that is kept whole.
        if indent != 0 {
            if !rest_open {
                return None;
            }
            rest.push_str(line);
            continue;
        }
        // A top-level line: `key:` (a collection as a block sequence when nothing follows) or
        // `key: value`, kept whole.
        rest_open = false;
        let (key, after) = content.split_once(':')?;
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            || !(after.is_empty() || after.starts_with(' '))
            || !keys.insert(key)
        {
            return None;
        }
        let after = after.trim_start_matches(' ');
        let kind = TOP_LEVEL.iter().find(|k| k.info().collection == key);
        match kind {
            Some(kind) if after.is_empty() || after.starts_with('#') => {
                collections.push(Collection {
                    kind: *kind,
                    key,
                    items: Vec::new(),
                });
                open = Some((next_indent(&text[pos..])?, None));
            }
            _ => {
                rest.push_str(line);
                rest_open = true;
            }
        }
    }
    if let Some((_, item)) = open {
        close(text, &mut collections, item, text.len());
    }
    Some((rest, collections))
}

/// Ends the current item (if any) of the last collection at `end`.
fn close<'t>(text: &'t str, collections: &mut [Collection<'t>], item: Option<usize>, end: usize) {
    if let (Some(start), Some(c)) = (item, collections.last_mut()) {
        c.items.push(&text[start..end]);
    }
}

/// The indentation of the first content line of `text`, which must be a sequence entry (an
/// empty collection, `key:` and nothing, is read whole).
fn next_indent(text: &str) -> Option<usize> {
    for line in text.lines() {
        let content = line.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        return (content == "-" || content.starts_with("- ")).then(|| line.len() - content.len());
    }
    None
}
