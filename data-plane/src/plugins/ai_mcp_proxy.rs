//! `ai-mcp-proxy` in `passthrough-listener` mode, access phase: the MCP Streamable HTTP request
//! goes to the service untouched (SSE answers stream back unbuffered, `Mcp-Session-Id` and
//! `MCP-Protocol-Version` pass both ways, so sessions live upstream and any DP replica can
//! serve any request of a session); the JSON-RPC method and tool name are read for the log
//! phase's `kong_ai_mcp_*` metrics.

use proto::schema::plugins::ai_mcp_proxy::AiMcpProxyConfig;
use serde_json::Value;

/// A compiled `ai-mcp-proxy` instance.
#[derive(Debug, Clone)]
pub struct McpProxy {
    pub max_request_body_size: u64,
    pub log_statistics: bool,
}

/// What the log phase records about one MCP request (Kong's `ai.mcp.rpc[]` entry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct McpRpc {
    /// The JSON-RPC method (`initialize`, `tools/call`, …); `""` for a body that is not one.
    pub method: String,
    /// `params.name` of a `tools/call`, else `""`.
    pub tool_name: String,
    /// The body was not JSON-RPC (counted as a "Parse error").
    pub parse_error: bool,
    /// The JSON-RPC error the answer carried (`Invalid params`, `Tool error`, …), set when the
    /// response ends.
    pub rpc_error: Option<String>,
    pub log_statistics: bool,
}

impl McpProxy {
    pub fn new(c: &AiMcpProxyConfig) -> Self {
        McpProxy {
            max_request_body_size: c.max_request_body_size,
            log_statistics: c.logging.log_statistics,
        }
    }

    /// The most body bytes read; a longer body is refused (0 = unlimited).
    pub fn body_limit(&self) -> usize {
        match self.max_request_body_size {
            0 => usize::MAX,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        }
    }

    /// Kong's body for a request over `max_request_body_size`.
    pub fn too_large(&self) -> String {
        serde_json::json!({"error": {"message": format!(
            "request body is larger than max_request_body_size ({} bytes)",
            self.max_request_body_size
        )}})
        .to_string()
    }

    /// Reads a POSTed JSON-RPC message (a batch counts as its first message).
    pub fn observe(&self, body: &[u8]) -> McpRpc {
        let v: Option<Value> = serde_json::from_slice(body).ok();
        let msg = match &v {
            Some(Value::Array(a)) => a.first(),
            other => other.as_ref(),
        };
        let method = msg.and_then(|m| m["method"].as_str());
        McpRpc {
            method: method.unwrap_or("").to_string(),
            tool_name: match method {
                Some("tools/call") => msg
                    .and_then(|m| m["params"]["name"].as_str())
                    .unwrap_or("")
                    .to_string(),
                _ => String::new(),
            },
            parse_error: msg.is_none_or(|m| m.get("jsonrpc").is_none()),
            rpc_error: None,
            log_statistics: self.log_statistics,
        }
    }
}

impl McpRpc {
    /// The `type` of `kong_ai_mcp_error_total` for a response status, when it is an error.
    pub fn error_type(&self, status: u16) -> Option<String> {
        if self.parse_error {
            return Some("Parse error".into());
        }
        if let Some(e) = &self.rpc_error {
            return Some(e.clone());
        }
        (status >= 400).then(|| {
            http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("HTTP error")
                .to_string()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy() -> McpProxy {
        McpProxy {
            max_request_body_size: 1024,
            log_statistics: true,
        }
    }

    #[test]
    fn methods_and_tool_names() {
        let call = proxy().observe(
            br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"add","arguments":{}}}"#,
        );
        assert_eq!(
            (call.method.as_str(), call.tool_name.as_str()),
            ("tools/call", "add")
        );
        assert_eq!(call.error_type(200), None);
        assert_eq!(call.error_type(404).as_deref(), Some("Not Found"));
        let init = proxy().observe(br#"[{"jsonrpc":"2.0","id":1,"method":"initialize"}]"#);
        assert_eq!(
            (init.method.as_str(), init.tool_name.as_str()),
            ("initialize", "")
        );
        let mut tool_failed = call.clone();
        tool_failed.rpc_error = Some("Tool error".into());
        assert_eq!(tool_failed.error_type(200).as_deref(), Some("Tool error"));
        let bad = proxy().observe(b"nope");
        assert_eq!(bad.error_type(200).as_deref(), Some("Parse error"));
    }
}
