//! The OpenAI Responses API (`POST /v1/responses`): a response object with an `mcp_list_tools`
//! item when the request carries an `mcp` tool (plus `mcp_call` items when its `allowed_tools`
//! asks, see `mcp_calls`), a message item, and usage; or its SSE stream.

use serde_json::{json, Value};

use super::openai::{content_text, estimate_tokens, now, Reply};
use super::sse;

/// Tools the mock pretends an MCP server lists.
const MCP_TOOLS: &[(&str, &str)] = &[
    (
        "get_file_contents",
        "Get the contents of a file or directory from a GitHub repository",
    ),
    ("search_repositories", "Search for GitHub repositories"),
    (
        "list_commits",
        "Get list of commits of a branch in a GitHub repository",
    ),
];

/// The text of `input`: a string, or an array of items whose `content` holds text.
fn input_text(request: &Value) -> String {
    match request.get("input") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i.get("content") {
                Some(c) => content_text(c),
                None => content_text(i),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The request's tools as a response echoes them (MCP headers are not echoed back).
fn echoed_tools(request: &Value) -> Vec<Value> {
    let tools = request.get("tools").and_then(Value::as_array);
    tools
        .map(|t| {
            t.iter()
                .map(|tool| {
                    let mut tool = tool.clone();
                    if let Some(obj) = tool.as_object_mut() {
                        if obj.contains_key("headers") {
                            obj.insert("headers".into(), Value::Null);
                        }
                    }
                    tool
                })
                .collect()
        })
        .unwrap_or_default()
}

fn mcp_labels(request: &Value) -> Vec<String> {
    echoed_tools(request)
        .iter()
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("mcp"))
        .map(|t| {
            t.get("server_label")
                .and_then(Value::as_str)
                .unwrap_or("mcp")
                .to_string()
        })
        .collect()
}

fn list_tools_item(label: &str, id: u64, n: usize) -> Value {
    let tools: Vec<Value> = MCP_TOOLS
        .iter()
        .map(|(name, description)| {
            json!({
                "name": name,
                "description": description,
                "input_schema": {"type": "object", "properties": {}, "additionalProperties": false},
                "annotations": {"read_only": true},
            })
        })
        .collect();
    json!({
        "id": format!("mcpl_mock{id:06}_{n}"),
        "type": "mcp_list_tools",
        "server_label": label,
        "tools": tools,
        "error": null,
    })
}

fn message_item(id: u64, text: &str, status: &str) -> Value {
    json!({
        "id": format!("msg_mock{id:06}"),
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    })
}

/// The answer and its `usage.total_tokens`.
pub fn answer(request: &Value, model: &str, id: u64, stream: bool) -> (Reply, u64) {
    let labels = mcp_labels(request);
    let names: Vec<&str> = MCP_TOOLS.iter().map(|(n, _)| *n).collect();
    let text = if labels.is_empty() {
        format!(
            "This is the mock LLM answering: {}",
            input_text(request).chars().take(60).collect::<String>()
        )
    } else {
        format!(
            "The {} MCP server offers these tools: {}.",
            labels.join(", "),
            names.join(", ")
        )
    };
    let tools = echoed_tools(request);
    let input_tokens = estimate_tokens(&input_text(request)) + 20 * tools.len() as u64;
    let output_tokens = estimate_tokens(&text);
    let total = input_tokens + output_tokens;
    let mut output: Vec<Value> = labels
        .iter()
        .enumerate()
        .map(|(n, label)| list_tools_item(label, id, n))
        .collect();
    output.extend(super::mcp_calls::items(request, id));
    output.push(message_item(id, &text, "completed"));
    let usage = json!({
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": total,
    });
    let completed = json!({
        "id": format!("resp_mock{id:06}"),
        "object": "response",
        "created_at": now(),
        "status": "completed",
        "error": null,
        "incomplete_details": null,
        "instructions": request.get("instructions").cloned().unwrap_or(Value::Null),
        "max_output_tokens": request.get("max_output_tokens").cloned().unwrap_or(Value::Null),
        "model": model,
        "output": output,
        "parallel_tool_calls": true,
        "previous_response_id": null,
        "store": true,
        "temperature": request.get("temperature").cloned().unwrap_or(json!(1.0)),
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": tools,
        "top_p": request.get("top_p").cloned().unwrap_or(json!(1.0)),
        "truncation": "disabled",
        "usage": usage,
        "user": null,
        "metadata": {},
    });
    if !stream {
        let reply = Reply::Json {
            status: hyper::StatusCode::OK,
            body: completed,
        };
        return (reply, total);
    }
    (
        Reply::Stream {
            events: stream_events(&completed, id, &text),
        },
        total,
    )
}

/// `response.created`, `response.in_progress`, the output items, text deltas, `response.completed`.
fn stream_events(completed: &Value, id: u64, text: &str) -> Vec<String> {
    let mut seq = 0u64;
    let mut next = || {
        seq += 1;
        seq - 1
    };
    let mut in_progress = completed.clone();
    in_progress["status"] = json!("in_progress");
    in_progress["output"] = json!([]);
    in_progress["usage"] = Value::Null;
    let mut events = vec![
        sse::named(
            "response.created",
            &json!({"type": "response.created", "sequence_number": next(), "response": in_progress}),
        ),
        sse::named(
            "response.in_progress",
            &json!({"type": "response.in_progress", "sequence_number": next(), "response": in_progress}),
        ),
    ];
    let items = completed["output"].as_array().cloned().unwrap_or_default();
    let message_index = items.len().saturating_sub(1);
    for (index, item) in items.iter().take(message_index).enumerate() {
        for kind in ["response.output_item.added", "response.output_item.done"] {
            events.push(sse::named(kind, &json!({"type": kind, "sequence_number": next(), "output_index": index, "item": item})));
        }
    }
    let item_id = format!("msg_mock{id:06}");
    let mut added = message_item(id, "", "in_progress");
    added["content"] = json!([]);
    events.push(sse::named("response.output_item.added", &json!({"type": "response.output_item.added", "sequence_number": next(), "output_index": message_index, "item": added})));
    let part = |t: &str| json!({"type": "output_text", "text": t, "annotations": []});
    events.push(sse::named("response.content_part.added", &json!({"type": "response.content_part.added", "sequence_number": next(), "item_id": item_id, "output_index": message_index, "content_index": 0, "part": part("")})));
    for delta in sse::deltas(text) {
        events.push(sse::named("response.output_text.delta", &json!({"type": "response.output_text.delta", "sequence_number": next(), "item_id": item_id, "output_index": message_index, "content_index": 0, "delta": delta, "logprobs": []})));
    }
    events.push(sse::named("response.output_text.done", &json!({"type": "response.output_text.done", "sequence_number": next(), "item_id": item_id, "output_index": message_index, "content_index": 0, "text": text, "logprobs": []})));
    events.push(sse::named("response.content_part.done", &json!({"type": "response.content_part.done", "sequence_number": next(), "item_id": item_id, "output_index": message_index, "content_index": 0, "part": part(text)})));
    events.push(sse::named("response.output_item.done", &json!({"type": "response.output_item.done", "sequence_number": next(), "output_index": message_index, "item": items.get(message_index).cloned().unwrap_or(Value::Null)})));
    events.push(sse::named(
        "response.completed",
        &json!({"type": "response.completed", "sequence_number": next(), "response": completed}),
    ));
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tutorial_request() -> Value {
        json!({
            "model": "gpt-4o",
            "tools": [{"type": "mcp", "server_label": "gitmcp", "server_url": "https://x",
                        "require_approval": "never", "headers": {"Authorization": "Bearer s"}}],
            "input": "tools available with github mcp",
        })
    }

    #[test]
    fn mcp_request_lists_tools_then_answers() {
        let (reply, total) = answer(&tutorial_request(), "gpt-4o", 7, false);
        let Reply::Json { body, .. } = reply else {
            panic!("expected JSON")
        };
        assert_eq!(body["model"], "gpt-4o");
        assert_eq!(body["output"][0]["type"], "mcp_list_tools");
        assert_eq!(body["output"][0]["server_label"], "gitmcp");
        assert_eq!(body["output"][1]["type"], "message");
        assert_eq!(body["tools"][0]["headers"], Value::Null);
        let u = &body["usage"];
        assert_eq!(u["total_tokens"].as_u64().unwrap(), total);
        assert_eq!(
            total,
            u["input_tokens"].as_u64().unwrap() + u["output_tokens"].as_u64().unwrap()
        );
    }

    #[test]
    fn stream_starts_created_and_ends_completed_with_usage() {
        let (reply, total) = answer(&tutorial_request(), "gpt-4", 8, true);
        let Reply::Stream { events } = reply else {
            panic!("expected a stream")
        };
        assert!(events[0].starts_with("event: response.created\n"));
        let last = events.last().unwrap();
        assert!(last.starts_with("event: response.completed\n"));
        assert!(last.contains(&format!("\"total_tokens\":{total}")));
        assert!(events
            .iter()
            .any(|e| e.starts_with("event: response.output_text.delta")));
    }
}
