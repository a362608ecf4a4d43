//! Flattening on the CP with the last check at hand (`super::super::reuse`): top-level items
//! that come back unchanged are not walked, and their entities join the index and the config
//! from the existing config, while everything they referred to still resolves as before.

use foldhash::{HashMap, HashMapExt};
use proto::schema::FieldError;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::super::index::Index;
use super::super::kinds::{Kind, TOP_LEVEL};
use super::super::reuse::Entry;
use super::Walker;

/// An unchanged top-level item: its entries, and its tree in case they no longer hold.
pub(super) struct Hit<'a> {
    pub item: usize,
    pub kind: Kind,
    pub path: String,
    /// The item's tree, or its JSON text when the document came as JSON.
    pub value: Option<Map<String, Value>>,
    pub text: Option<&'a str>,
    pub entries: &'a std::sync::Arc<[Entry]>,
}

impl<'a> Walker<'a> {
    /// A top-level item: taken over from the last check when it is unchanged, else walked.
    /// `body` is its tree, `text` its JSON text when the document came as JSON; an item the
    /// last check holds may come as its text alone.
    pub(super) fn top_level(
        &mut self,
        kind: Kind,
        body: Option<Map<String, Value>>,
        text: Option<&'a str>,
        path: String,
    ) {
        let Some(draft) = self.draft.as_mut() else {
            return match body {
                Some(body) => self.entity(kind, body, path, None),
                None => self.errs.push(FieldError::new(path, "expected a map")),
            };
        };
        // An item is known by its text: as sent, or as the tree serialises.
        let bytes: Box<[u8]> = match (text, &body) {
            (Some(t), _) => t.as_bytes().into(),
            (None, Some(b)) => serde_json::to_vec(b).unwrap_or_default().into(),
            (None, None) => Box::default(),
        };
        self.item = draft.items.len();
        let hit = self.prev.and_then(|r| r.find(kind, &bytes));
        draft.items.push((kind, path.clone(), bytes));
        let body = match (hit, body) {
            (Some(entries), value) => {
                return self.hits.push(Hit {
                    item: self.item,
                    kind,
                    path,
                    value,
                    text,
                    entries,
                });
            }
            (None, Some(body)) => body,
            (None, None) => match text.and_then(self.read) {
                Some(body) => body,
                None => return self.errs.push(FieldError::new(path, "expected a map")),
            },
        };
        self.entity(kind, body, path, None)
    }

    /// Where each entity of the existing config sits, by kind and id (when items are reused).
    pub(super) fn positions(&self) -> HashMap<Kind, std::collections::HashMap<Uuid, usize>> {
        let mut out = HashMap::new();
        if let Some(existing) = self.external.filter(|_| !self.hits.is_empty()) {
            for kind in TOP_LEVEL {
                out.insert(*kind, existing.positions(kind.info().collection));
            }
        }
        out
    }

    /// The index of the walked entities and of the unchanged items' entries.
    pub(super) fn index(&self) -> Index {
        let mut ix = Index::new();
        for p in &self.pending {
            ix.add(
                p.kind,
                p.id,
                || p.path.clone(),
                p.kind
                    .info()
                    .names
                    .iter()
                    .map(|f| p.body.get(*f).and_then(Value::as_str)),
            );
        }
        for h in &self.hits {
            for e in h.entries.iter() {
                ix.add_unplaced(e.kind, e.id, e.names.iter().map(Option::as_deref));
            }
        }
        ix
    }
}

/// The values of the fields others may name an entity of `kind` by.
pub(super) fn names_of(kind: Kind, body: &Map<String, Value>) -> Vec<Option<String>> {
    kind.info()
        .names
        .iter()
        .map(|f| body.get(*f).and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// Whether an unchanged item's entries are all still in the existing config and every
/// reference they made resolves to the same entity as before.
pub(super) fn holds(
    entries: &[Entry],
    index: &Index,
    positions: &HashMap<Kind, std::collections::HashMap<Uuid, usize>>,
) -> bool {
    entries.iter().all(|e| {
        positions
            .get(&e.kind)
            .is_some_and(|p| p.contains_key(&e.id))
            && e.refs
                .iter()
                .all(|(kind, spec, id)| index.resolve(*kind, spec) == Some(*id))
    })
}
