//! Anthropic provider (Messages API): OpenAI chat body → `/v1/messages` body, the reply back to
//! a `chat.completion`, and its SSE events (`message_start` … `message_stop`) to OpenAI chunks.

use serde_json::{json, Map, Value};

use super::chunk::{self, Chunks};
use super::error::TranslateError;
use super::stream::Translate;
use super::Usage;

pub const BASE: &str = "https://api.anthropic.com:443";
pub const CHAT_PATH: &str = "/v1/messages";
pub const DEFAULT_VERSION: &str = "2023-06-01";
/// Anthropic requires `max_tokens`; used when neither client nor config sets one.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// The Messages API body for an OpenAI chat body.
pub fn chat_request(
    body: &Map<String, Value>,
    model: &str,
    top_k: Option<i64>,
    stream: bool,
) -> Result<Value, TranslateError> {
    let msgs = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| TranslateError::BadRequest("'messages' is required".into()))?;
    let mut system = Vec::new();
    let mut messages = Vec::new();
    for m in msgs {
        let content = m.get("content").unwrap_or(&Value::Null);
        match m.get("role").and_then(Value::as_str).unwrap_or("user") {
            "system" | "developer" => system.push(chunk::content_text(content)),
            "assistant" => {
                let mut blocks = Vec::new();
                let text = chunk::content_text(content);
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                for call in m["tool_calls"].as_array().into_iter().flatten() {
                    let args = call["function"]["arguments"].as_str().unwrap_or("{}");
                    let input: Value = serde_json::from_str(args).unwrap_or_else(|_| json!({}));
                    blocks.push(json!({"type": "tool_use", "id": call["id"],
                        "name": call["function"]["name"], "input": input}));
                }
                messages.push(json!({"role": "assistant", "content": blocks}));
            }
            "tool" => messages.push(json!({"role": "user", "content": [{
                "type": "tool_result", "tool_use_id": m["tool_call_id"],
                "content": chunk::content_text(content)}]})),
            _ => messages.push(json!({"role": "user", "content": user_content(content)})),
        }
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    out.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        out.insert("system".into(), json!(system.join("\n")));
    }
    out.insert(
        "max_tokens".into(),
        chunk::max_tokens(body).unwrap_or(json!(DEFAULT_MAX_TOKENS)),
    );
    for k in ["temperature", "top_p"] {
        if let Some(v) = body.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    if let Some(k) = top_k {
        out.insert("top_k".into(), json!(k));
    }
    if let Some(s) = chunk::stop_list(body) {
        out.insert("stop_sequences".into(), s);
    }
    if stream {
        out.insert("stream".into(), json!(true));
    }
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| {
                let f = &t["function"];
                json!({"name": f["name"], "description": f.get("description").cloned().unwrap_or(json!("")),
                       "input_schema": f.get("parameters").cloned().unwrap_or(json!({"type": "object"}))})
            })
            .collect();
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(tc) = body.get("tool_choice") {
        let choice = match tc.as_str() {
            Some("required") => Some(json!({"type": "any"})),
            Some("auto") => Some(json!({"type": "auto"})),
            Some("none") => Some(json!({"type": "none"})),
            _ => tc["function"]["name"]
                .as_str()
                .map(|n| json!({"type": "tool", "name": n})),
        };
        if let Some(c) = choice {
            out.insert("tool_choice".into(), c);
        }
    }
    Ok(Value::Object(out))
}

/// User content: a string stays a string; parts become text and image blocks.
fn user_content(content: &Value) -> Value {
    let Some(parts) = content.as_array() else {
        return json!(chunk::content_text(content));
    };
    let blocks: Vec<Value> = parts
        .iter()
        .filter_map(|p| match p["type"].as_str() {
            Some("text") => Some(json!({"type": "text", "text": p["text"]})),
            Some("image_url") => {
                let url = p["image_url"]["url"].as_str().unwrap_or("");
                Some(match data_url(url) {
                    Some((media, data)) => json!({"type": "image",
                        "source": {"type": "base64", "media_type": media, "data": data}}),
                    None => json!({"type": "image", "source": {"type": "url", "url": url}}),
                })
            }
            _ => None,
        })
        .collect();
    Value::Array(blocks)
}

/// `data:<media>;base64,<data>` → (media, data).
pub fn data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (media, data) = rest.split_once(";base64,")?;
    Some((media, data))
}

