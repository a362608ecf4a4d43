//! OpenAI-format building blocks shared by the provider translators: message text, finish
//! reasons, and the `chat.completion` / `chat.completion.chunk` objects sent back to clients.

use serde_json::{json, Map, Value};

use super::Usage;

/// Seconds since the epoch, for `created`.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The text of an OpenAI message `content`: a string, or the `text` of its text parts joined.
pub fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// `stop` as a list (OpenAI accepts a string or an array).
pub fn stop_list(body: &Map<String, Value>) -> Option<Value> {
    match body.get("stop")? {
        Value::String(s) => Some(json!([s])),
        Value::Array(a) => Some(Value::Array(a.clone())),
        _ => None,
    }
}

/// `max_tokens`, or its newer name `max_completion_tokens`.
pub fn max_tokens(body: &Map<String, Value>) -> Option<Value> {
    body.get("max_tokens")
        .or_else(|| body.get("max_completion_tokens"))
        .filter(|v| v.is_number())
        .cloned()
}

/// OpenAI's `usage` object.
pub fn usage_json(u: Usage) -> Value {
    let u = u.normalized();
    json!({
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
    })
}

/// A non-streamed `chat.completion` with one choice.
pub fn chat_completion(
    id: &str,
    model: &str,
    message: Value,
    finish_reason: &str,
    usage: Usage,
) -> Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": null}],
        "usage": usage_json(usage),
    })
}

/// Builds the `chat.completion.chunk` objects of one translated stream.
#[derive(Debug, Clone, Default)]
pub struct Chunks {
    pub id: String,
    pub model: String,
    created: u64,
    role_sent: bool,
}

impl Chunks {
    pub fn new(id: &str, model: &str) -> Self {
        Chunks {
            id: id.to_string(),
            model: model.to_string(),
            created: now(),
            role_sent: false,
        }
    }

    /// A chunk with one choice; the first one also carries `role: assistant`.
    pub fn delta(&mut self, mut delta: Map<String, Value>, finish_reason: Option<&str>) -> Value {
        if !self.role_sent {
            delta.insert("role".into(), json!("assistant"));
            self.role_sent = true;
        }
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": null}],
        })
    }

    /// A text delta.
    pub fn text(&mut self, text: &str) -> Value {
        let mut d = Map::new();
        d.insert("content".into(), json!(text));
        self.delta(d, None)
    }

    /// The closing chunk with the finish reason.
    pub fn finish(&mut self, reason: &str) -> Value {
        self.delta(Map::new(), Some(reason))
    }

    /// The final usage chunk (`choices: []`), as OpenAI sends with `include_usage`.
    pub fn usage(&self, u: Usage) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage_json(u),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_and_stop() {
        assert_eq!(content_text(&json!("hi")), "hi");
        assert_eq!(
            content_text(
                &json!([{"type":"text","text":"a"},{"type":"image_url"},{"type":"text","text":"b"}])
            ),
            "a\nb"
        );
        let b = json!({"stop": "x", "max_completion_tokens": 5});
        let b = b.as_object().unwrap();
        assert_eq!(stop_list(b), Some(json!(["x"])));
        assert_eq!(max_tokens(b), Some(json!(5)));
    }

    #[test]
    fn role_only_on_first_chunk() {
        let mut c = Chunks::new("id1", "m");
        let a = c.text("he");
        let b = c.text("llo");
        assert_eq!(a["choices"][0]["delta"]["role"], json!("assistant"));
        assert_eq!(b["choices"][0]["delta"].get("role"), None);
        assert_eq!(b["choices"][0]["delta"]["content"], json!("llo"));
        let u = c.usage(Usage {
            prompt_tokens: 2,
            completion_tokens: 3,
            total_tokens: 0,
        });
        assert_eq!(u["usage"]["total_tokens"], json!(5));
        assert_eq!(u["choices"], json!([]));
    }
}
