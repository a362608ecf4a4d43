//! The router's per-field matchers (host, path, header value) and Kong's route priority.

use regex::Regex;

use super::RouteSpec;

#[derive(Debug, Clone)]
pub(super) enum HostMatcher {
    Exact(String),
    /// `*.example.com` → the request host ends with `.example.com`.
    Suffix(String),
    /// `example.*` → the request host starts with `example.`.
    Prefix(String),
}

impl HostMatcher {
    pub(super) fn new(h: &str) -> Self {
        let h = strip_port(&h.to_ascii_lowercase()).to_string();
        if let Some(rest) = h.strip_prefix('*') {
            HostMatcher::Suffix(rest.to_string())
        } else if let Some(rest) = h.strip_suffix('*') {
            HostMatcher::Prefix(rest.to_string())
        } else {
            HostMatcher::Exact(h)
        }
    }

    /// `host` is lowercased, without port.
    pub(super) fn matches(&self, host: &str) -> bool {
        match self {
            HostMatcher::Exact(h) => host == h,
            HostMatcher::Suffix(s) => host.len() > s.len() && host.ends_with(s.as_str()),
            HostMatcher::Prefix(p) => host.len() > p.len() && host.starts_with(p.as_str()),
        }
    }

    pub(super) fn is_wildcard(&self) -> bool {
        !matches!(self, HostMatcher::Exact(_))
    }
}

#[derive(Debug, Clone)]
pub(super) enum PathMatcher {
    Prefix(String),
    /// Anchored at the start of the path.
    Regex(Regex),
}

impl PathMatcher {
    /// The length of the matched leading part of `path`, if it matches.
    pub(super) fn matches(&self, path: &str) -> Option<usize> {
        match self {
            PathMatcher::Prefix(p) => path.starts_with(p.as_str()).then_some(p.len()),
            PathMatcher::Regex(re) => re.find(path).map(|m| m.end()),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) enum HeaderValue {
    /// Lowercased; compared case-insensitively.
    Exact(String),
    /// `~*regex`, case-insensitive.
    Regex(Regex),
}

impl HeaderValue {
    pub(super) fn matches(&self, value: &str) -> bool {
        match self {
            HeaderValue::Exact(w) => w.eq_ignore_ascii_case(value),
            HeaderValue::Regex(re) => re.is_match(value),
        }
    }
}

/// Kong's `get_priority` (router/transform.lua) for one (sub)route.
pub(super) fn priority(
    r: &RouteSpec,
    hosts: &[HostMatcher],
    has_paths: bool,
    regex: bool,
    len: usize,
) -> u64 {
    let weight = [
        !r.methods.is_empty(),
        !hosts.is_empty(),
        !r.headers.is_empty(),
        !r.snis.is_empty(),
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

/// `host` without a trailing `:port` (IPv6 literals keep their brackets).
pub(super) fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split(']')
            .next()
            .and_then(|h| host.get(..h.len() + 1))
            .unwrap_or(host);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}