/// Anthropic's `stop_reason` as an OpenAI `finish_reason`.
pub fn finish_reason(stop: &str) -> &'static str {
    match stop {
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

fn usage_of(u: &Value) -> Usage {
    let n = |k: &str| u[k].as_u64().unwrap_or(0);
    Usage {
        prompt_tokens: n("input_tokens")
            + n("cache_read_input_tokens")
            + n("cache_creation_input_tokens"),
        completion_tokens: n("output_tokens"),
        total_tokens: 0,
    }
    .normalized()
}

/// A Messages API reply as a `chat.completion`.
pub fn chat_response(v: &Value, model: &str) -> Result<Value, TranslateError> {
    let blocks = v["content"].as_array().ok_or_else(|| {
        TranslateError::BadResponse("'content' not in anthropic llm/v1/chat response".into())
    })?;
    let mut text = String::new();
    let mut calls = Vec::new();
    for b in blocks {
        match b["type"].as_str() {
            Some("text") => text.push_str(b["text"].as_str().unwrap_or("")),
            Some("tool_use") => calls.push(json!({"id": b["id"], "type": "function",
                "function": {"name": b["name"], "arguments": b["input"].to_string()}})),
            _ => {}
        }
    }
    let mut message = json!({"role": "assistant", "content": text});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    Ok(chunk::chat_completion(
        v["id"].as_str().unwrap_or(""),
        v["model"].as_str().unwrap_or(model),
        message,
        finish_reason(v["stop_reason"].as_str().unwrap_or("end_turn")),
        usage_of(&v["usage"]),
    ))
}

/// Anthropic SSE events → OpenAI chunks.
#[derive(Debug, Default)]
pub struct ChatStream {
    chunks: Chunks,
    usage: Usage,
    /// Content-block index → OpenAI tool call index.
    tools: Vec<(u64, usize)>,
}

impl ChatStream {
    pub fn new(model: &str) -> Self {
        ChatStream {
            chunks: Chunks::new("", model),
            ..Default::default()
        }
    }
}

impl Translate for ChatStream {
    fn event(&mut self, e: &Value, out: &mut Vec<Value>) {
        match e["type"].as_str().unwrap_or("") {
            "message_start" => {
                let m = &e["message"];
                if let Some(id) = m["id"].as_str() {
                    self.chunks.id = id.to_string();
                }
                if let Some(model) = m["model"].as_str() {
                    self.chunks.model = model.to_string();
                }
                self.usage = usage_of(&m["usage"]);
                out.push(self.chunks.text(""));
            }
            "content_block_start" => {
                let b = &e["content_block"];
                if b["type"] == "tool_use" {
                    let index = self.tools.len();
                    self.tools.push((e["index"].as_u64().unwrap_or(0), index));
                    let mut d = Map::new();
                    d.insert(
                        "tool_calls".into(),
                        json!([{"index": index, "id": b["id"], "type": "function",
                        "function": {"name": b["name"], "arguments": ""}}]),
                    );
                    out.push(self.chunks.delta(d, None));
                }
            }
            "content_block_delta" => {
                let d = &e["delta"];
                match d["type"].as_str() {
                    Some("text_delta") => {
                        out.push(self.chunks.text(d["text"].as_str().unwrap_or("")))
                    }
                    Some("input_json_delta") => {
                        let block = e["index"].as_u64().unwrap_or(0);
                        let index = self
                            .tools
                            .iter()
                            .find(|(b, _)| *b == block)
                            .map_or(0, |(_, i)| *i);
                        let mut delta = Map::new();
                        delta.insert(
                            "tool_calls".into(),
                            json!([{"index": index,
                            "function": {"arguments": d["partial_json"]}}]),
                        );
                        out.push(self.chunks.delta(delta, None));
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(n) = e["usage"]["output_tokens"].as_u64() {
                    self.usage.completion_tokens = n;
                }
                if let Some(r) = e["delta"]["stop_reason"].as_str() {
                    out.push(self.chunks.finish(finish_reason(r)));
                }
            }
            "error" => out.push(json!({"error": e["error"]})),
            _ => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<Value>) {
        self.usage.total_tokens = 0;
        out.push(self.chunks.usage(self.usage.normalized()));
    }
}
