//! `ai-mcp-proxy` config (Kong 3.15 field names and defaults). Only the `passthrough-listener`
//! mode runs in this gateway: MCP Streamable HTTP proxied to the service's MCP server.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::schema::error::FieldError;

/// [unverified] Kong does not document this plugin's handler priority; it runs after auth
/// and before the LLM plugins would.
pub const PRIORITY: i32 = 765;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiMcpProxyConfig {
    pub mode: String,
    #[serde(default)]
    pub logging: McpLogging,
    #[serde(default = "default_max_body")]
    pub max_request_body_size: u64,
    #[serde(default, deserialize_with = "super::ai::record_defaults::mcp_server")]
    pub server: Option<Value>,
    #[serde(default)]
    pub tools: Option<Vec<Value>>,
    #[serde(default)]
    pub default_acl: Option<Vec<Value>>,
    #[serde(default = "default_acl_attribute_type")]
    pub acl_attribute_type: String,
    #[serde(default = "default_consumer_identifier")]
    pub consumer_identifier: String,
    #[serde(default)]
    pub include_consumer_groups: bool,
    #[serde(default)]
    pub access_token_claim_field: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpLogging {
    #[serde(default)]
    pub log_statistics: bool,
    #[serde(default)]
    pub log_payloads: bool,
    #[serde(default)]
    pub log_audits: bool,
}

impl AiMcpProxyConfig {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        const MODES: &[&str] = &[
            "conversion-listener",
            "conversion-only",
            "listener",
            "passthrough-listener",
        ];
        if !MODES.contains(&self.mode.as_str()) {
            errs.push(FieldError::new(
                "mode",
                format!("expected one of: {}", MODES.join(", ")),
            ));
        } else if self.mode != "passthrough-listener" {
            errs.push(FieldError::new(
                "mode",
                format!(
                    "mode '{}' is not supported by this gateway yet (supported: passthrough-listener)",
                    self.mode
                ),
            ));
        }
        if self.tools.as_ref().is_some_and(|t| !t.is_empty()) {
            errs.push(FieldError::new(
                "tools",
                "tools (conversion modes) are not supported by this gateway yet",
            ));
        }
        if self.default_acl.as_ref().is_some_and(|a| !a.is_empty()) {
            errs.push(FieldError::new(
                "default_acl",
                "MCP ACLs are not supported by this gateway yet",
            ));
        }
        errs
    }
}

fn default_max_body() -> u64 {
    1_048_576
}
fn default_acl_attribute_type() -> String {
    "consumer".into()
}
fn default_consumer_identifier() -> String {
    "username".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_passthrough_runs() {
        let ok: AiMcpProxyConfig =
            serde_json::from_value(json!({"mode": "passthrough-listener"})).unwrap();
        assert!(ok.validate().is_empty());
        assert_eq!(ok.max_request_body_size, 1_048_576);
        let conv: AiMcpProxyConfig =
            serde_json::from_value(json!({"mode": "conversion-listener"})).unwrap();
        assert_eq!(conv.validate()[0].path, "mode");
        let bad: AiMcpProxyConfig = serde_json::from_value(json!({"mode": "x"})).unwrap();
        assert!(bad.validate()[0]
            .to_string()
            .contains("passthrough-listener"));
    }
}
