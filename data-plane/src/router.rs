//! Router: request (method, host, path, headers, TLS SNI) → the matching route, in Kong's
//! `traditional_compatible` priority order. Pure: built once per config (off the request path,
//! by `runtime::compile`), no I/O; `find` runs on every proxied request.

pub mod captures;
mod index;
mod matchers;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_sni;

use std::borrow::Cow;

use http::HeaderMap;
use regex::Regex;
use uuid::Uuid;

use index::Index;
use matchers::{priority, strip_port, HeaderValue, HostMatcher, PathMatcher};

/// The matching fields of one route, as configured.
#[derive(Debug, Clone, Default)]
pub struct RouteSpec {
    pub id: Uuid,
    pub methods: Vec<String>,
    pub hosts: Vec<String>,
    pub paths: Vec<String>,
    pub headers: Vec<(String, Vec<String>)>,
    pub regex_priority: i64,
    /// TLS server names; checked on https requests only (Kong ignores them over plaintext).
    pub snis: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("route {route}: invalid regex path '{path}': {source}")]
    Regex {
        route: Uuid,
        path: String,
        source: regex::Error,
    },
}

/// One (sub)route: Kong splits a route whose paths mix regexes and prefixes of different lengths.
#[derive(Debug, Clone)]
struct Entry {
    priority: u64,
    route_id: Uuid,
    index: usize,
    methods: Vec<String>,
    hosts: Vec<HostMatcher>,
    paths: Vec<PathMatcher>,
    headers: Vec<(String, Vec<HeaderValue>)>,
    /// Lowercase, without a trailing dot.
    snis: Vec<Box<str>>,
}

impl Entry {
    /// The matched length of `req.path` when this entry matches `req` (`host` is lowercased,
    /// without port).
    fn matches(&self, req: &RequestInfo<'_>, host: &str) -> Option<usize> {
        if !self.methods.is_empty() && !self.methods.iter().any(|m| m == req.method) {
            return None;
        }
        if !self.hosts.is_empty() && !self.hosts.iter().any(|h| h.matches(host)) {
            return None;
        }
        // Kong (router/transform.lua, #6425): `net.protocol != "https" || tls.sni == …`.
        if req.https && !self.snis.is_empty() {
            let sni = req.sni.map(|s| s.trim_end_matches('.'));
            if !sni.is_some_and(|s| self.snis.iter().any(|n| n.eq_ignore_ascii_case(s))) {
                return None;
            }
        }
        for (name, values) in &self.headers {
            let ok = req.headers.get_all(name.as_str()).iter().any(|v| {
                let v = String::from_utf8_lossy(v.as_bytes());
                values.iter().any(|want| want.matches(&v))
            });
            if !ok {
                return None;
            }
        }
        if self.paths.is_empty() {
            return Some(0);
        }
        self.paths.iter().filter_map(|p| p.matches(req.path)).max()
    }
}

/// What the router needs from a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    pub method: &'a str,
    /// The Host header or URI authority, possibly with a port.
    pub host: &'a str,
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    /// The server name the client sent in its TLS handshake.
    pub sni: Option<&'a str>,
    /// Whether the request came over TLS (`https`), else `http`.
    pub https: bool,
}

/// A routing decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// Index of the route in the slice given to `Router::new`.
    pub index: usize,
    /// Length of the leading part of the request path the route matched (0 when no paths).
    pub matched_len: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Router {
    /// Highest priority first.
    entries: Vec<Entry>,
    index: Index,
}

impl Router {
    pub fn new(routes: &[RouteSpec]) -> Result<Self, RouterError> {
        let mut entries = Vec::new();
        for (index, r) in routes.iter().enumerate() {
            let hosts: Vec<HostMatcher> = r.hosts.iter().map(|h| HostMatcher::new(h)).collect();
            let snis: Vec<Box<str>> = r
                .snis
                .iter()
                .map(|n| {
                    n.trim_end_matches('.')
                        .to_ascii_lowercase()
                        .into_boxed_str()
                })
                .collect();
            let mut headers = Vec::new();
            for (name, values) in &r.headers {
                let mut vs = Vec::new();
                for v in values {
                    if let Some(re) = proto::schema::header_regex(v) {
                        let re = re.map_err(|source| RouterError::Regex {
                            route: r.id,
                            path: v.clone(),
                            source,
                        })?;
                        vs.push(HeaderValue::Regex(re));
                    } else {
                        vs.push(HeaderValue::Exact(v.to_ascii_lowercase()));
                    }
                }
                headers.push((name.to_ascii_lowercase(), vs));
            }
            let mut groups: Vec<(bool, usize, Vec<PathMatcher>)> = Vec::new();
            for p in &r.paths {
                let (regex, len, m) = if let Some(re) = p.strip_prefix('~') {
                    let compiled =
                        Regex::new(&format!("^(?:{re})")).map_err(|source| RouterError::Regex {
                            route: r.id,
                            path: p.clone(),
                            source,
                        })?;
                    (true, 0, PathMatcher::Regex(compiled))
                } else {
                    (false, p.len(), PathMatcher::Prefix(p.clone()))
                };
                match groups.iter_mut().find(|g| g.0 == regex && g.1 == len) {
                    Some(g) => g.2.push(m),
                    None => groups.push((regex, len, vec![m])),
                }
            }
            if groups.is_empty() {
                groups.push((false, 0, Vec::new()));
            }
            for (regex, len, paths) in groups {
                let priority = priority(r, &hosts, !paths.is_empty(), regex, len);
                entries.push(Entry {
                    priority,
                    route_id: r.id,
                    index,
                    methods: r.methods.clone(),
                    hosts: hosts.clone(),
                    paths,
                    headers: headers.clone(),
                    snis: snis.clone(),
                });
            }
        }
        entries.sort_by_key(|e| std::cmp::Reverse((e.priority, e.route_id)));
        let index = Index::new(entries.iter().map(|e| e.paths.as_slice()));
        Ok(Router { entries, index })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The highest-priority route matching `req`. Only the entries the index names as
    /// candidates for the path are checked, so the cost does not grow with the route count.
    pub fn find(&self, req: &RequestInfo<'_>) -> Option<Match> {
        let host = strip_port(req.host);
        let host = if host.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(host.to_ascii_lowercase())
        } else {
            Cow::Borrowed(host)
        };
        let mut best: Option<(u32, usize)> = None;
        for list in self.index.candidates(req.path) {
            for &i in list {
                if best.is_some_and(|(b, _)| i >= b) {
                    break;
                }
                let Some(entry) = self.entries.get(i as usize) else {
                    break;
                };
                if let Some(len) = entry.matches(req, &host) {
                    best = Some((i, len));
                    break;
                }
            }
        }
        let (i, matched_len) = best?;
        let entry = self.entries.get(i as usize)?;
        Some(Match {
            index: entry.index,
            matched_len,
        })
    }
}
