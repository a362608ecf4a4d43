//! Kong's core entities as the Admin API returns them: every field present, defaults filled,
//! foreign keys as `{"id": …}`. The CP stores and ships these; the DP compiles them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::error::FieldError;

/// A reference to another entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignKey {
    pub id: Uuid,
}

const SERVICE_PROTOCOLS: &[&str] = &[
    "grpc",
    "grpcs",
    "http",
    "https",
    "tcp",
    "tls",
    "tls_passthrough",
    "udp",
];
const MAX_TIMEOUT: u64 = 2_147_483_646;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub id: Uuid,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "default_protocol")]
    pub protocol: String,
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_timeout")]
    pub connect_timeout: u64,
    #[serde(default = "default_timeout")]
    pub write_timeout: u64,
    #[serde(default = "default_timeout")]
    pub read_timeout: u64,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub tls_verify: Option<bool>,
    #[serde(default)]
    pub tls_verify_depth: Option<u8>,
    #[serde(default)]
    pub ca_certificates: Option<Vec<Uuid>>,
    #[serde(default)]
    pub client_certificate: Option<ForeignKey>,
    /// Enterprise: names the upstream certificate must carry. Stored; not enforced yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_sans: Option<Value>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub updated_at: Option<i64>,
}

impl Service {
    /// Whether requests to the service go over TLS (`https`, `grpcs`).
    pub fn uses_tls(&self) -> bool {
        matches!(self.protocol.as_str(), "https" | "grpcs")
    }

    /// The port its scheme implies: 443 over TLS, else 80.
    pub fn default_port(&self) -> u16 {
        if self.uses_tls() {
            443
        } else {
            80
        }
    }

    /// Kong's field rules for a service; paths are relative to the service.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = self.field_rules();
        errs.extend(super::tags::check(&self.tags));
        errs
    }

    fn field_rules(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if !SERVICE_PROTOCOLS.contains(&self.protocol.as_str()) {
            errs.push(one_of("protocol", SERVICE_PROTOCOLS));
        }
        if self.host.is_empty() {
            errs.push(FieldError::new("host", "required field missing"));
        } else if self.host.contains(':') && !self.host.starts_with('[') {
            errs.push(FieldError::new("host", "must not have a port"));
        }
        if let Some(path) = &self.path {
            if !path.starts_with('/') {
                errs.push(FieldError::new("path", "should start with: /"));
            } else if path.contains("//") {
                errs.push(FieldError::new("path", "must not have empty segments"));
            }
        }
        if self.retries > 32767 {
            errs.push(between("retries", 0, 32767));
        }
        for (field, v) in [
            ("connect_timeout", self.connect_timeout),
            ("write_timeout", self.write_timeout),
            ("read_timeout", self.read_timeout),
        ] {
            if v == 0 || v > MAX_TIMEOUT {
                errs.push(between(field, 1, MAX_TIMEOUT));
            }
        }
        if let Some(name) = &self.name {
            errs.extend(check_name("name", name));
        }
        errs.extend(super::rules::service(self));
        errs
    }
}

pub(crate) const ROUTE_PROTOCOLS: &[&str] = &[
    "grpc",
    "grpcs",
    "http",
    "https",
    "tcp",
    "tls",
    "tls_passthrough",
    "udp",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub id: Uuid,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub service: Option<ForeignKey>,
    #[serde(default = "default_route_protocols")]
    pub protocols: Vec<String>,
    #[serde(default)]
    pub methods: Option<Vec<String>>,
    #[serde(default)]
    pub hosts: Option<Vec<String>>,
    #[serde(default)]
    pub paths: Option<Vec<String>>,
    #[serde(default)]
    pub headers: Option<std::collections::BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    pub snis: Option<Vec<String>>,
    #[serde(default)]
    pub sources: Option<Vec<Value>>,
    #[serde(default)]
    pub destinations: Option<Vec<Value>>,
    #[serde(default = "yes")]
    pub strip_path: bool,
    #[serde(default)]
    pub preserve_host: bool,
    #[serde(default)]
    pub regex_priority: i64,
    #[serde(default = "default_path_handling")]
    pub path_handling: String,
    #[serde(default = "default_redirect")]
    pub https_redirect_status_code: u16,
    #[serde(default = "yes")]
    pub request_buffering: bool,
    #[serde(default = "yes")]
    pub response_buffering: bool,
    /// Only with Kong's `expressions` router flavor, which this gateway does not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u64>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub updated_at: Option<i64>,
}

