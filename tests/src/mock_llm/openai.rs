//! What the mock answers: OpenAI-shaped JSON (or SSE events) for each endpoint, and OpenAI-shaped
//! errors for bad requests and unknown paths.

use std::time::{SystemTime, UNIX_EPOCH};

use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use super::{responses, sse};

/// The mock's answer before it becomes an HTTP response.
#[derive(Debug, Clone)]
pub enum Reply {
    Json { status: StatusCode, body: Value },
    Stream { events: Vec<String> },
}

#[derive(Debug, Clone)]
pub struct Answer {
    pub reply: Reply,
    pub total_tokens: Option<u64>,
}

impl Answer {
    fn ok(body: Value, total_tokens: u64) -> Self {
        Self {
            reply: Reply::Json {
                status: StatusCode::OK,
                body,
            },
            total_tokens: Some(total_tokens),
        }
    }

    fn stream(events: Vec<String>, total_tokens: u64) -> Self {
        Self {
            reply: Reply::Stream { events },
            total_tokens: Some(total_tokens),
        }
    }

    fn error(status: StatusCode, message: &str, param: Option<&str>, code: Option<&str>) -> Self {
        let body = json!({"error": {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": code,
        }});
        Self {
            reply: Reply::Json { status, body },
            total_tokens: None,
        }
    }
}

/// A rough, deterministic token count: one token per four characters, at least one.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A path prefix `/status/NNN/` makes the mock answer that status with an OpenAI error body
/// (for fail-over tests); the rest of the path is ignored.
fn forced_status(path: &str) -> Option<StatusCode> {
    let rest = path.strip_prefix("/status/")?;
    let code = rest.split('/').next()?.parse::<u16>().ok()?;
    StatusCode::from_u16(code).ok()
}

/// Routes one request to its endpoint.
pub fn answer(method: &Method, path: &str, body: &[u8], id: u64) -> Answer {
    if let Some(status) = forced_status(path) {
        return Answer::error(
            status,
            "The mock was asked to fail",
            None,
            Some("mock_forced"),
        );
    }
    let endpoint = [
        "/chat/completions",
        "/completions",
        "/embeddings",
        "/responses",
    ]
    .into_iter()
    .find(|e| path.ends_with(&format!("/v1{e}")));
    let Some(endpoint) = endpoint.filter(|_| method == Method::POST) else {
        let message = format!("Invalid URL ({method} {path})");
        return Answer::error(StatusCode::NOT_FOUND, &message, None, None);
    };
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        let message = "We could not parse the JSON body of your request. (HINT: This likely means \
                       you aren't using your HTTP library correctly.)";
        return Answer::error(StatusCode::BAD_REQUEST, message, None, None);
    };
    let Some(model) = request.get("model").and_then(Value::as_str) else {
        return Answer::error(
            StatusCode::BAD_REQUEST,
            "Missing required parameter: 'model'.",
            Some("model"),
            Some("missing_required_parameter"),
        );
    };
    let stream = request.get("stream").and_then(Value::as_bool) == Some(true);
    match endpoint {
        "/chat/completions" => chat(&request, model, id, stream),
        "/completions" => completion(&request, model, id),
        "/embeddings" => embeddings(&request, model),
        _ => {
            let (reply, total) = responses::answer(&request, model, id, stream);
            Answer {
                reply,
                total_tokens: Some(total),
            }
        }
    }
}

/// All text in a message `content`: a string, or an array of parts with `text`.
pub fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    })
}

