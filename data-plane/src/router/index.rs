//! The router's candidate index: which entries can match a request path, so that `find` checks
//! a handful of entries instead of all of them. Entries with only prefix paths are filed under
//! each prefix; the others (regex paths, no paths) are always candidates.

use std::collections::HashMap;

use super::matchers::PathMatcher;

/// The hasher of the prefix map: its keys come from the config, and a request's path is only
/// looked up (never inserted), so a fast non-keyed hash is safe.
type Fold = foldhash::fast::FixedState;

/// Entry positions (in priority order) by what their paths need.
#[derive(Debug, Clone, Default)]
pub(super) struct Index {
    /// Entries with a regex path or no path at all, ascending.
    always: Vec<u32>,
    /// Prefix → entries with that prefix path, ascending.
    by_prefix: HashMap<Box<str>, Vec<u32>, Fold>,
    /// The distinct prefix lengths, ascending.
    lengths: Vec<usize>,
}

impl Index {
    /// `entries` are the entries' path matchers in priority order.
    pub(super) fn new<'a>(entries: impl Iterator<Item = &'a [PathMatcher]>) -> Self {
        let mut index = Index::default();
        for (i, paths) in entries.enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let prefixes: Option<Vec<&str>> = paths
                .iter()
                .map(|p| match p {
                    PathMatcher::Prefix(s) => Some(s.as_str()),
                    PathMatcher::Regex(_) => None,
                })
                .collect();
            match prefixes {
                Some(prefixes) if !prefixes.is_empty() => {
                    for p in prefixes {
                        let list = index.by_prefix.entry(p.into()).or_default();
                        if list.last() != Some(&i) {
                            list.push(i);
                        }
                        index.lengths.push(p.len());
                    }
                }
                _ => index.always.push(i),
            }
        }
        index.lengths.sort_unstable();
        index.lengths.dedup();
        index
    }

    /// Lists of candidate entries for `path`, each ascending (highest priority first).
    pub(super) fn candidates<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a [u32]> {
        let prefixed = self
            .lengths
            .iter()
            .take_while(move |&&len| len <= path.len())
            .filter_map(move |&len| path.get(..len))
            .filter_map(|p| self.by_prefix.get(p))
            .map(Vec::as_slice);
        std::iter::once(self.always.as_slice()).chain(prefixed)
    }
}
