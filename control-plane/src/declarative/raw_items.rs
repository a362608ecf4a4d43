//! `POST /config` bodies in JSON, read for reuse (see `reuse`): the top level and each
//! collection are split into the raw text of their items, so an item unchanged since the last
//! check is found by its bytes and never parsed; only the others become trees.

use foldhash::{HashMap, HashMapExt};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::kinds::{Kind, TOP_LEVEL};
use super::reuse::Reuse;

/// A document with its items apart (JSON here, YAML in `yaml_items`): the top-level map, where
/// an item the last check already holds is a `null` placeholder, and every item's text by
/// collection and index.
pub struct Split<'t> {
    pub doc: Value,
    pub raw: HashMap<(Kind, usize), &'t str>,
    /// Reads one item's text, when it is needed after all.
    pub read: fn(&str) -> Option<Map<String, Value>>,
}

/// One JSON item's text, read: its map.
pub fn read_item(text: &str) -> Option<Map<String, Value>> {
    serde_json::from_str(text).ok()
}

/// Splits `text`, a JSON object, leaving unparsed the items `prev` holds under the context
/// `context(doc)` gives. None when the text is not a JSON object of the usual shape (then it
/// is read whole, which also explains what is wrong with it).
pub fn split<'t>(
    text: &'t str,
    prev: Option<&Reuse>,
    context: impl Fn(&Value) -> Vec<u8>,
) -> Option<Split<'t>> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let top = serde_json::from_str::<KeyedRaw<'t>>(text).ok()?.0;
    let mut doc = Map::new();
    let mut collections = Vec::new();
    for (key, raw) in top {
        match TOP_LEVEL.iter().find(|k| k.info().collection == key) {
            Some(kind) if raw.get().starts_with('[') => collections.push((*kind, key, raw)),
            _ => {
                doc.insert(key, serde_json::from_str(raw.get()).ok()?);
            }
        }
    }
    // Kong's `{"config": "<document>"}` form is read whole.
    if doc.contains_key("config") && !doc.contains_key("_format_version") {
        return None;
    }
    let tree = Value::Object(doc);
    let prev = prev.filter(|p| p.context_is(&context(&tree)));
    let Value::Object(mut doc) = tree else {
        return None;
    };
    let mut raw_items = HashMap::new();
    for (kind, key, raw) in collections {
        let items: Vec<&'t RawValue> = serde_json::from_str(raw.get()).ok()?;
        let mut values = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let text = item.get();
            raw_items.insert((kind, i), text);
            if prev.is_some_and(|p| p.find(kind, text.as_bytes()).is_some()) {
                values.push(Value::Null);
            } else {
                values.push(serde_json::from_str(text).ok()?);
            }
        }
        doc.insert(key, Value::Array(values));
    }
    Some(Split {
        doc: Value::Object(doc),
        raw: raw_items,
        read: read_item,
    })
}

/// A JSON object's members in order, each value unparsed. A repeated key keeps its last value,
/// as a parsed tree does.
struct KeyedRaw<'t>(Vec<(String, &'t RawValue)>);

impl<'de: 't, 't> serde::Deserialize<'de> for KeyedRaw<'t> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = Vec<(String, &'de RawValue)>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(String, &'de RawValue)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                    match out.iter_mut().find(|(key, _)| *key == k) {
                        Some(slot) => slot.1 = v,
                        None => out.push((k, v)),
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Members).map(KeyedRaw)
    }
}
