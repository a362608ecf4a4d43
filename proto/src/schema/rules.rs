//! Kong's cross-field rules for services and routes (`entity_checks` in Kong's schemas): which
//! fields a protocol allows, which protocols may be mixed on one route, where `snis` may appear,
//! and whether the router can compile the route's header regexes (Kong validates the route's
//! router expression when it is written, so a bad one never reaches a data plane).

use super::entities::{Route, Service};
use super::error::FieldError;

/// Protocols whose services carry no path, and those that may carry client TLS settings.
const NO_PATH: &[&str] = &["tcp", "tls", "udp", "grpc", "grpcs"];
const TLS_CAPABLE: &[&str] = &["https", "tls"];

pub fn service(s: &Service) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let p = s.protocol.as_str();
    if NO_PATH.contains(&p) && s.path.is_some() {
        errs.push(FieldError::new("path", "value must be null"));
        errs.push(conditional("protocol"));
    }
    if !TLS_CAPABLE.contains(&p) {
        let tls_fields = [
            ("client_certificate", s.client_certificate.is_some()),
            ("tls_verify", s.tls_verify.is_some()),
            ("tls_verify_depth", s.tls_verify_depth.is_some()),
            ("ca_certificates", s.ca_certificates.is_some()),
        ];
        let set: Vec<&str> = tls_fields
            .iter()
            .filter(|(_, on)| *on)
            .map(|(f, _)| *f)
            .collect();
        for f in &set {
            errs.push(FieldError::new(*f, "value must be null"));
        }
        if !set.is_empty() {
            errs.push(conditional("protocol"));
        }
    }
    if s.tls_verify_depth.is_some_and(|d| d > 64) {
        errs.push(FieldError::new(
            "tls_verify_depth",
            "value should be between 0 and 64",
        ));
    }
    errs
}

/// Protocol families that cannot share a route.
const GROUPS: &[&[&str]] = &[
    &["http", "https"],
    &["tcp", "tls", "udp"],
    &["tls_passthrough"],
    &["grpc", "grpcs"],
];

pub fn route(r: &Route) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let groups: Vec<usize> = r
        .protocols
        .iter()
        .filter_map(|p| GROUPS.iter().position(|g| g.contains(&p.as_str())))
        .collect();
    if groups.windows(2).any(|w| w[0] != w[1]) {
        errs.push(FieldError::new(
            "protocols",
            "these sets are mutually exclusive: ('http', 'https'), ('tcp', 'tls', 'udp'), ('tls_passthrough'), ('grpc', 'grpcs')",
        ));
    }
    let has = |p: &str| r.protocols.iter().any(|x| x == p);
    if r.snis.as_ref().is_some_and(|s| !s.is_empty())
        && !["grpcs", "https", "tls", "tls_passthrough"]
            .iter()
            .any(|p| has(p))
    {
        errs.push(FieldError::new(
            "snis",
            "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'",
        ));
    }
    if (has("grpc") || has("grpcs")) && r.strip_path {
        errs.push(FieldError::new(
            "strip_path",
            "cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'",
        ));
    }
    for (name, values) in r.headers.iter().flatten() {
        for v in values {
            if let Some(Err(e)) = header_regex(v) {
                errs.push(FieldError::new(
                    "@entity",
                    format!(
                        "Router Expression failed validation: header '{name}': invalid regex '{}': {}",
                        v.strip_prefix("~*").unwrap_or(v),
                        regex_reason(&e)
                    ),
                ));
            }
        }
    }
    for (i, p) in r.paths.iter().flatten().enumerate() {
        if !p.starts_with('~') && (p.contains("/./") || p.ends_with("/.") || p.contains("/../")) {
            errs.push(FieldError::new(
                format!("paths[{i}]"),
                format!(
                    "non-normalized path, consider use '{}' instead",
                    normalize(p)
                ),
            ));
        }
    }
    errs
}

/// A route header value `~*<regex>` compiled as the router matches it (case-insensitive); None
/// for a plain value. The one definition for both planes: the CP refuses what fails here.
pub fn header_regex(value: &str) -> Option<Result<regex::Regex, regex::Error>> {
    let re = value.strip_prefix("~*")?;
    Some(regex::Regex::new(&format!("(?i){re}")))
}

/// The reason in a regex error, on one line (`unclosed group`).
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    last.trim().trim_start_matches("error: ").to_string()
}

fn conditional(field: &str) -> FieldError {
    FieldError::new(
        "@entity",
        format!("failed conditional validation given value of field '{field}'"),
    )
}

/// Resolves `.` and `..` segments, as Kong suggests in its message.
fn normalize(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(v: serde_json::Value) -> Service {
        let mut base = json!({"id": uuid::Uuid::nil(), "host": "h"});
        base.as_object_mut()
            .unwrap()
            .extend(v.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    fn rt(v: serde_json::Value) -> Route {
        let mut base = json!({"id": uuid::Uuid::nil()});
        base.as_object_mut()
            .unwrap()
            .extend(v.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    fn paths(e: Vec<FieldError>) -> Vec<String> {
        e.into_iter().map(|e| e.path).collect()
    }

    #[test]
    fn service_protocol_conditions() {
        assert_eq!(
            paths(service(&svc(json!({"protocol": "tcp", "path": "/x"})))),
            ["path", "@entity"]
        );
        assert_eq!(
            paths(service(&svc(
                json!({"protocol": "http", "tls_verify": true})
            ))),
            ["tls_verify", "@entity"]
        );
        assert!(service(&svc(
            json!({"protocol": "https", "tls_verify": true, "path": "/a"})
        ))
        .is_empty());
    }

    #[test]
    fn route_protocol_groups_snis_grpc_and_paths() {
        assert_eq!(
            paths(route(&rt(
                json!({"protocols": ["http", "tcp"], "paths": ["/a"]})
            ))),
            ["protocols"]
        );
        assert_eq!(
            paths(route(&rt(
                json!({"protocols": ["http"], "snis": ["a.com"], "paths": ["/a"]})
            ))),
            ["snis"]
        );
        assert_eq!(
            paths(route(&rt(json!({"protocols": ["grpc"], "paths": ["/a"]})))),
            ["strip_path"]
        );
        let e = route(&rt(json!({"paths": ["/a/../b"]})));
        assert_eq!(
            e[0].message,
            "non-normalized path, consider use '/b' instead"
        );
        assert!(route(&rt(
            json!({"protocols": ["https"], "snis": ["a.com"], "paths": ["/a"]})
        ))
        .is_empty());
    }

    #[test]
    fn header_regexes_must_compile() {
        let e = route(&rt(
            json!({"headers": {"x-version": ["v1", "~*(unclosed", "~*^v[0-9]+$"]}}),
        ));
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].path, "@entity");
        assert_eq!(
            e[0].message,
            "Router Expression failed validation: header 'x-version': invalid regex '(unclosed': unclosed group"
        );
        assert!(route(&rt(json!({"headers": {"x-v": ["~*^V1$", "plain(text"]}}))).is_empty());
        let re = header_regex("~*^v1$").unwrap().unwrap();
        assert!(re.is_match("V1"), "case-insensitive, as the router matches");
        assert!(header_regex("v1").is_none());
    }
}