fn chat(request: &Value, model: &str, id: u64, stream: bool) -> Answer {
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let prompt: Vec<String> = messages
        .iter()
        .map(|m| content_text(m.get("content").unwrap_or(&Value::Null)))
        .collect();
    let last = prompt.last().cloned().unwrap_or_default();
    let text = format!(
        "This is the mock LLM answering: {}",
        last.chars().take(60).collect::<String>()
    );
    let (p, c) = (estimate_tokens(&prompt.join("\n")), estimate_tokens(&text));
    let chat_id = format!("chatcmpl-mock{id:06}");
    let created = now();
    if !stream {
        let body = json!({
            "id": chat_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": null},
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": usage(p, c),
        });
        return Answer::ok(body, p + c);
    }
    let include_usage = request
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    let chunk = |choices: Value| {
        json!({
            "id": chat_id, "object": "chat.completion.chunk", "created": created,
            "model": model, "system_fingerprint": "fp_mock", "choices": choices,
        })
    };
    let mut events = vec![sse::data(&chunk(json!([{
        "index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null,
    }])))];
    for delta in sse::deltas(&text) {
        events.push(sse::data(&chunk(json!([{
            "index": 0, "delta": {"content": delta}, "logprobs": null, "finish_reason": null,
        }]))));
    }
    events.push(sse::data(&chunk(json!([{
        "index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop",
    }]))));
    if include_usage {
        let mut last = chunk(json!([]));
        last["usage"] = usage(p, c);
        events.push(sse::data(&last));
    }
    events.push(sse::done());
    Answer::stream(events, p + c)
}

fn completion(request: &Value, model: &str, id: u64) -> Answer {
    let prompt = content_text(request.get("prompt").unwrap_or(&Value::Null));
    let text = " and this is the mock LLM completing it.";
    let (p, c) = (estimate_tokens(&prompt), estimate_tokens(text));
    let body = json!({
        "id": format!("cmpl-mock{id:06}"),
        "object": "text_completion",
        "created": now(),
        "model": model,
        "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": "stop"}],
        "usage": usage(p, c),
    });
    Answer::ok(body, p + c)
}

fn embeddings(request: &Value, model: &str) -> Answer {
    let inputs: Vec<String> = match request.get("input") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| i.to_string())
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => vec![String::new()],
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let seed = text.len() as f64 + index as f64;
            let vector: Vec<f64> = (0..8).map(|k| ((seed + k as f64) * 0.37).sin()).collect();
            json!({"object": "embedding", "index": index, "embedding": vector})
        })
        .collect();
    let p: u64 = inputs.iter().map(|t| estimate_tokens(t)).sum();
    let body = json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": p, "total_tokens": p},
    });
    Answer::ok(body, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_of(a: &Answer) -> (StatusCode, Value) {
        match &a.reply {
            Reply::Json { status, body } => (*status, body.clone()),
            Reply::Stream { .. } => panic!("expected JSON"),
        }
    }

    #[test]
    fn chat_echoes_model_and_counts_tokens() {
        let body = br#"{"model":"gpt-4","messages":[{"role":"user","content":"hi there"}]}"#;
        let a = answer(&Method::POST, "/v1/chat/completions", body, 1);
        let (status, v) = json_of(&a);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["model"], "gpt-4");
        assert_eq!(v["object"], "chat.completion");
        let u = &v["usage"];
        assert_eq!(
            u["total_tokens"].as_u64().unwrap(),
            u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap()
        );
        assert_eq!(a.total_tokens, u["total_tokens"].as_u64());
    }

    #[test]
    fn errors_are_openai_shaped() {
        let (s, v) = json_of(&answer(&Method::GET, "/v1/models/x", b"", 1));
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/v1/models/x"));
        let (s, v) = json_of(&answer(&Method::POST, "/v1/embeddings", b"{}", 1));
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(v["error"]["param"], "model");
        let (s, _) = json_of(&answer(&Method::POST, "/v1/completions", b"{nope", 1));
        assert_eq!(s, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn embeddings_one_vector_per_input() {
        let body = br#"{"model":"text-embedding-3-small","input":["a","bb"]}"#;
        let (_, v) = json_of(&answer(&Method::POST, "/v1/embeddings", body, 1));
        assert_eq!(v["data"].as_array().unwrap().len(), 2);
        assert_eq!(v["model"], "text-embedding-3-small");
    }
}
