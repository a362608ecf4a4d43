//! Kong's `uri_captures`: the groups of the route's regex path (`~/…`) that matched the request
//! path — by number (`0` is the whole match) and by name. Only the consumers that read them
//! (request-transformer templates, `hash_on = uri_capture`) work them out, after routing; the
//! regexes are compiled once per thread and reused.

use std::cell::RefCell;
use std::collections::HashMap;

use regex::Regex;

/// Compiled path regexes kept per thread at most (the cache starts over when full).
const CACHE_LIMIT: usize = 512;

thread_local! {
    static COMPILED: RefCell<HashMap<String, Option<Regex>>> = RefCell::new(HashMap::new());
}

/// The captures of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UriCaptures {
    /// By number; a group that did not take part is `None`.
    pub numbered: Vec<Option<String>>,
    pub named: Vec<(String, String)>,
}

impl UriCaptures {
    /// Works out the captures of the first regex path in `paths` that matches `path` (anchored
    /// at its start, as the router matches). None when no regex path matches.
    pub fn of(paths: &[String], path: &str) -> Option<UriCaptures> {
        paths
            .iter()
            .filter_map(|p| p.strip_prefix('~'))
            .find_map(|re| with_regex(re, |r| r.captures(path).map(|c| from(r, &c))).flatten())
    }

    pub fn index(&self, n: usize) -> Option<&str> {
        self.numbered.get(n)?.as_deref()
    }

    pub fn name(&self, name: &str) -> Option<&str> {
        self.named
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn from(re: &Regex, c: &regex::Captures<'_>) -> UriCaptures {
    let numbered = c
        .iter()
        .map(|m| m.map(|m| m.as_str().to_string()))
        .collect();
    let named = re
        .capture_names()
        .flatten()
        .filter_map(|n| c.name(n).map(|m| (n.to_string(), m.as_str().to_string())))
        .collect();
    UriCaptures { numbered, named }
}

/// Runs `f` with the compiled `^(?:re)` (None when it does not compile; the router refused
/// such a route already).
fn with_regex<T>(re: &str, f: impl FnOnce(&Regex) -> T) -> Option<T> {
    COMPILED.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.contains_key(re) {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(re.to_string(), Regex::new(&format!("^(?:{re})")).ok());
        }
        cache.get(re).and_then(Option::as_ref).map(f)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_and_named_groups_of_the_matching_regex_path() {
        let paths = vec![
            "/plain".to_string(),
            "~/other/(\\d+)$".to_string(),
            "~/users/(?<user>\\w+)/items/(?P<item>\\d+)".to_string(),
        ];
        let c = UriCaptures::of(&paths, "/users/ann/items/42/rest").unwrap();
        assert_eq!(c.index(0), Some("/users/ann/items/42"));
        assert_eq!(c.index(1), Some("ann"));
        assert_eq!(c.index(2), Some("42"));
        assert_eq!(c.index(3), None);
        assert_eq!(c.name("user"), Some("ann"));
        assert_eq!(c.name("item"), Some("42"));
        assert_eq!(c.name("nope"), None);
        // Anchored at the start, like the router; prefix paths have no captures.
        assert_eq!(UriCaptures::of(&paths, "/x/users/ann/items/1"), None);
        assert_eq!(UriCaptures::of(&paths, "/plain"), None);
        let other = UriCaptures::of(&paths, "/other/7").unwrap();
        assert_eq!(other.index(1), Some("7"));
    }
}
