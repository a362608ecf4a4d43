//! `llm/v1/completions` for non-OpenAI providers: the OpenAI `prompt` body turned into a
//! chat body (gemini, bedrock) or the provider's own completion API (anthropic `/v1/complete`,
//! cohere `/v1/generate`), replies turned into `text_completion` objects, and chat chunks of a
//! translated stream turned into `text_completion` chunks.

use serde_json::{json, Map, Value};

use super::chunk::{self, Chunks};
use super::error::TranslateError;
use super::stream::Translate;
use super::Usage;

pub const ANTHROPIC_PATH: &str = "/v1/complete";
pub const COHERE_PATH: &str = "/v1/generate";

/// The client's `prompt` (a string; a one-string array is accepted too).
pub fn prompt(body: &Map<String, Value>) -> Result<String, TranslateError> {
    match body.get("prompt") {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(a)) if a.len() == 1 && a[0].is_string() => {
            Ok(a[0].as_str().unwrap_or_default().to_string())
        }
        Some(_) => Err(TranslateError::BadRequest(
            "'prompt' must be a string for this provider".into(),
        )),
        None => Err(TranslateError::BadRequest("'prompt' is required".into())),
    }
}

/// The completions body as a chat body: `prompt` becomes one user message.
pub fn as_chat(body: &Map<String, Value>) -> Result<Map<String, Value>, TranslateError> {
    let text = prompt(body)?;
    let mut out = body.clone();
    out.remove("prompt");
    out.insert(
        "messages".into(),
        json!([{"role": "user", "content": text}]),
    );
    Ok(out)
}

/// A `chat.completion` as a `text_completion` (message content → `text`).
pub fn from_chat(mut v: Value) -> Value {
    if let Some(choices) = v["choices"].as_array_mut() {
        for c in choices {
            let text = c["message"]["content"].as_str().unwrap_or("").to_string();
            if let Some(o) = c.as_object_mut() {
                o.remove("message");
                o.insert("text".into(), json!(text));
            }
        }
    }
    v["object"] = json!("text_completion");
    v
}

/// Anthropic's legacy Text Completions body (Kong: `Human: …\n\nAssistant:`).
pub fn anthropic_request(body: &Map<String, Value>, model: &str) -> Result<Value, TranslateError> {
    let text = prompt(body)?;
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    out.insert(
        "prompt".into(),
        json!(format!("Human: {text}\n\nAssistant:")),
    );
    out.insert(
        "max_tokens_to_sample".into(),
        chunk::max_tokens(body).unwrap_or(json!(super::anthropic::DEFAULT_MAX_TOKENS)),
    );
    for k in ["temperature", "top_p", "top_k"] {
        if let Some(v) = body.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    if let Some(s) = chunk::stop_list(body) {
        out.insert("stop_sequences".into(), s);
    }
    out.insert("stream".into(), json!(false));
    Ok(Value::Object(out))
}

/// An Anthropic `/v1/complete` reply as a `text_completion` (it reports no usage).
pub fn anthropic_response(v: &Value, model: &str) -> Result<Value, TranslateError> {
    let text = v["completion"].as_str().ok_or_else(|| {
        TranslateError::BadResponse(
            "'completion' not in anthropic://llm/v1/completions response".into(),
        )
    })?;
    let finish = match v["stop_reason"].as_str() {
        Some("max_tokens") => "length",
        _ => "stop",
    };
    Ok(json!({
        "id": v["id"].as_str().unwrap_or(""),
        "object": "text_completion",
        "created": chunk::now(),
        "model": v["model"].as_str().unwrap_or(model),
        "choices": [{"index": 0, "text": text, "finish_reason": finish, "logprobs": null}],
    }))
}

/// Cohere's `/v1/generate` body.
pub fn cohere_request(
    body: &Map<String, Value>,
    model: &str,
    top_k: Option<i64>,
    stream: bool,
) -> Result<Value, TranslateError> {
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    out.insert("prompt".into(), json!(prompt(body)?));
    super::cohere::sampling(&mut out, body, top_k, stream);
    Ok(Value::Object(out))
}

fn cohere_usage(meta: &Value) -> Usage {
    let b = &meta["billed_units"];
    Usage {
        prompt_tokens: b["input_tokens"].as_u64().unwrap_or(0),
        completion_tokens: b["output_tokens"].as_u64().unwrap_or(0),
        total_tokens: 0,
    }
    .normalized()
}

fn cohere_finish(r: &str) -> &'static str {
    match r {
        "MAX_TOKENS" => "length",
        "ERROR_TOXIC" => "content_filter",
        _ => "stop",
    }
}

