//! Kong's checks of a client body on the chat and completions routes, run by the AI plugin's
//! access phase before translation: the body must carry prompts (`messages` or `prompt`), in
//! exactly one format, the one of the route type.

use proto::schema::plugins::ai::RouteType;
use serde_json::{Map, Value};

fn has_messages(body: &Map<String, Value>) -> bool {
    body.get("messages")
        .and_then(Value::as_array)
        .is_some_and(|m| !m.is_empty())
}

fn has_prompt(body: &Map<String, Value>) -> bool {
    body.get("prompt").is_some_and(Value::is_string)
}

/// Kong's `validate_incoming`: `messages` (non-empty) or a string `prompt`.
pub fn prompts(body: &Map<String, Value>, route_type: RouteType) -> Result<(), &'static str> {
    if !matches!(route_type, RouteType::Chat | RouteType::Completions) {
        return Ok(());
    }
    if has_messages(body) || has_prompt(body) {
        Ok(())
    } else {
        Err("request body doesn't contain valid prompts")
    }
}

/// Kong's `llm.is_compatible`: the body's format must be the route type's.
pub fn compatible(body: &Map<String, Value>, route_type: RouteType) -> Result<(), String> {
    if !matches!(route_type, RouteType::Chat | RouteType::Completions) {
        return Ok(());
    }
    let format = match (has_messages(body), has_prompt(body)) {
        (true, true) => return Err("request matches multiple LLM request formats".into()),
        (true, false) => RouteType::Chat,
        (false, true) => RouteType::Completions,
        (false, false) => return Err("request body doesn't contain valid prompts".into()),
    };
    if format == route_type {
        Ok(())
    } else {
        Err(format!(
            "[{}] message format is not compatible with [{}] route type",
            format.as_str(),
            route_type.as_str()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn kong_messages() {
        let chat = body(json!({"messages": [{"role": "user", "content": "hi"}]}));
        assert_eq!(
            compatible(&chat, RouteType::Completions).unwrap_err(),
            "[llm/v1/chat] message format is not compatible with [llm/v1/completions] route type"
        );
        assert!(compatible(&chat, RouteType::Chat).is_ok());
        let both = body(json!({"messages": [{"role": "user"}], "prompt": "x"}));
        assert_eq!(
            compatible(&both, RouteType::Chat).unwrap_err(),
            "request matches multiple LLM request formats"
        );
        let empty = body(json!({"messages": []}));
        assert_eq!(
            prompts(&empty, RouteType::Chat).unwrap_err(),
            "request body doesn't contain valid prompts"
        );
        assert!(prompts(&empty, RouteType::Embeddings).is_ok());
    }
}
