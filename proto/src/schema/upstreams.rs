//! Upstreams (load-balanced virtual hosts) and their targets, as the Admin API returns them.
//! Health-check settings are kept as Kong's nested record with every default filled.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::entities::{between, one_of, ForeignKey};
use super::error::FieldError;

const ALGORITHMS: &[&str] = &[
    "consistent-hashing",
    "latency",
    "least-connections",
    "round-robin",
    "sticky-sessions",
];
const HASH_ON: &[&str] = &[
    "consumer",
    "cookie",
    "header",
    "ip",
    "none",
    "path",
    "query_arg",
    "uri_capture",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    pub id: Uuid,
    pub name: String,
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    #[serde(default = "none")]
    pub hash_on: String,
    #[serde(default = "none")]
    pub hash_fallback: String,
    #[serde(default)]
    pub hash_on_header: Option<String>,
    #[serde(default)]
    pub hash_fallback_header: Option<String>,
    #[serde(default)]
    pub hash_on_cookie: Option<String>,
    #[serde(default = "slash")]
    pub hash_on_cookie_path: String,
    #[serde(default)]
    pub hash_on_query_arg: Option<String>,
    #[serde(default)]
    pub hash_fallback_query_arg: Option<String>,
    #[serde(default)]
    pub hash_on_uri_capture: Option<String>,
    #[serde(default)]
    pub hash_fallback_uri_capture: Option<String>,
    #[serde(default = "default_slots")]
    pub slots: u32,
    #[serde(default = "super::healthchecks::defaults")]
    pub healthchecks: Value,
    #[serde(default)]
    pub host_header: Option<String>,
    #[serde(default)]
    pub client_certificate: Option<ForeignKey>,
    #[serde(default)]
    pub use_srv_name: bool,
    #[serde(default)]
    pub sticky_sessions_cookie: Option<String>,
    #[serde(default = "slash")]
    pub sticky_sessions_cookie_path: String,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub updated_at: Option<i64>,
}