/// A Cohere `/v1/generate` reply as a `text_completion`.
pub fn cohere_response(v: &Value, model: &str) -> Result<Value, TranslateError> {
    let gens = v["generations"].as_array().ok_or_else(|| {
        TranslateError::BadResponse(
            "'generations' not in cohere://llm/v1/completions response".into(),
        )
    })?;
    let choices: Vec<Value> = gens
        .iter()
        .enumerate()
        .map(|(i, g)| {
            json!({"index": i, "text": g["text"].as_str().unwrap_or(""),
                "finish_reason": cohere_finish(g["finish_reason"].as_str().unwrap_or("")), "logprobs": null})
        })
        .collect();
    Ok(json!({
        "id": v["id"].as_str().unwrap_or(""),
        "object": "text_completion",
        "created": chunk::now(),
        "model": model,
        "choices": choices,
        "usage": chunk::usage_json(cohere_usage(&v["meta"])),
    }))
}

/// Cohere `/v1/generate` NDJSON stream (`{text, is_finished}` … `{is_finished: true,
/// response}`) → OpenAI chat chunks (turned into completion chunks by `Completion`).
#[derive(Debug, Default)]
pub struct CohereStream {
    chunks: Chunks,
    usage: Usage,
}

impl CohereStream {
    pub fn new(model: &str) -> Self {
        CohereStream {
            chunks: Chunks::new("", model),
            ..Default::default()
        }
    }
}

impl Translate for CohereStream {
    fn event(&mut self, e: &Value, out: &mut Vec<Value>) {
        if e["is_finished"] == json!(true) {
            let r = &e["response"];
            if let Some(id) = r["id"].as_str() {
                self.chunks.id = id.to_string();
            }
            self.usage = cohere_usage(&r["meta"]);
            let reason = e["finish_reason"].as_str().unwrap_or("");
            out.push(self.chunks.finish(cohere_finish(reason)));
        } else if let Some(t) = e["text"].as_str() {
            out.push(self.chunks.text(t));
        }
    }

    fn finish(&mut self, out: &mut Vec<Value>) {
        out.push(self.chunks.usage(self.usage));
    }
}

/// Wraps a chat stream translator: its chunks come out as `text_completion` chunks
/// (`delta.content` → `text`; role-only and tool deltas dropped).
pub struct Completion(pub Box<dyn Translate>);

fn to_completion_chunk(mut c: Value) -> Option<Value> {
    if c.get("error").is_some() {
        return Some(c);
    }
    let choices = c["choices"].as_array().cloned().unwrap_or_default();
    let usage_only = choices.is_empty() && c.get("usage").is_some();
    let mut out = Vec::new();
    for ch in choices {
        let text = ch["delta"]["content"].as_str().unwrap_or("");
        let finish = ch["finish_reason"].clone();
        if text.is_empty() && finish.is_null() {
            continue;
        }
        out.push(
            json!({"index": ch["index"], "text": text, "finish_reason": finish, "logprobs": null}),
        );
    }
    if out.is_empty() && !usage_only {
        return None;
    }
    c["choices"] = Value::Array(out);
    c["object"] = json!("text_completion");
    Some(c)
}

impl Translate for Completion {
    fn event(&mut self, event: &Value, out: &mut Vec<Value>) {
        let mut chat = Vec::new();
        self.0.event(event, &mut chat);
        out.extend(chat.into_iter().filter_map(to_completion_chunk));
    }

    fn finish(&mut self, out: &mut Vec<Value>) {
        let mut chat = Vec::new();
        self.0.finish(&mut chat);
        out.extend(chat.into_iter().filter_map(to_completion_chunk));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_rules() {
        let b = json!({"prompt": ["one"]});
        assert_eq!(prompt(b.as_object().unwrap()).unwrap(), "one");
        let b = json!({"prompt": [1, 2]});
        assert!(prompt(b.as_object().unwrap()).is_err());
        let chat = as_chat(
            json!({"prompt": "hi", "max_tokens": 3})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(chat["messages"][0]["content"], "hi");
        assert!(!chat.contains_key("prompt"));
    }

    #[test]
    fn chat_chunks_become_completion_chunks() {
        let c = json!({"object": "chat.completion.chunk", "choices": [{"index": 0,
            "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]});
        assert_eq!(to_completion_chunk(c), None);
        let c = json!({"object": "chat.completion.chunk", "choices": [{"index": 0,
            "delta": {"content": "Hi"}, "finish_reason": null}]});
        let out = to_completion_chunk(c).unwrap();
        assert_eq!(out["choices"][0]["text"], "Hi");
        assert_eq!(out["object"], "text_completion");
        let u = json!({"choices": [], "usage": {"total_tokens": 3}});
        assert_eq!(to_completion_chunk(u).unwrap()["usage"]["total_tokens"], 3);
    }
}
