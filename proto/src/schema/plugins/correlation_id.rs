//! `correlation-id` config (Kong 3.15 schema): the header that carries a request's correlation
//! id, how a missing one is generated, and whether it is echoed to the client.

use serde::{Deserialize, Serialize};

use crate::schema::error::FieldError;

/// Kong's handler priority: runs before every other plugin.
pub const PRIORITY: i32 = 100001;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Generator {
    #[serde(rename = "uuid")]
    Uuid,
    #[serde(rename = "uuid#counter")]
    UuidCounter,
    #[serde(rename = "tracker")]
    Tracker,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrelationIdConfig {
    #[serde(default = "default_header_name")]
    pub header_name: String,
    #[serde(default = "default_generator")]
    pub generator: Generator,
    #[serde(default)]
    pub echo_downstream: bool,
}

impl Default for CorrelationIdConfig {
    fn default() -> Self {
        Self {
            header_name: default_header_name(),
            generator: default_generator(),
            echo_downstream: false,
        }
    }
}

impl CorrelationIdConfig {
    /// Kong's schema only asks for a string; a name that cannot be an HTTP header is refused
    /// here rather than failing every request.
    pub fn validate(&self) -> Vec<FieldError> {
        if is_header_name(&self.header_name) {
            Vec::new()
        } else {
            vec![FieldError::new("header_name", "bad header name")]
        }
    }
}

/// An RFC 7230 token, as header names must be.
pub fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn default_header_name() -> String {
    "Kong-Request-ID".into()
}

fn default_generator() -> Generator {
    Generator::UuidCounter
}

#[cfg(test)]
mod tests {
    use crate::schema::plugins::PluginConfig;
    use serde_json::json;

    #[test]
    fn defaults_match_kong() {
        let v = PluginConfig::parse("correlation-id", &json!({}))
            .unwrap()
            .to_value();
        assert_eq!(
            v,
            json!({"header_name": "Kong-Request-ID", "generator": "uuid#counter", "echo_downstream": false})
        );
    }

    #[test]
    fn bad_generator_and_header_are_refused() {
        let e =
            PluginConfig::parse("correlation-id", &json!({"generator": "snowflake"})).unwrap_err();
        assert_eq!(e[0].path, "config.generator");
        let e = PluginConfig::parse("correlation-id", &json!({"header_name": "a b"})).unwrap_err();
        assert_eq!(e[0].path, "config.header_name");
        assert_eq!(e[0].message, "bad header name");
    }
}
