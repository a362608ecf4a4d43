//! Ollama format (provider `ollama`, and `llama2`/`mistral` with the `ollama` format):
//! OpenAI chat/completions/embeddings bodies → `/api/chat`, `/api/generate`, `/api/embed`,
//! replies back to OpenAI objects, and the NDJSON stream (`done: true` last) to OpenAI chunks.

use proto::schema::plugins::ai::RouteType;
use serde_json::{json, Map, Value};

use super::chunk::{self, Chunks};
use super::error::TranslateError;
use super::stream::Translate;
use super::Usage;

/// The default path per route type, appended to an `upstream_url` without a path.
pub fn path(route_type: RouteType) -> Option<&'static str> {
    match route_type {
        RouteType::Chat => Some("/api/chat"),
        RouteType::Completions => Some("/api/generate"),
        RouteType::Embeddings => Some("/api/embed"),
        RouteType::Responses | RouteType::Preserve => None,
    }
}

/// The Ollama body for an OpenAI body of `route_type`.
pub fn request(
    route_type: RouteType,
    body: &Map<String, Value>,
    model: &str,
    top_k: Option<i64>,
    stream: bool,
) -> Result<Value, TranslateError> {
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    let need = |k: &str| {
        body.get(k)
            .cloned()
            .ok_or_else(|| TranslateError::BadRequest(format!("'{k}' is required")))
    };
    match route_type {
        RouteType::Embeddings => {
            out.insert("input".into(), need("input")?);
            return Ok(Value::Object(out));
        }
        RouteType::Completions => {
            out.insert("prompt".into(), need("prompt")?);
        }
        _ => {
            let msgs = need("messages")?;
            let msgs: Vec<Value> = msgs
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    let mut o = json!({"role": m["role"],
                        "content": chunk::content_text(m.get("content").unwrap_or(&Value::Null))});
                    if let Some(calls) = m["tool_calls"].as_array() {
                        let calls: Vec<Value> = calls.iter().map(|c| {
                            let args = c["function"]["arguments"].as_str().unwrap_or("{}");
                            json!({"function": {"name": c["function"]["name"],
                                "arguments": serde_json::from_str::<Value>(args).unwrap_or_else(|_| json!({}))}})
                        }).collect();
                        o["tool_calls"] = Value::Array(calls);
                    }
                    o
                })
                .collect();
            out.insert("messages".into(), Value::Array(msgs));
            if let Some(t) = body.get("tools") {
                out.insert("tools".into(), t.clone());
            }
        }
    }
    out.insert("stream".into(), json!(stream));
    let mut opts = Map::new();
    if let Some(m) = chunk::max_tokens(body) {
        opts.insert("num_predict".into(), m);
    }
    for k in ["temperature", "top_p", "seed"] {
        if let Some(v) = body.get(k) {
            opts.insert(k.into(), v.clone());
        }
    }
    if let Some(k) = top_k {
        opts.insert("top_k".into(), json!(k));
    }
    if let Some(s) = chunk::stop_list(body) {
        opts.insert("stop".into(), s);
    }
    if !opts.is_empty() {
        out.insert("options".into(), Value::Object(opts));
    }
    Ok(Value::Object(out))
}

fn usage_of(v: &Value) -> Usage {
    Usage {
        prompt_tokens: v["prompt_eval_count"].as_u64().unwrap_or(0),
        completion_tokens: v["eval_count"].as_u64().unwrap_or(0),
        total_tokens: 0,
    }
    .normalized()
}

fn finish_reason(v: &Value) -> &'static str {
    match v["done_reason"].as_str() {
        Some("length") => "length",
        _ if v["message"]["tool_calls"].is_array() => "tool_calls",
        _ => "stop",
    }
}

fn tool_calls(v: &Value) -> Option<Vec<Value>> {
    let calls = v["message"]["tool_calls"].as_array()?;
    Some(
        calls
            .iter()
            .enumerate()
            .map(|(i, c)| json!({"index": i, "id": format!("call_{i}"), "type": "function",
                "function": {"name": c["function"]["name"], "arguments": c["function"]["arguments"].to_string()}}))
            .collect(),
    )
}

/// An Ollama reply as the OpenAI object of `route_type`.
pub fn response(route_type: RouteType, v: &Value, model: &str) -> Result<Value, TranslateError> {
    let bad = |what: &str| {
        TranslateError::BadResponse(format!(
            "'{what}' not in ollama {} response",
            route_type.as_str()
        ))
    };
    let model = v["model"].as_str().unwrap_or(model);
    let usage = usage_of(v);
    match route_type {
        RouteType::Embeddings => {
            let embs = v["embeddings"]
                .as_array()
                .ok_or_else(|| bad("embeddings"))?;
            let data: Vec<Value> = embs
                .iter()
                .enumerate()
                .map(|(i, e)| json!({"object": "embedding", "index": i, "embedding": e}))
                .collect();
            Ok(json!({"object": "list", "data": data, "model": model,
                "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens}}))
        }
        RouteType::Completions => {
            let text = v["response"].as_str().ok_or_else(|| bad("response"))?;
            Ok(
                json!({"id": "", "object": "text_completion", "created": chunk::now(), "model": model,
                "choices": [{"index": 0, "text": text, "finish_reason": finish_reason(v), "logprobs": null}],
                "usage": chunk::usage_json(usage)}),
            )
        }
        _ => {
            let text = v["message"]["content"]
                .as_str()
                .ok_or_else(|| bad("message"))?;
            let mut message = json!({"role": "assistant", "content": text});
            if let Some(calls) = tool_calls(v) {
                message["tool_calls"] = Value::Array(calls);
            }
            Ok(chunk::chat_completion(
                "",
                model,
                message,
                finish_reason(v),
                usage,
            ))
        }
    }
}

/// Ollama NDJSON frames → OpenAI chat chunks.
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
        if let Some(m) = e["model"].as_str() {
            self.chunks.model = m.to_string();
        }
        let text = e["message"]["content"]
            .as_str()
            .or_else(|| e["response"].as_str())
            .unwrap_or("");
        if !text.is_empty() {
            out.push(self.chunks.text(text));
        }
        if let Some(calls) = tool_calls(e) {
            let mut d = Map::new();
            d.insert("tool_calls".into(), Value::Array(calls));
            out.push(self.chunks.delta(d, None));
        }
        if e["done"] == json!(true) {
            self.usage = usage_of(e);
            out.push(self.chunks.finish(finish_reason(e)));
        }
    }

    fn finish(&mut self, out: &mut Vec<Value>) {
        out.push(self.chunks.usage(self.usage));
    }
}
