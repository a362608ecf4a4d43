//! `cors` config (Kong 3.15 schema): allowed origins (exact or regex), methods, headers, and the
//! preflight answer's details.

use serde::{Deserialize, Serialize};

use crate::schema::error::FieldError;

pub const PRIORITY: i32 = 2000;

/// Methods Kong accepts in `methods`, in its default order.
pub const METHODS: [&str; 9] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    CONNECT,
    DELETE,
    GET,
    HEAD,
    OPTIONS,
    PATCH,
    POST,
    PUT,
    TRACE,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CONNECT => "CONNECT",
            Self::DELETE => "DELETE",
            Self::GET => "GET",
            Self::HEAD => "HEAD",
            Self::OPTIONS => "OPTIONS",
            Self::PATCH => "PATCH",
            Self::POST => "POST",
            Self::PUT => "PUT",
            Self::TRACE => "TRACE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    #[serde(default)]
    pub origins: Option<Vec<String>>,
    #[serde(default)]
    pub headers: Option<Vec<String>>,
    #[serde(default)]
    pub exposed_headers: Option<Vec<String>>,
    #[serde(default = "default_methods")]
    pub methods: Vec<Method>,
    #[serde(default)]
    pub max_age: Option<f64>,
    #[serde(default)]
    pub credentials: bool,
    #[serde(default)]
    pub private_network: bool,
    #[serde(default)]
    pub preflight_continue: bool,
    #[serde(default = "yes")]
    pub allow_origin_absent: bool,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self {
            origins: None,
            headers: None,
            exposed_headers: None,
            methods: default_methods(),
            max_age: None,
            credentials: false,
            private_network: false,
            preflight_continue: false,
            allow_origin_absent: true,
        }
    }
}

impl CorsConfig {
    /// Kong's `validate_asterisk_or_regex`: each origin is `*` or a valid regex.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        for (i, o) in self.origins.iter().flatten().enumerate() {
            if o != "*" && regex::Regex::new(o).is_err() {
                errs.push(FieldError::new(
                    format!("origins[{i}]"),
                    format!("'{o}' is not a valid regex"),
                ));
            }
        }
        errs
    }
}

fn default_methods() -> Vec<Method> {
    use Method::*;
    vec![CONNECT, DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, TRACE]
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use crate::schema::plugins::PluginConfig;
    use serde_json::json;

    #[test]
    fn defaults_match_kong() {
        let v = PluginConfig::parse("cors", &json!({})).unwrap().to_value();
        assert_eq!(v["methods"], json!(super::METHODS));
        assert_eq!(v["allow_origin_absent"], true);
        assert_eq!(v["credentials"], false);
        assert_eq!(v["origins"], serde_json::Value::Null);
        assert_eq!(v["max_age"], serde_json::Value::Null);
    }

    #[test]
    fn bad_origin_regex_and_method_are_refused() {
        let e = PluginConfig::parse("cors", &json!({"origins": ["*", "http://(a"]})).unwrap_err();
        assert_eq!(e[0].path, "config.origins[1]");
        assert_eq!(e[0].message, "'http://(a' is not a valid regex");
        let e = PluginConfig::parse("cors", &json!({"methods": ["FETCH"]})).unwrap_err();
        assert_eq!(e[0].path, "config.methods[0]");
    }

    #[test]
    fn cors_cannot_be_scoped_to_a_consumer() {
        assert!(!PluginConfig::parse("cors", &json!({}))
            .unwrap()
            .allows_consumer_scope());
    }
}
