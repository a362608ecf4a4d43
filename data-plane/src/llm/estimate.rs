//! Token estimates for replies without a usage object (Kong's rule): prompt tokens from the
//! client's words (×1.8 when streaming), completion tokens from the streamed text (chars / 4).

use serde_json::{Map, Value};

use super::chunk::content_text;

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

/// The prompt estimate of an OpenAI-format body: `messages`, `prompt` or `input`.
pub fn prompt_tokens(body: &Map<String, Value>, stream: bool) -> u64 {
    let mut n = 0;
    for m in body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        n += words(&content_text(m.get("content").unwrap_or(&Value::Null)));
    }
    for k in ["prompt", "input"] {
        match body.get(k) {
            Some(Value::String(s)) => n += words(s),
            Some(Value::Array(items)) => {
                for i in items {
                    n += match i {
                        Value::String(s) => words(s),
                        other => words(&content_text(other.get("content").unwrap_or(other))),
                    };
                }
            }
            _ => {}
        }
    }
    let factor = if stream { 1.8 } else { 1.0 };
    (n as f64 * factor).round() as u64
}

/// The completion estimate of `chars` streamed characters.
pub fn completion_tokens(chars: usize) -> u64 {
    chars.div_ceil(4) as u64
}

/// The text a streamed OpenAI chunk or Responses API event adds.
pub fn streamed_text(v: &Value) -> usize {
    if v["type"] == "response.output_text.delta" {
        return v["delta"].as_str().map_or(0, str::len);
    }
    v["choices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            c["delta"]["content"]
                .as_str()
                .or_else(|| c["text"].as_str())
                .map_or(0, str::len)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prompt_words_and_stream_factor() {
        let b = json!({"messages": [{"role": "user", "content": "one two three"},
                                    {"role": "user", "content": [{"type": "text", "text": "four five"}]}]});
        let b = b.as_object().unwrap();
        assert_eq!(prompt_tokens(b, false), 5);
        assert_eq!(prompt_tokens(b, true), 9);
        let r = json!({"input": [{"role": "user", "content": "a b"}, "c"]});
        assert_eq!(prompt_tokens(r.as_object().unwrap(), false), 3);
    }

    #[test]
    fn completion_from_text() {
        assert_eq!(completion_tokens(9), 3);
        assert_eq!(
            streamed_text(&json!({"choices": [{"delta": {"content": "hello"}}]})),
            5
        );
        assert_eq!(
            streamed_text(&json!({"type": "response.output_text.delta", "delta": "hey"})),
            3
        );
    }
}
