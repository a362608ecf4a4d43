//! `mcp_call` output items of the mock Responses API, made on request: an `mcp` tool with an
//! `allowed_tools` list gets one call per listed tool, after its `mcp_list_tools` item. A tool
//! whose name starts with `fail` comes back failed with an `mcp_tool_execution_error`.

use serde_json::{json, Value};

/// The `mcp_call` items a request asks for, in tool order.
pub fn items(request: &Value, id: u64) -> Vec<Value> {
    let tools = request.get("tools").and_then(Value::as_array);
    let mut out = Vec::new();
    for tool in tools.into_iter().flatten() {
        if tool.get("type").and_then(Value::as_str) != Some("mcp") {
            continue;
        }
        let label = tool
            .get("server_label")
            .and_then(Value::as_str)
            .unwrap_or("mcp");
        let names = tool
            .get("allowed_tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str);
        for name in names {
            let n = out.len();
            let failed = name.starts_with("fail");
            out.push(json!({
                "id": format!("mcp_mock{id:06}_{n}"),
                "type": "mcp_call",
                "server_label": label,
                "name": name,
                "arguments": "{}",
                "output": if failed { Value::Null } else { json!(format!("{name}: ok")) },
                "error": if failed {
                    json!({"type": "mcp_tool_execution_error", "content": [{"type": "text", "text": "tool failed"}]})
                } else {
                    Value::Null
                },
                "status": if failed { "failed" } else { "completed" },
                "approval_request_id": null,
            }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_call_per_allowed_tool() {
        let req = json!({"tools": [
            {"type": "mcp", "server_label": "gh", "allowed_tools": ["search", "fail_me"]},
            {"type": "function", "name": "f"}
        ]});
        let items = items(&req, 7);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["status"], "completed");
        assert_eq!(items[0]["server_label"], "gh");
        assert_eq!(items[1]["status"], "failed");
        assert_eq!(items[1]["error"]["type"], "mcp_tool_execution_error");
        assert!(super::items(&json!({"tools": [{"type": "mcp"}]}), 1).is_empty());
    }
}
