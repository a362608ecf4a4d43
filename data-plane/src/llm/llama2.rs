//! Llama 2 "raw" format (provider `llama2`, `options.llama2_format: raw`), as Kong's llama2
//! driver speaks it: OpenAI chat messages or a completions prompt → one `[INST]` prompt string
//! in `{inputs, parameters}`, the reply's `data[0].generated_text` (the text after the last
//! `[/INST]`) → an OpenAI `chat.completion` or `text_completion`. Kong has no raw stream.

use proto::schema::plugins::ai::{ModelOptions, RouteType};
use serde_json::{json, Map, Value};

use super::chunk;
use super::error::TranslateError;

/// Kong's prompt template for a completions `prompt`.
fn prompt_inst(prompt: &str) -> String {
    format!("<s> [INST] <<SYS>> You are a helpful assistant. <<SYS>> {prompt} [/INST]")
}

/// Kong's `messages_to_inst`: the first message is the system prompt, the second the first
/// question; later user turns open a new `[INST]`, model answers close with `</s>`. Kong only
/// writes later `system` messages as answers (dropping `assistant` ones); here both are.
fn messages_inst(messages: &[Value]) -> String {
    let mut out = String::new();
    for (i, m) in messages.iter().enumerate() {
        let text = chunk::content_text(m.get("content").unwrap_or(&Value::Null));
        match (i, m["role"].as_str()) {
            (0, _) => out.push_str(&format!("<s>[INST] <<SYS>> {text} <</SYS>>")),
            (1, _) => out.push_str(&format!(" {text} [/INST]")),
            (_, Some("user")) => out.push_str(&format!(" <s>[INST] {text} [/INST]")),
            (_, Some("system" | "assistant")) => out.push_str(&format!(" {text} </s>")),
            _ => {}
        }
    }
    out
}

/// The raw body for an OpenAI chat or completions body. As in Kong, the generation
/// parameters come from `model.options` only (`top_p` 1.0 and `top_k` 40 when unset).
pub fn request(body: &Map<String, Value>, o: &ModelOptions) -> Result<Value, TranslateError> {
    let inputs = match (body.get("messages"), body.get("prompt")) {
        (Some(Value::Array(m)), None) => messages_inst(m),
        (None, Some(Value::String(p))) => prompt_inst(p),
        (Some(_), Some(_)) => {
            return Err(TranslateError::BadRequest(
                "cannot run raw 'prompt' and chat history 'messages' requests at the same time - refer to schema".into(),
            ))
        }
        _ => {
            return Err(TranslateError::BadRequest(
                "request body doesn't contain valid prompts".into(),
            ))
        }
    };
    let mut parameters = Map::new();
    if let Some(n) = o.max_tokens {
        parameters.insert("max_new_tokens".into(), json!(n));
    }
    parameters.insert("top_p".into(), json!(o.top_p.unwrap_or(1.0)));
    parameters.insert("top_k".into(), json!(o.top_k.unwrap_or(40)));
    if let Some(t) = o.temperature {
        parameters.insert("temperature".into(), json!(t));
    }
    Ok(json!({"inputs": inputs, "parameters": parameters}))
}

/// The OpenAI object for a raw reply `{data: [{generated_text}], usage?}` (Kong's messages
/// for replies of another shape).
pub fn response(route_type: RouteType, v: &Value, model: &str) -> Result<Value, TranslateError> {
    let bad = |m: &str| TranslateError::BadResponse(m.to_string());
    let data = v["data"]
        .as_array()
        .filter(|d| d.len() == 1)
        .ok_or_else(|| bad("cannot parse response from llama2 endpoint"))?;
    let generated = data[0]["generated_text"]
        .as_str()
        .ok_or_else(|| bad("response data is empty from llama2 endpoint"))?;
    let text = generated.rsplit("[/INST]").next().unwrap_or("").trim();
    let mut out = if route_type == RouteType::Completions {
        json!({"object": "text_completion", "model": model,
               "choices": [{"index": 0, "text": text, "finish_reason": "stop"}]})
    } else {
        json!({"object": "chat.completion", "model": model,
               "choices": [{"index": 0, "finish_reason": "stop",
                            "message": {"role": "assistant", "content": text}}]})
    };
    if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
        out["usage"] = u.clone();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_history_becomes_one_inst_prompt() {
        let body = json!({"messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": [{"type": "text", "text": "Again"}]}]});
        let o = ModelOptions {
            max_tokens: Some(64),
            temperature: Some(0.5),
            ..Default::default()
        };
        let v = request(body.as_object().unwrap(), &o).unwrap();
        assert_eq!(
            v,
            json!({"inputs": "<s>[INST] <<SYS>> Be brief. <</SYS>> Hi [/INST] Hello. </s> <s>[INST] Again [/INST]",
                   "parameters": {"max_new_tokens": 64, "top_p": 1.0, "top_k": 40, "temperature": 0.5}})
        );
        let e = request(
            json!({"messages": [], "prompt": "x"}).as_object().unwrap(),
            &o,
        )
        .unwrap_err();
        assert_eq!(e.status(), http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn replies_keep_the_text_after_the_last_inst() {
        let v = json!({"data": [{"generated_text": "<s>[INST] q [/INST]  Hi there. "}],
                       "usage": {"prompt_tokens": 5, "completion_tokens": 3}});
        let chat = response(RouteType::Chat, &v, "llama-2-7b").unwrap();
        assert_eq!(chat["choices"][0]["message"]["content"], "Hi there.");
        assert_eq!(chat["usage"]["completion_tokens"], 3);
        let c = response(RouteType::Completions, &v, "llama-2-7b").unwrap();
        assert_eq!(c["choices"][0]["text"], "Hi there.");
        assert_eq!(c["object"], "text_completion");
        for (bad, msg) in [
            (json!({}), "cannot parse response from llama2 endpoint"),
            (
                json!({"data": [{}]}),
                "response data is empty from llama2 endpoint",
            ),
        ] {
            let e = response(RouteType::Chat, &bad, "m").unwrap_err();
            assert_eq!(e.to_string(), msg);
        }
    }
}
