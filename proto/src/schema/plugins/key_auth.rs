//! `key-auth` config (Kong 3.x schema): where to look for the API key and what to do with it.

use serde::{Deserialize, Serialize};

use crate::schema::error::FieldError;

pub const PRIORITY: i32 = 1250;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAuthConfig {
    #[serde(default = "default_key_names")]
    pub key_names: Vec<String>,
    #[serde(default)]
    pub hide_credentials: bool,
    #[serde(default)]
    pub anonymous: Option<String>,
    #[serde(default = "yes")]
    pub key_in_header: bool,
    #[serde(default = "yes")]
    pub key_in_query: bool,
    #[serde(default)]
    pub key_in_body: bool,
    #[serde(default = "yes")]
    pub run_on_preflight: bool,
    #[serde(default)]
    pub realm: Option<String>,
    /// Where consumers are looked up (Kong 3.10+); only this gateway's own (`cp`) is supported.
    #[serde(default = "default_realms")]
    pub identity_realms: Vec<serde_json::Value>,
    /// Kong Identity principals (3.15); only the default, disabled, is supported.
    #[serde(default = "default_principals")]
    pub principals: serde_json::Value,
}

impl KeyAuthConfig {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if self.key_names.is_empty() {
            errs.push(FieldError::new("key_names", "length must be at least 1"));
        }
        for (i, r) in self.identity_realms.iter().enumerate() {
            if r.get("scope").and_then(|s| s.as_str()) != Some("cp") {
                errs.push(FieldError::new(
                    format!("identity_realms[{i}]"),
                    "only the 'cp' realm (consumers of this control plane) is supported",
                ));
            }
        }
        if self.principals.get("enabled").and_then(|e| e.as_bool()) == Some(true) {
            errs.push(FieldError::new(
                "principals.enabled",
                "Kong Identity principals are not supported by this gateway",
            ));
        }
        for (i, k) in self.key_names.iter().enumerate() {
            let ok = !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !ok {
                errs.push(FieldError::new(
                    format!("key_names[{i}]"),
                    "bad header name",
                ));
            }
        }
        errs
    }
}

fn default_principals() -> serde_json::Value {
    serde_json::json!({"directory": "default", "enabled": false, "error_on_miss": true})
}

fn default_realms() -> Vec<serde_json::Value> {
    vec![serde_json::json!({"id": null, "region": null, "scope": "cp"})]
}

fn default_key_names() -> Vec<String> {
    vec!["apikey".into()]
}

fn yes() -> bool {
    true
}
