//! `cors` (priority 2000, access phase and header filter): answers preflight requests itself
//! (unless `preflight_continue`) and decides the `Access-Control-*` headers of actual responses,
//! which the header filter then applies. Follows Kong's `cors/handler.lua`.

use http::header::{HeaderName, HeaderValue};
use http::request::Parts;
use http::Method;
use proto::schema::plugins::cors::CorsConfig;
use regex::Regex;

use super::response_headers::HeaderChange;

const ACAO: &str = "access-control-allow-origin";
const ACAC: &str = "access-control-allow-credentials";

/// A compiled `cors` instance.
#[derive(Debug)]
pub struct Cors {
    cfg: CorsConfig,
    allow_all: bool,
    origins: Vec<Allowed>,
}

#[derive(Debug)]
enum Allowed {
    /// A plain origin, normalised (`scheme://host[:port]`, default port dropped).
    Exact(String),
    /// An entry with regex characters, anchored; matched against the host alone when the
    /// entry names no scheme.
    Regex { re: Regex, by_host: bool },
}

/// What the access phase decided.
#[derive(Debug)]
pub enum Access {
    /// A preflight answered here: 200 with these headers.
    Preflight(Vec<HeaderChange>),
    /// Proxy on; the header filter applies these changes to the response.
    Continue(Vec<HeaderChange>),
}

impl Cors {
    pub fn new(cfg: CorsConfig) -> Self {
        let list = cfg.origins.clone().unwrap_or_default();
        let allow_all = list.is_empty() || list.iter().any(|o| o == "*");
        let origins = list
            .iter()
            .filter(|o| *o != "*")
            .filter_map(|o| {
                if o.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".:/-".contains(&b))
                {
                    return Some(Allowed::Exact(normalize(o).0));
                }
                // Checked by the schema; an entry that does not compile never matches.
                Regex::new(&format!("^(?:{o})$"))
                    .ok()
                    .map(|re| Allowed::Regex {
                        re,
                        by_host: !o.contains("://"),
                    })
            })
            .collect();
        Self {
            cfg,
            allow_all,
            origins,
        }
    }

    pub fn access(&self, parts: &Parts) -> Access {
        let h = &parts.headers;
        let origin = h.get("origin").and_then(|v| v.to_str().ok());
        let preflight = parts.method == Method::OPTIONS
            && origin.is_some()
            && h.contains_key("access-control-request-method");
        let mut out = Vec::new();
        if preflight {
            // Kong skips the response headers: the upstream answers, or this answer has them.
            if self.cfg.preflight_continue {
                return Access::Continue(out);
            }
            let all = self.origin(origin, &mut out);
            self.credentials(all, origin, &mut out);
            let allow_headers = match &self.cfg.headers {
                Some(list) if !list.is_empty() => Some(list.join(",")),
                _ => h
                    .get("access-control-request-headers")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
            };
            match allow_headers {
                Some(v) => out.extend(HeaderChange::set("access-control-allow-headers", &v)),
                None => out.push(HeaderChange::Remove(HeaderName::from_static(
                    "access-control-allow-headers",
                ))),
            }
            let methods: Vec<&str> = self.cfg.methods.iter().map(|m| m.as_str()).collect();
            out.extend(HeaderChange::set(
                "access-control-allow-methods",
                &methods.join(","),
            ));
            if let Some(age) = self.cfg.max_age {
                out.extend(HeaderChange::set(
                    "access-control-max-age",
                    &lua_number(age),
                ));
            }
            let pna = h
                .get("access-control-request-private-network")
                .is_some_and(|v| v == "true");
            if self.cfg.private_network && pna {
                out.extend(HeaderChange::set(
                    "access-control-allow-private-network",
                    "true",
                ));
            }
            return Access::Preflight(out);
        }
        if !self.cfg.allow_origin_absent && origin.is_none() {
            return Access::Continue(out);
        }
        let all = self.origin(origin, &mut out);
        self.credentials(all, origin, &mut out);
        if let Some(list) = self.cfg.exposed_headers.as_ref().filter(|l| !l.is_empty()) {
            out.extend(HeaderChange::set(
                "access-control-expose-headers",
                &list.join(","),
            ));
        }
        Access::Continue(out)
    }

    /// Kong's `configure_origin`: true when every origin is allowed (`*`).
    fn origin(&self, origin: Option<&str>, out: &mut Vec<HeaderChange>) -> bool {
        if self.allow_all {
            out.extend(HeaderChange::set(ACAO, "*"));
            return true;
        }
        let matched = origin.filter(|o| {
            let (domain, host) = normalize(o);
            self.origins.iter().any(|a| match a {
                Allowed::Exact(d) => *d == domain,
                Allowed::Regex { re, by_host } => {
                    re.is_match(if *by_host { &host } else { &domain })
                }
            })
        });
        match matched.and_then(|o| HeaderValue::from_str(o).ok()) {
            Some(v) => out.push(HeaderChange::Set(HeaderName::from_static(ACAO), v)),
            None => out.push(HeaderChange::Remove(HeaderName::from_static(ACAO))),
        }
        out.push(vary_origin());
        false
    }

    /// Kong's `configure_credentials`: with `*` the request's origin is echoed instead, since
    /// browsers refuse credentials with a wildcard origin.
    fn credentials(&self, allow_all: bool, origin: Option<&str>, out: &mut Vec<HeaderChange>) {
        if !self.cfg.credentials {
            return;
        }
        if !allow_all {
            out.extend(HeaderChange::set(ACAC, "true"));
            return;
        }
        if let Some(v) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
            out.push(HeaderChange::Set(HeaderName::from_static(ACAO), v));
            out.extend(HeaderChange::set(ACAC, "true"));
            out.push(vary_origin());
        }
    }
}

fn vary_origin() -> HeaderChange {
    HeaderChange::Append(
        HeaderName::from_static("vary"),
        HeaderValue::from_static("Origin"),
    )
}

/// `(scheme://host[:port], host)`, lower-cased, without the scheme's default port.
fn normalize(origin: &str) -> (String, String) {
    let o = origin.trim().to_ascii_lowercase();
    let Some((scheme, rest)) = o.split_once("://") else {
        return (o.clone(), o);
    };
    let authority = rest.split('/').next().unwrap_or("");
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p)),
        _ => (authority, None),
    };
    let port = port.filter(|p| !matches!((scheme, *p), ("http", "80") | ("https", "443")));
    let domain = match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    };
    (domain, host.to_string())
}

/// Lua's `tostring` of a number: integers without a fraction.
fn lua_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
#[path = "cors/tests.rs"]
mod tests;