impl Route {
    /// Kong's field and entity rules for a route; paths are relative to the route.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = self.field_rules();
        errs.extend(super::tags::check(&self.tags));
        errs
    }

    fn field_rules(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if self.protocols.is_empty() {
            errs.push(FieldError::new("protocols", "length must be at least 1"));
        }
        for (i, p) in self.protocols.iter().enumerate() {
            if !ROUTE_PROTOCOLS.contains(&p.as_str()) {
                errs.push(one_of(&format!("protocols[{i}]"), ROUTE_PROTOCOLS));
            }
        }
        for (i, m) in self.methods.iter().flatten().enumerate() {
            if m.is_empty() || !m.chars().all(|c| c.is_ascii_uppercase()) {
                errs.push(FieldError::new(
                    format!("methods[{i}]"),
                    "invalid value: must be an uppercase HTTP method",
                ));
            }
        }
        for (i, p) in self.paths.iter().flatten().enumerate() {
            let at = format!("paths[{i}]");
            if let Some(re) = p.strip_prefix('~') {
                if !re.starts_with('/') {
                    errs.push(FieldError::new(
                        &at,
                        "should start with: / (fixed path) or ~/ (regex path)",
                    ));
                } else if let Err(e) = regex::Regex::new(re) {
                    errs.push(FieldError::new(&at, format!("invalid regex: '{re}' ({e})")));
                }
            } else if !p.starts_with('/') {
                errs.push(FieldError::new(
                    &at,
                    "should start with: / (fixed path) or ~/ (regex path)",
                ));
            } else if p.contains("//") {
                errs.push(FieldError::new(&at, "must not have empty segments"));
            }
        }
        for name in self.headers.iter().flat_map(|h| h.keys()) {
            if name.eq_ignore_ascii_case("host") {
                errs.push(FieldError::new(
                    "headers",
                    "cannot contain 'host' header, which must be specified in the 'hosts' attribute",
                ));
            }
        }
        for (i, h) in self.hosts.iter().flatten().enumerate() {
            let wildcards = h.matches('*').count();
            if h.is_empty()
                || wildcards > 1
                || (wildcards == 1 && !h.starts_with("*.") && !h.ends_with(".*"))
            {
                errs.push(FieldError::new(
                    format!("hosts[{i}]"),
                    format!("invalid hostname: {h}"),
                ));
            }
        }
        if self.expression.is_some() || self.priority.is_some() {
            errs.push(FieldError::new(
                if self.expression.is_some() { "expression" } else { "priority" },
                "expression routes need Kong's 'expressions' router flavor; this gateway routes the traditional_compatible way (use paths, hosts, methods, headers)",
            ));
        }
        if !matches!(self.path_handling.as_str(), "v0" | "v1") {
            errs.push(one_of("path_handling", &["v0", "v1"]));
        }
        if ![426, 301, 302, 307, 308].contains(&self.https_redirect_status_code) {
            errs.push(FieldError::new(
                "https_redirect_status_code",
                "expected one of: 426, 301, 302, 307, 308",
            ));
        }
        let is_http = self.protocols.iter().any(|p| p == "http" || p == "https");
        let set = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
        let headers_set = self.headers.as_ref().is_some_and(|h| !h.is_empty());
        if is_http
            && self.expression.is_none()
            && !(set(&self.methods)
                || set(&self.hosts)
                || set(&self.paths)
                || headers_set
                || set(&self.snis))
        {
            let https = self.protocols.iter().any(|p| p == "https");
            let msg = if https {
                "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"
            } else {
                "must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'"
            };
            errs.push(FieldError::new("@entity", msg));
        }
        if let Some(name) = &self.name {
            errs.extend(check_name("name", name));
        }
        errs.extend(super::rules::route(self));
        errs
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consumer {
    pub id: Uuid,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub custom_id: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub updated_at: Option<i64>,
}

impl Consumer {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = self.field_rules();
        errs.extend(super::tags::check(&self.tags));
        errs
    }

    fn field_rules(&self) -> Vec<FieldError> {
        let empty = |v: &Option<String>| v.as_deref().is_none_or(str::is_empty);
        if empty(&self.username) && empty(&self.custom_id) {
            return vec![FieldError::new(
                "@entity",
                "at least one of these fields must be non-empty: 'custom_id', 'username'",
            )];
        }
        Vec::new()
    }
}

/// A key-auth credential (`/key-auths`; `keyauth_credentials` in decK files).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAuthCredential {
    pub id: Uuid,
    pub consumer: ForeignKey,
    pub key: String,
    #[serde(default)]
    pub ttl: Option<u64>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<i64>,
}

impl KeyAuthCredential {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = self.field_rules();
        errs.extend(super::tags::check(&self.tags));
        errs
    }

    fn field_rules(&self) -> Vec<FieldError> {
        if self.key.is_empty() {
            return vec![FieldError::new("key", "length must be at least 1")];
        }
        Vec::new()
    }
}

pub(crate) fn check_name(field: &str, name: &str) -> Option<FieldError> {
    let ok = !name.is_empty()
        && name.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '~') || !c.is_ascii()
        });
    (!ok).then(|| {
        FieldError::new(
            field,
            format!("invalid value '{name}': the only accepted ascii characters are alphanumerics or ., -, _, and ~"),
        )
    })
}

pub(crate) fn one_of(field: &str, allowed: &[&str]) -> FieldError {
    FieldError::new(field, format!("expected one of: {}", allowed.join(", ")))
}

pub(crate) fn between(
    field: &str,
    lo: impl std::fmt::Display,
    hi: impl std::fmt::Display,
) -> FieldError {
    FieldError::new(field, format!("value should be between {lo} and {hi}"))
}

fn default_protocol() -> String {
    "http".into()
}
fn default_port() -> u16 {
    80
}
fn default_retries() -> u32 {
    5
}
fn default_timeout() -> u64 {
    60_000
}
pub(crate) fn yes() -> bool {
    true
}
fn default_route_protocols() -> Vec<String> {
    vec!["http".into(), "https".into()]
}
pub(crate) fn default_plugin_protocols() -> Vec<String> {
    ["grpc", "grpcs", "http", "https"]
        .map(String::from)
        .to_vec()
}
fn default_path_handling() -> String {
    "v0".into()
}
fn default_redirect() -> u16 {
    426
}
