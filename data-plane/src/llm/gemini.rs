//! Gemini provider (generateContent API, public or Vertex): OpenAI chat body → `contents`,
//! the reply (`candidates`, `usageMetadata`) back to a `chat.completion`, and its SSE stream
//! (`alt=sse`, running usage totals) to OpenAI chunks.

use serde_json::{json, Map, Value};

use super::anthropic::data_url;
use super::chunk::{self, Chunks};
use super::error::TranslateError;
use super::stream::Translate;
use super::Usage;

pub const BASE: &str = "https://generativelanguage.googleapis.com:443";

/// The path of a chat call: public API, or Vertex when `options.gemini` names the endpoint,
/// project and location (`Some((api_endpoint, project, location))`).
pub fn chat_path(model: &str, stream: bool, vertex: Option<(&str, &str, &str)>) -> String {
    let op = if stream {
        "streamGenerateContent"
    } else {
        "generateContent"
    };
    match vertex {
        Some((_, p, l)) => {
            format!("/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:{op}")
        }
        None => format!("/v1beta/models/{model}:{op}"),
    }
}

/// The path of an embeddings call: `batchEmbedContents` (public API) or `predict` (Vertex).
pub fn embed_path(model: &str, vertex: Option<(&str, &str, &str)>) -> String {
    match vertex {
        Some((_, p, l)) => {
            format!("/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:predict")
        }
        None => format!("/v1beta/models/{model}:batchEmbedContents"),
    }
}

/// The generateContent body for an OpenAI chat body.
pub fn chat_request(
    body: &Map<String, Value>,
    top_k: Option<i64>,
) -> Result<Value, TranslateError> {
    let msgs = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| TranslateError::BadRequest("'messages' is required".into()))?;
    let mut system = Vec::new();
    let mut contents = Vec::new();
    // tool_call_id → function name, for functionResponse parts.
    let mut names: Vec<(String, String)> = Vec::new();
    for m in msgs {
        let content = m.get("content").unwrap_or(&Value::Null);
        match m["role"].as_str().unwrap_or("user") {
            "system" | "developer" => system.push(json!({"text": chunk::content_text(content)})),
            "assistant" => {
                let mut parts = Vec::new();
                let text = chunk::content_text(content);
                if !text.is_empty() {
                    parts.push(json!({"text": text}));
                }
                for call in m["tool_calls"].as_array().into_iter().flatten() {
                    let name = call["function"]["name"].as_str().unwrap_or("");
                    if let Some(id) = call["id"].as_str() {
                        names.push((id.to_string(), name.to_string()));
                    }
                    let args = call["function"]["arguments"].as_str().unwrap_or("{}");
                    let args: Value = serde_json::from_str(args).unwrap_or_else(|_| json!({}));
                    parts.push(json!({"functionCall": {"name": name, "args": args}}));
                }
                contents.push(json!({"role": "model", "parts": parts}));
            }
            "tool" => {
                let id = m["tool_call_id"].as_str().unwrap_or("");
                let name = names
                    .iter()
                    .find(|(i, _)| i == id)
                    .map_or(id, |(_, n)| n.as_str());
                contents.push(json!({"role": "user", "parts": [{"functionResponse": {
                    "name": name, "response": {"content": chunk::content_text(content)}}}]}));
            }
            _ => contents.push(json!({"role": "user", "parts": user_parts(content)})),
        }
    }
    let mut out = Map::new();
    out.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        out.insert("systemInstruction".into(), json!({"parts": system}));
    }
    let mut gen = Map::new();
    if let Some(m) = chunk::max_tokens(body) {
        gen.insert("maxOutputTokens".into(), m);
    }
    for (from, to) in [("temperature", "temperature"), ("top_p", "topP")] {
        if let Some(v) = body.get(from) {
            gen.insert(to.into(), v.clone());
        }
    }
    if let Some(k) = top_k {
        gen.insert("topK".into(), json!(k));
    }
    if let Some(s) = chunk::stop_list(body) {
        gen.insert("stopSequences".into(), s);
    }
    if !gen.is_empty() {
        out.insert("generationConfig".into(), Value::Object(gen));
    }
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        let decls: Vec<Value> = tools.iter().map(|t| t["function"].clone()).collect();
        out.insert("tools".into(), json!([{"functionDeclarations": decls}]));
    }
    if let Some(tc) = body.get("tool_choice") {
        let cfg = match tc.as_str() {
            Some("none") => json!({"mode": "NONE"}),
            Some("required") => json!({"mode": "ANY"}),
            Some(_) => json!({"mode": "AUTO"}),
            None => json!({"mode": "ANY", "allowedFunctionNames": [tc["function"]["name"]]}),
        };
        out.insert("toolConfig".into(), json!({"functionCallingConfig": cfg}));
    }
    Ok(Value::Object(out))
}

