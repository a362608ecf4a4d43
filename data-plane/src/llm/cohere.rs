//! Cohere provider (v1 Chat API, as Kong uses it): OpenAI chat body → `message` +
//! `chat_history`, the reply (`text`, `meta.billed_units`) back to a `chat.completion`, and its
//! NDJSON stream (`stream-start`, `text-generation`, `stream-end`) to OpenAI chunks.

use serde_json::{json, Map, Value};

use super::chunk::{self, Chunks};
use super::error::TranslateError;
use super::stream::Translate;
use super::Usage;

pub const BASE: &str = "https://api.cohere.com:443";
pub const CHAT_PATH: &str = "/v1/chat";

/// The v1 chat body for an OpenAI chat body: the last message is `message`, the ones before it
/// `chat_history`, system messages the `preamble`.
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
    if body.get("tools").is_some() {
        return Err(TranslateError::BadRequest(
            "tools are not supported for provider cohere by this gateway".into(),
        ));
    }
    let mut preamble = Vec::new();
    let mut history = Vec::new();
    for m in msgs {
        let text = chunk::content_text(m.get("content").unwrap_or(&Value::Null));
        match m["role"].as_str().unwrap_or("user") {
            "system" | "developer" => preamble.push(text),
            "assistant" => history.push(json!({"role": "CHATBOT", "message": text})),
            _ => history.push(json!({"role": "USER", "message": text})),
        }
    }
    let last = match history.pop() {
        Some(m) if m["role"] == "USER" => m["message"].clone(),
        _ => {
            return Err(TranslateError::BadRequest(
                "the last message must be from the user for provider cohere".into(),
            ))
        }
    };
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    out.insert("message".into(), last);
    if !history.is_empty() {
        out.insert("chat_history".into(), Value::Array(history));
    }
    if !preamble.is_empty() {
        out.insert("preamble".into(), json!(preamble.join("\n")));
    }
    sampling(&mut out, body, top_k, stream);
    Ok(Value::Object(out))
}

/// Cohere's sampling fields from an OpenAI body (chat and generate share them).
pub(super) fn sampling(
    out: &mut Map<String, Value>,
    body: &Map<String, Value>,
    top_k: Option<i64>,
    stream: bool,
) {
    if let Some(m) = chunk::max_tokens(body) {
        out.insert("max_tokens".into(), m);
    }
    if let Some(t) = body.get("temperature") {
        out.insert("temperature".into(), t.clone());
    }
    if let Some(p) = body.get("top_p") {
        out.insert("p".into(), p.clone());
    }
    if let Some(k) = top_k {
        out.insert("k".into(), json!(k));
    }
    if let Some(s) = chunk::stop_list(body) {
        out.insert("stop_sequences".into(), s);
    }
    out.insert("stream".into(), json!(stream));
}

fn finish_reason(r: &str) -> &'static str {
    match r {
        "MAX_TOKENS" => "length",
        "ERROR_TOXIC" => "content_filter",
        _ => "stop",
    }
}

fn usage_of(meta: &Value) -> Usage {
    let b = &meta["billed_units"];
    Usage {
        prompt_tokens: b["input_tokens"].as_u64().unwrap_or(0),
        completion_tokens: b["output_tokens"].as_u64().unwrap_or(0),
        total_tokens: 0,
    }
    .normalized()
}

/// A v1 chat reply as a `chat.completion`.
pub fn chat_response(v: &Value, model: &str) -> Result<Value, TranslateError> {
    let text = v["text"].as_str().ok_or_else(|| {
        TranslateError::BadResponse("'text' not in cohere llm/v1/chat response".into())
    })?;
    Ok(chunk::chat_completion(
        v["generation_id"]
            .as_str()
            .or_else(|| v["response_id"].as_str())
            .unwrap_or(""),
        model,
        json!({"role": "assistant", "content": text}),
        finish_reason(v["finish_reason"].as_str().unwrap_or("COMPLETE")),
        usage_of(&v["meta"]),
    ))
}

/// Cohere stream events → OpenAI chunks.
#[derive(Debug, Default)]
pub struct ChatStream {
    chunks: Chunks,
    usage: Usage,
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
        match e["event_type"].as_str().unwrap_or("") {
            "stream-start" => {
                if let Some(id) = e["generation_id"].as_str() {
                    self.chunks.id = id.to_string();
                }
                out.push(self.chunks.text(""));
            }
            "text-generation" => out.push(self.chunks.text(e["text"].as_str().unwrap_or(""))),
            "stream-end" => {
                self.usage = usage_of(&e["response"]["meta"]);
                out.push(
                    self.chunks
                        .finish(finish_reason(e["finish_reason"].as_str().unwrap_or(""))),
                );
            }
            _ => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<Value>) {
        out.push(self.chunks.usage(self.usage));
    }
}
