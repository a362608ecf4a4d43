//! Router: request (method, host, path, headers) → the matching route, in Kong's
//! `traditional_compatible` priority order. Pure: built once per config, no I/O.

use http::HeaderMap;
use regex::Regex;
use uuid::Uuid;

/// The matching fields of one route, as configured.
#[derive(Debug, Clone, Default)]
pub struct RouteSpec {
    pub id: Uuid,
    pub methods: Vec<String>,
    pub hosts: Vec<String>,
    pub paths: Vec<String>,
    pub headers: Vec<(String, Vec<String>)>,
    pub regex_priority: i64,
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

#[derive(Debug, Clone)]
enum HostMatcher {
    Exact(String),
    /// `*.example.com` → the request host ends with `.example.com`.
    Suffix(String),
    /// `example.*` → the request host starts with `example.`.
    Prefix(String),
}

impl HostMatcher {
    fn new(h: &str) -> Self {
        let h = strip_port(&h.to_ascii_lowercase()).to_string();
        if let Some(rest) = h.strip_prefix('*') {
            HostMatcher::Suffix(rest.to_string())
        } else if let Some(rest) = h.strip_suffix('*') {
            HostMatcher::Prefix(rest.to_string())
        } else {
            HostMatcher::Exact(h)
        }
    }
    fn matches(&self, host: &str) -> bool {
        match self {
            HostMatcher::Exact(h) => host == h,
            HostMatcher::Suffix(s) => host.len() > s.len() && host.ends_with(s.as_str()),
            HostMatcher::Prefix(p) => host.len() > p.len() && host.starts_with(p.as_str()),
        }
    }
    fn is_wildcard(&self) -> bool {
        !matches!(self, HostMatcher::Exact(_))
    }
}

#[derive(Debug, Clone)]
enum PathMatcher {
    Prefix(String),
    Regex(Regex),
}

impl PathMatcher {
    /// The length of the matched leading part of `path`, if it matches.
    fn matches(&self, path: &str) -> Option<usize> {
        match self {
            PathMatcher::Prefix(p) => path.starts_with(p.as_str()).then_some(p.len()),
            PathMatcher::Regex(re) => re.find(path).map(|m| m.end()),
        }
    }
}

#[derive(Debug, Clone)]
enum HeaderValue {
    Exact(String),
    Regex(Regex),
}

#[derive(Debug, Clone)]
struct Entry {
    priority: u64,
    route_id: Uuid,
    index: usize,
    methods: Vec<String>,
    hosts: Vec<HostMatcher>,
    paths: Vec<PathMatcher>,
    headers: Vec<(String, Vec<HeaderValue>)>,
}

/// What the router needs from a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    pub method: &'a str,
    /// The Host header or URI authority, possibly with a port.
    pub host: &'a str,
    pub path: &'a str,
    pub headers: &'a HeaderMap,
}

/// A routing decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Index of the route in the slice given to `Router::new`.
    pub index: usize,
    /// The leading part of the request path the route matched (empty when no paths).
    pub matched_path: String,
}

#[derive(Debug, Clone, Default)]
pub struct Router {
    entries: Vec<Entry>,
}

