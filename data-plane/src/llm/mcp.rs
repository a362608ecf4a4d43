//! MCP observed in Responses API traffic: the `mcp_list_tools` and `mcp_call` output items of a
//! reply (the `output` array, or each `response.output_item.done` event of a stream), reduced
//! to what the log and `kong_ai_llm_mcp_calls_total` record.

use serde_json::Value;

/// One MCP output item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpItem {
    /// `mcp_list_tools` or `mcp_call`.
    pub kind: String,
    pub server_label: String,
    /// The called tool (`""` for `mcp_list_tools`).
    pub tool: String,
    /// `completed`, `failed`, `incomplete`, … (`failed` when the item carries an error).
    pub status: String,
    /// The error message or type, when any.
    pub error: Option<String>,
}

impl McpItem {
    /// The item when `v` is an MCP output item.
    pub fn from_item(v: &Value) -> Option<McpItem> {
        let kind = v["type"].as_str()?;
        if !matches!(kind, "mcp_list_tools" | "mcp_call") {
            return None;
        }
        let error = match &v["error"] {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            e => Some(
                e["message"]
                    .as_str()
                    .or_else(|| e["type"].as_str())
                    .unwrap_or("error")
                    .to_string(),
            ),
        };
        let status = match (&error, v["status"].as_str()) {
            (Some(_), _) => "failed",
            (None, Some(s)) => s,
            (None, None) => "completed",
        };
        Some(McpItem {
            kind: kind.to_string(),
            server_label: v["server_label"].as_str().unwrap_or("").to_string(),
            tool: v["name"].as_str().unwrap_or("").to_string(),
            status: status.to_string(),
            error,
        })
    }

    /// The MCP items of a non-streamed Responses API reply.
    pub fn from_response(v: &Value) -> Vec<McpItem> {
        v["output"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(McpItem::from_item)
            .collect()
    }

    /// The MCP item finished by one stream event (`response.output_item.done`).
    pub fn from_event(v: &Value) -> Option<McpItem> {
        (v["type"] == "response.output_item.done")
            .then(|| McpItem::from_item(&v["item"]))
            .flatten()
    }

    pub fn to_log_json(&self) -> Value {
        serde_json::json!({
            "type": self.kind, "server_label": self.server_label, "tool": self.tool,
            "status": self.status, "error": self.error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_of_a_reply() {
        let v = json!({"object": "response", "output": [
            {"type": "mcp_list_tools", "id": "l1", "server_label": "gitmcp", "tools": [{"name": "a"}]},
            {"type": "mcp_call", "id": "c1", "server_label": "gitmcp", "name": "search", "arguments": "{}",
             "output": "ok", "error": null, "status": "completed"},
            {"type": "mcp_call", "id": "c2", "server_label": "gitmcp", "name": "fetch", "arguments": "{}",
             "error": {"type": "mcp_tool_execution_error", "content": []}},
            {"type": "message", "content": []}
        ]});
        let items = McpItem::from_response(&v);
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].kind, "mcp_list_tools");
        assert_eq!(items[0].tool, "");
        assert_eq!(items[1].status, "completed");
        assert_eq!(items[2].status, "failed");
        assert_eq!(items[2].error.as_deref(), Some("mcp_tool_execution_error"));
    }

    #[test]
    fn items_of_a_stream() {
        let done = json!({"type": "response.output_item.done", "output_index": 1,
            "item": {"type": "mcp_call", "server_label": "s", "name": "t", "status": "failed",
                     "error": {"type": "http_error", "code": 500, "message": "upstream 500"}}});
        let item = McpItem::from_event(&done).unwrap();
        assert_eq!((item.tool.as_str(), item.status.as_str()), ("t", "failed"));
        assert_eq!(item.error.as_deref(), Some("upstream 500"));
        let added = json!({"type": "response.output_item.added", "item": {"type": "mcp_call"}});
        assert_eq!(McpItem::from_event(&added), None);
    }
}
