//! OpenAI provider: default endpoint and paths per route type, option merging into the request
//! body, and usage extraction from response bodies.

use proto::schema::plugins::ai::{ModelOptions, RouteType};
use serde_json::{Map, Value};

use super::Usage;

pub const DEFAULT_SCHEME: &str = "https";
pub const DEFAULT_AUTHORITY: &str = "api.openai.com:443";
/// `DEFAULT_SCHEME://DEFAULT_AUTHORITY`.
pub const DEFAULT_BASE: &str = "https://api.openai.com:443";

/// The OpenAI path for a route type; `None` for `preserve` (the client's path is kept).
pub fn path(route_type: RouteType) -> Option<&'static str> {
    match route_type {
        RouteType::Chat => Some("/v1/chat/completions"),
        RouteType::Completions => Some("/v1/completions"),
        RouteType::Embeddings => Some("/v1/embeddings"),
        RouteType::Responses => Some("/v1/responses"),
        RouteType::Preserve => None,
    }
}

/// `model.options` values replace the client's (Kong `merge_config_defaults`). `top_k` is not an
/// OpenAI parameter and is never sent; the responses API calls `max_tokens` `max_output_tokens`.
pub fn merge_options(body: &mut Map<String, Value>, options: &ModelOptions, route_type: RouteType) {
    if matches!(route_type, RouteType::Preserve | RouteType::Embeddings) {
        return;
    }
    if let Some(m) = options.max_tokens {
        let key = if route_type == RouteType::Responses {
            "max_output_tokens"
        } else {
            "max_tokens"
        };
        body.insert(key.into(), Value::from(m));
    }
    if let Some(t) = options.temperature {
        body.insert("temperature".into(), Value::from(t));
    }
    if let Some(p) = options.top_p {
        body.insert("top_p".into(), Value::from(p));
    }
}

/// Usage from a response body: `prompt_tokens/completion_tokens` (chat, completions,
/// embeddings) or `input_tokens/output_tokens` (responses API). `None` without a usage object.
pub fn usage(body: &Value) -> Option<Usage> {
    let u = body.get("usage")?.as_object()?;
    let n = |k: &str| u.get(k).and_then(Value::as_u64);
    let prompt = n("prompt_tokens")
        .or_else(|| n("input_tokens"))
        .unwrap_or(0);
    let completion = n("completion_tokens")
        .or_else(|| n("output_tokens"))
        .unwrap_or(0);
    let total = n("total_tokens").unwrap_or(0);
    Some(
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: total,
        }
        .normalized(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chat_usage() {
        let u = usage(
            &json!({"usage": {"prompt_tokens": 25, "completion_tokens": 12, "total_tokens": 37}}),
        );
        assert_eq!(
            u,
            Some(Usage {
                prompt_tokens: 25,
                completion_tokens: 12,
                total_tokens: 37
            })
        );
    }

    #[test]
    fn responses_usage() {
        let u =
            usage(&json!({"object": "response", "usage": {"input_tokens": 9, "output_tokens": 3}}));
        assert_eq!(
            u,
            Some(Usage {
                prompt_tokens: 9,
                completion_tokens: 3,
                total_tokens: 12
            })
        );
        assert_eq!(usage(&json!({"usage": null})), None);
    }

    #[test]
    fn options_override_and_rename_for_responses() {
        let opts = ModelOptions {
            max_tokens: Some(512),
            temperature: Some(1.0),
            top_k: Some(5),
            ..Default::default()
        };
        let mut body = json!({"max_output_tokens": 10, "temperature": 0.2, "input": "x"})
            .as_object()
            .cloned()
            .unwrap();
        merge_options(&mut body, &opts, RouteType::Responses);
        assert_eq!(body["max_output_tokens"], json!(512));
        assert_eq!(body["temperature"], json!(1.0));
        assert!(!body.contains_key("max_tokens"));
        assert!(!body.contains_key("top_k"));
        let mut chat = Map::new();
        merge_options(&mut chat, &opts, RouteType::Chat);
        assert_eq!(chat["max_tokens"], json!(512));
    }

    #[test]
    fn paths_by_route_type() {
        assert_eq!(path(RouteType::Responses), Some("/v1/responses"));
        assert_eq!(path(RouteType::Chat), Some("/v1/chat/completions"));
        assert_eq!(path(RouteType::Preserve), None);
    }
}