impl Router {
    pub fn new(routes: &[RouteSpec]) -> Result<Self, RouterError> {
        let mut entries = Vec::new();
        for (index, r) in routes.iter().enumerate() {
            let hosts: Vec<HostMatcher> = r.hosts.iter().map(|h| HostMatcher::new(h)).collect();
            let mut headers = Vec::new();
            for (name, values) in &r.headers {
                let mut vs = Vec::new();
                for v in values {
                    if let Some(re) = v.strip_prefix("~*") {
                        let re = Regex::new(&format!("(?i){re}")).map_err(|source| {
                            RouterError::Regex {
                                route: r.id,
                                path: v.clone(),
                                source,
                            }
                        })?;
                        vs.push(HeaderValue::Regex(re));
                    } else {
                        vs.push(HeaderValue::Exact(v.to_ascii_lowercase()));
                    }
                }
                headers.push((name.to_ascii_lowercase(), vs));
            }
            // Kong splits a route whose paths mix regex and prefixes of different lengths.
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
                });
            }
        }
        entries.sort_by_key(|e| std::cmp::Reverse((e.priority, e.route_id)));
        Ok(Router { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn find(&self, req: &RequestInfo<'_>) -> Option<Match> {
        let host = strip_port(&req.host.to_ascii_lowercase()).to_string();
        self.entries.iter().find_map(|e| {
            if !e.methods.is_empty() && !e.methods.iter().any(|m| m == req.method) {
                return None;
            }
            if !e.hosts.is_empty() && !e.hosts.iter().any(|h| h.matches(&host)) {
                return None;
            }
            for (name, values) in &e.headers {
                let ok = req.headers.get_all(name.as_str()).iter().any(|v| {
                    let v = String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase();
                    values.iter().any(|want| match want {
                        HeaderValue::Exact(w) => *w == v,
                        HeaderValue::Regex(re) => re.is_match(&v),
                    })
                });
                if !ok {
                    return None;
                }
            }
            let matched = if e.paths.is_empty() {
                0
            } else {
                e.paths.iter().filter_map(|p| p.matches(req.path)).max()?
            };
            Some(Match {
                index: e.index,
                matched_path: req.path[..matched].to_string(),
            })
        })
    }
}

/// Kong's `get_priority` (router/transform.lua) for one (sub)route.
fn priority(r: &RouteSpec, hosts: &[HostMatcher], has_paths: bool, regex: bool, len: usize) -> u64 {
    let weight = [
        !r.methods.is_empty(),
        !hosts.is_empty(),
        !r.headers.is_empty(),
        has_paths,
    ]
    .iter()
    .filter(|b| **b)
    .count() as u64;
    let plain_hosts = !hosts.is_empty() && !hosts.iter().any(HostMatcher::is_wildcard);
    let header_count = (r.headers.len() as u64).min(255);
    let regex_priority = if regex {
        (r.regex_priority.max(0) as u64) & 0xFFFF_FFFF
    } else {
        0
    };
    (weight << 61)
        | (u64::from(plain_hosts) << 60)
        | (header_count << 52)
        | (u64::from(regex) << 51)
        | (regex_priority << 19)
        | (len as u64 & 0x7FFFF)
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split(']')
            .next()
            .map_or(host, |h| &host[..h.len() + 1]);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uuid(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn spec(n: u128) -> RouteSpec {
        RouteSpec {
            id: uuid(n),
            ..Default::default()
        }
    }

    fn find(
        router: &Router,
        method: &str,
        host: &str,
        path: &str,
        hdrs: &[(&str, &str)],
    ) -> Option<usize> {
        let mut headers = HeaderMap::new();
        for (k, v) in hdrs {
            headers.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        router
            .find(&RequestInfo {
                method,
                host,
                path,
                headers: &headers,
            })
            .map(|m| m.index)
    }

    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
        Option<usize>,
    );

    #[test]
    fn priority_table() {
        let routes = vec![
            // 0: prefix /api
            RouteSpec {
                paths: vec!["/api".into()],
                ..spec(1)
            },
            // 1: longer prefix wins
            RouteSpec {
                paths: vec!["/api/v1".into()],
                ..spec(2)
            },
            // 2: regex beats prefix of same weight
            RouteSpec {
                paths: vec!["~/api/v[0-9]+/x".into()],
                ..spec(3)
            },
            // 3: host + path beats path only
            RouteSpec {
                hosts: vec!["example.com".into()],
                paths: vec!["/api".into()],
                ..spec(4)
            },
            // 4: wildcard host + path loses to plain host + path
            RouteSpec {
                hosts: vec!["*.example.com".into()],
                paths: vec!["/api".into()],
                ..spec(5)
            },
            // 5: header route (weight 2 with path)
            RouteSpec {
                headers: vec![("x-version".into(), vec!["v2".into()])],
                paths: vec!["/api".into()],
                ..spec(6)
            },
            // 6: method only
            RouteSpec {
                methods: vec!["DELETE".into()],
                ..spec(7)
            },
        ];
        let r = Router::new(&routes).unwrap();
        let cases: &[Case] = &[
            ("GET", "other", "/api/x", &[], Some(0)),
            ("GET", "other", "/api/v1/y", &[], Some(1)),
            ("GET", "other", "/api/v1/x", &[], Some(2)),
            ("GET", "example.com:8000", "/api/v1/x", &[], Some(3)),
            ("GET", "a.example.com", "/api/v1/x", &[], Some(4)),
            (
                "GET",
                "example.org",
                "/api",
                &[("X-Version", "V2")],
                Some(5),
            ),
            ("DELETE", "other", "/nothing", &[], Some(6)),
            ("GET", "other", "/nothing", &[], None),
            ("GET", "other", "/ap", &[], None),
        ];
        for (method, host, path, hdrs, want) in cases {
            assert_eq!(
                find(&r, method, host, path, hdrs),
                *want,
                "{method} {host} {path}"
            );
        }
    }

    #[test]
    fn regex_priority_orders_regex_routes() {
        let routes = vec![
            RouteSpec {
                paths: vec!["~/a".into()],
                regex_priority: 1,
                ..spec(1)
            },
            RouteSpec {
                paths: vec!["~/a/b".into()],
                regex_priority: 5,
                ..spec(2)
            },
        ];
        let r = Router::new(&routes).unwrap();
        assert_eq!(find(&r, "GET", "h", "/a/b", &[]), Some(1));
        assert_eq!(find(&r, "GET", "h", "/a/c", &[]), Some(0));
    }

    #[test]
    fn equal_priority_prefers_larger_uuid() {
        let routes = vec![
            RouteSpec {
                paths: vec!["/same".into()],
                ..spec(1)
            },
            RouteSpec {
                paths: vec!["/same".into()],
                ..spec(9)
            },
        ];
        let r = Router::new(&routes).unwrap();
        assert_eq!(find(&r, "GET", "h", "/same", &[]), Some(1));
    }

    #[test]
    fn regex_is_anchored_and_reports_matched_path() {
        let routes = vec![RouteSpec {
            paths: vec!["~/v[0-9]+".into()],
            ..spec(1)
        }];
        let r = Router::new(&routes).unwrap();
        assert_eq!(find(&r, "GET", "h", "/x/v1", &[]), None);
        let headers = HeaderMap::new();
        let m = r
            .find(&RequestInfo {
                method: "GET",
                host: "h",
                path: "/v12/rest",
                headers: &headers,
            })
            .unwrap();
        assert_eq!(m.matched_path, "/v12");
    }

    #[test]
    fn trailing_wildcard_host_and_header_regex() {
        let routes = vec![RouteSpec {
            hosts: vec!["api.*".into()],
            headers: vec![("x-env".into(), vec!["~*^prod".into()])],
            ..spec(1)
        }];
        let r = Router::new(&routes).unwrap();
        assert_eq!(
            find(
                &r,
                "GET",
                "api.example.com",
                "/",
                &[("x-env", "PRODUCTION")]
            ),
            Some(0)
        );
        assert_eq!(
            find(&r, "GET", "api.example.com", "/", &[("x-env", "staging")]),
            None
        );
        assert_eq!(
            find(&r, "GET", "www.example.com", "/", &[("x-env", "prod")]),
            None
        );
    }

    #[test]
    fn bad_regex_is_an_error() {
        let routes = vec![RouteSpec {
            paths: vec!["~/(".into()],
            ..spec(1)
        }];
        assert!(Router::new(&routes).is_err());
    }
}