fn user_parts(content: &Value) -> Value {
    let Some(parts) = content.as_array() else {
        return json!([{"text": chunk::content_text(content)}]);
    };
    let parts: Vec<Value> = parts
        .iter()
        .filter_map(|p| match p["type"].as_str() {
            Some("text") => Some(json!({"text": p["text"]})),
            Some("image_url") => {
                let url = p["image_url"]["url"].as_str().unwrap_or("");
                Some(match data_url(url) {
                    Some((mime, data)) => json!({"inlineData": {"mimeType": mime, "data": data}}),
                    None => json!({"fileData": {"fileUri": url}}),
                })
            }
            _ => None,
        })
        .collect();
    Value::Array(parts)
}

fn finish_reason(r: &str) -> &'static str {
    match r {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" => "content_filter",
        _ => "stop",
    }
}

fn usage_of(u: &Value) -> Usage {
    let n = |k: &str| u[k].as_u64().unwrap_or(0);
    Usage {
        prompt_tokens: n("promptTokenCount"),
        completion_tokens: n("candidatesTokenCount") + n("thoughtsTokenCount"),
        total_tokens: n("totalTokenCount"),
    }
    .normalized()
}

/// (text, tool calls) of the first candidate.
fn parts_of(candidate: &Value) -> (String, Vec<Value>) {
    let mut text = String::new();
    let mut calls = Vec::new();
    for p in candidate["content"]["parts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(t) = p["text"].as_str() {
            if p["thought"] != json!(true) {
                text.push_str(t);
            }
        }
        if let Some(f) = p.get("functionCall") {
            calls.push(
                json!({"id": format!("call_{}", calls.len()), "type": "function",
                "function": {"name": f["name"], "arguments": f["args"].to_string()}}),
            );
        }
    }
    (text, calls)
}

/// A generateContent reply as a `chat.completion`.
pub fn chat_response(v: &Value, model: &str) -> Result<Value, TranslateError> {
    let Some(c) = v["candidates"].as_array().and_then(|c| c.first()) else {
        return Err(TranslateError::BadResponse(
            "no generation candidates received from Gemini, or max_tokens too short".into(),
        ));
    };
    let (text, calls) = parts_of(c);
    let mut finish = finish_reason(c["finishReason"].as_str().unwrap_or("STOP"));
    let mut message = json!({"role": "assistant", "content": text});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
        finish = "tool_calls";
    }
    Ok(chunk::chat_completion(
        v["responseId"].as_str().unwrap_or(""),
        v["modelVersion"].as_str().unwrap_or(model),
        message,
        finish,
        usage_of(&v["usageMetadata"]),
    ))
}

/// Gemini stream events (each a partial generateContent reply) → OpenAI chunks.
#[derive(Debug, Default)]
pub struct ChatStream {
    chunks: Chunks,
    usage: Usage,
    tool_calls: usize,
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
        if let Some(id) = e["responseId"].as_str() {
            self.chunks.id = id.to_string();
        }
        if let Some(m) = e["modelVersion"].as_str() {
            self.chunks.model = m.to_string();
        }
        if e.get("usageMetadata").is_some() {
            // Each event carries running totals: set, never add.
            self.usage = usage_of(&e["usageMetadata"]);
        }
        let Some(c) = e["candidates"].as_array().and_then(|c| c.first()) else {
            return;
        };
        let (text, calls) = parts_of(c);
        if !text.is_empty() {
            out.push(self.chunks.text(&text));
        }
        for call in &calls {
            let mut d = Map::new();
            let mut call = call.clone();
            call["index"] = json!(self.tool_calls);
            call["id"] = json!(format!("call_{}", self.tool_calls));
            self.tool_calls += 1;
            d.insert("tool_calls".into(), json!([call]));
            out.push(self.chunks.delta(d, None));
        }
        if let Some(r) = c["finishReason"].as_str() {
            let reason = if self.tool_calls > 0 {
                "tool_calls"
            } else {
                finish_reason(r)
            };
            out.push(self.chunks.finish(reason));
        }
    }

    fn finish(&mut self, out: &mut Vec<Value>) {
        out.push(self.chunks.usage(self.usage));
    }
}