impl Upstream {
    /// Fills health-check defaults under whatever the user gave, then checks Kong's rules.
    pub fn normalize_and_validate(&mut self) -> Vec<FieldError> {
        if super::scalars::mode() == super::scalars::Scalars::Inferred {
            super::healthchecks::infer_text(&mut self.healthchecks);
        }
        self.healthchecks = super::healthchecks::filled(std::mem::take(&mut self.healthchecks));
        let mut errs = super::healthchecks::check(&self.healthchecks);
        errs.extend(super::tags::check(&self.tags));
        if self.name.is_empty()
            || self.name.contains(':')
            || self.name.parse::<std::net::IpAddr>().is_ok()
        {
            errs.push(FieldError::new(
                "name",
                "Invalid name; must be a valid hostname",
            ));
        }
        if !ALGORITHMS.contains(&self.algorithm.as_str()) {
            errs.push(one_of("algorithm", ALGORITHMS));
        }
        for (field, v) in [
            ("hash_on", &self.hash_on),
            ("hash_fallback", &self.hash_fallback),
        ] {
            if !HASH_ON.contains(&v.as_str()) {
                errs.push(one_of(field, HASH_ON));
            }
        }
        if self.hash_on == "header" && self.hash_on_header.is_none() {
            errs.push(FieldError::new("hash_on_header", "required field missing"));
        }
        if self.hash_on == "cookie" && self.hash_on_cookie.is_none() {
            errs.push(FieldError::new("hash_on_cookie", "required field missing"));
        }
        // Kong: the field naming what to hash on must be present for query_arg and uri_capture.
        for (kind, on, field, value) in [
            (
                "query_arg",
                &self.hash_on,
                "hash_on_query_arg",
                &self.hash_on_query_arg,
            ),
            (
                "query_arg",
                &self.hash_fallback,
                "hash_fallback_query_arg",
                &self.hash_fallback_query_arg,
            ),
            (
                "uri_capture",
                &self.hash_on,
                "hash_on_uri_capture",
                &self.hash_on_uri_capture,
            ),
            (
                "uri_capture",
                &self.hash_fallback,
                "hash_fallback_uri_capture",
                &self.hash_fallback_uri_capture,
            ),
        ] {
            if on == kind && value.is_none() {
                errs.push(FieldError::new(field, "required field missing"));
            }
        }
        if self.hash_on == "none" && self.hash_fallback != "none" {
            errs.push(FieldError::new(
                "hash_fallback",
                "must be 'none' when 'hash_on' is 'none'",
            ));
        }
        if !(10..=65536).contains(&self.slots) {
            errs.push(between("slots", 10, 65536));
        }
        errs
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub id: Uuid,
    pub upstream: ForeignKey,
    pub target: String,
    #[serde(default = "default_weight")]
    pub weight: u32,
    #[serde(default)]
    pub failover: bool,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<f64>,
    #[serde(default)]
    pub updated_at: Option<f64>,
}

impl Target {
    /// Appends Kong's default port (8000) when none is given, then checks the fields.
    pub fn normalize_and_validate(&mut self) -> Vec<FieldError> {
        let mut errs = super::tags::check(&self.tags);
        let has_port = match self.target.strip_prefix('[') {
            Some(v6) => v6.contains("]:"),
            None => self.target.matches(':').count() == 1,
        };
        if self.target.is_empty() {
            errs.push(FieldError::new("target", "required field missing"));
        } else if !has_port && !self.target.contains("::") {
            self.target = format!("{}:8000", self.target);
        }
        if self.weight > 65535 {
            errs.push(between("weight", 0, 65535));
        }
        errs
    }
}

fn default_algorithm() -> String {
    "round-robin".into()
}
fn none() -> String {
    "none".into()
}
fn slash() -> String {
    "/".into()
}
fn default_slots() -> u32 {
    10_000
}
fn default_weight() -> u32 {
    100
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn healthcheck_defaults_fill_under_partial_input() {
        let mut u: Upstream = serde_json::from_value(json!({
            "id": Uuid::nil(), "name": "up1", "healthchecks": {"active": {"healthy": {"interval": 5}}}
        }))
        .unwrap();
        assert!(u.normalize_and_validate().is_empty());
        assert_eq!(u.healthchecks["active"]["healthy"]["interval"], 5);
        assert_eq!(
            u.healthchecks["active"]["healthy"]["http_statuses"],
            json!([200, 302])
        );
        assert_eq!(
            u.healthchecks["passive"]["unhealthy"]["http_statuses"],
            json!([429, 500, 503])
        );
    }

    #[test]
    fn upstream_rules() {
        let mut u: Upstream = serde_json::from_value(
            json!({"id": Uuid::nil(), "name": "10.0.0.1", "hash_on": "header", "slots": 5}),
        )
        .unwrap();
        let paths: Vec<String> = u
            .normalize_and_validate()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(paths, ["name", "hash_on_header", "slots"]);
        let mut u: Upstream = serde_json::from_value(json!({"id": Uuid::nil(), "name": "u",
            "hash_on": "uri_capture", "hash_fallback": "query_arg"}))
        .unwrap();
        let paths: Vec<String> = u
            .normalize_and_validate()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(paths, ["hash_fallback_query_arg", "hash_on_uri_capture"]);
        let mut u: Upstream = serde_json::from_value(json!({"id": Uuid::nil(), "name": "u",
            "hash_on": "uri_capture", "hash_on_uri_capture": "tenant",
            "hash_fallback": "uri_capture", "hash_fallback_uri_capture": "user"}))
        .unwrap();
        assert!(u.normalize_and_validate().is_empty());
    }

    #[test]
    fn target_gets_default_port() {
        let mut t: Target = serde_json::from_value(
            json!({"id": Uuid::nil(), "upstream": {"id": Uuid::nil()}, "target": "10.0.0.1"}),
        )
        .unwrap();
        assert!(t.normalize_and_validate().is_empty());
        assert_eq!(t.target, "10.0.0.1:8000");
        t.target = "example.com:81".into();
        t.normalize_and_validate();
        assert_eq!(t.target, "example.com:81");
    }
}
