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
}

impl KeyAuthConfig {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if self.key_names.is_empty() {
            errs.push(FieldError::new("key_names", "length must be at least 1"));
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

fn default_key_names() -> Vec<String> {
    vec!["apikey".into()]
}

fn yes() -> bool {
    true
}
