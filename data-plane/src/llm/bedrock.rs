//! Bedrock provider (Converse API): OpenAI chat body → `/model/{id}/converse[-stream]` body,
//! the reply back to a `chat.completion`, its event stream to OpenAI chunks, and the SigV4
//! headers of the final request (see `sigv4`).

use http::header::{HeaderName, HeaderValue};
use http::Uri;
use proto::schema::plugins::ai::{Auth, ModelOptions, RouteType};
use serde_json::{json, Map, Value};

use super::chunk::{self, Chunks};
use super::error::TranslateError;
use super::sigv4::{self, Credentials};
use super::stream::Translate;
use super::Usage;

/// The region: `options.bedrock.aws_region`, else `AWS_REGION` / `AWS_DEFAULT_REGION`.
pub fn region(options: &ModelOptions) -> Option<String> {
    options
        .bedrock
        .as_ref()
        .and_then(|b| b.get("aws_region"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .filter(|r| !r.is_empty())
}

/// `(base, path)` of a call: Converse for chat and completions, InvokeModel for embeddings;
/// the model id is percent-encoded (ids contain `:`).
pub fn endpoint(
    region: &str,
    model: &str,
    route_type: RouteType,
    stream: bool,
) -> (String, String) {
    let op = match (route_type, stream) {
        (RouteType::Embeddings, _) => "invoke",
        (_, true) => "converse-stream",
        (_, false) => "converse",
    };
    (
        format!("https://bedrock-runtime.{region}.amazonaws.com:443"),
        format!("/model/{}/{op}", sigv4::uri_encode(model, false)),
    )
}

/// The Converse body for an OpenAI chat body.
pub fn chat_request(
    body: &Map<String, Value>,
    top_k: Option<i64>,
) -> Result<Value, TranslateError> {
    let msgs = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| TranslateError::BadRequest("'messages' is required".into()))?;
    let mut system = Vec::new();
    let mut messages = Vec::new();
    for m in msgs {
        let content = m.get("content").unwrap_or(&Value::Null);
        let text = chunk::content_text(content);
        match m["role"].as_str().unwrap_or("user") {
            "system" | "developer" => system.push(json!({"text": text})),
            "assistant" => {
                let mut blocks = Vec::new();
                if !text.is_empty() {
                    blocks.push(json!({"text": text}));
                }
                for call in m["tool_calls"].as_array().into_iter().flatten() {
                    let args = call["function"]["arguments"].as_str().unwrap_or("{}");
                    let input: Value = serde_json::from_str(args).unwrap_or_else(|_| json!({}));
                    blocks.push(json!({"toolUse": {"toolUseId": call["id"],
                        "name": call["function"]["name"], "input": input}}));
                }
                messages.push(json!({"role": "assistant", "content": blocks}));
            }
            "tool" => messages.push(json!({"role": "user", "content": [{"toolResult": {
                "toolUseId": m["tool_call_id"], "content": [{"text": text}]}}]})),
            _ => messages.push(json!({"role": "user", "content": [{"text": text}]})),
        }
    }
    let mut out = Map::new();
    out.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    let mut inf = Map::new();
    if let Some(m) = chunk::max_tokens(body) {
        inf.insert("maxTokens".into(), m);
    }
    for (from, to) in [("temperature", "temperature"), ("top_p", "topP")] {
        if let Some(v) = body.get(from) {
            inf.insert(to.into(), v.clone());
        }
    }
    if let Some(s) = chunk::stop_list(body) {
        inf.insert("stopSequences".into(), s);
    }
    if !inf.is_empty() {
        out.insert("inferenceConfig".into(), Value::Object(inf));
    }
    if let Some(k) = top_k {
        out.insert("additionalModelRequestFields".into(), json!({"top_k": k}));
    }
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        let specs: Vec<Value> = tools
            .iter()
            .map(|t| {
                let f = &t["function"];
                json!({"toolSpec": {"name": f["name"],
                    "description": f.get("description").cloned().unwrap_or(json!("")),
                    "inputSchema": {"json": f.get("parameters").cloned().unwrap_or(json!({"type": "object"}))}}})
            })
            .collect();
        let mut cfg = json!({"tools": specs});
        match body.get("tool_choice") {
            Some(Value::String(s)) if s == "required" => cfg["toolChoice"] = json!({"any": {}}),
            Some(Value::String(s)) if s == "auto" => cfg["toolChoice"] = json!({"auto": {}}),
            Some(tc) if tc["function"]["name"].is_string() => {
                cfg["toolChoice"] = json!({"tool": {"name": tc["function"]["name"]}})
            }
            _ => {}
        }
        out.insert("toolConfig".into(), cfg);
    }
    Ok(Value::Object(out))
}

fn finish_reason(r: &str) -> &'static str {
    match r {
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "content_filtered" | "guardrail_intervened" => "content_filter",
        _ => "stop",
    }
}

fn usage_of(u: &Value) -> Usage {
    Usage {
        prompt_tokens: u["inputTokens"].as_u64().unwrap_or(0),
        completion_tokens: u["outputTokens"].as_u64().unwrap_or(0),
        total_tokens: u["totalTokens"].as_u64().unwrap_or(0),
    }
    .normalized()
}

/// A Converse reply as a `chat.completion`.
pub fn chat_response(v: &Value, model: &str) -> Result<Value, TranslateError> {
    let blocks = v["output"]["message"]["content"]
        .as_array()
        .ok_or_else(|| {
            TranslateError::BadResponse(
                "'output.message' not in bedrock llm/v1/chat response".into(),
            )
        })?;
    let mut text = String::new();
    let mut calls = Vec::new();
    for b in blocks {
        if let Some(t) = b["text"].as_str() {
            text.push_str(t);
        }
        if let Some(u) = b.get("toolUse") {
            calls.push(json!({"id": u["toolUseId"], "type": "function",
                "function": {"name": u["name"], "arguments": u["input"].to_string()}}));
        }
    }
    let mut message = json!({"role": "assistant", "content": text});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    Ok(chunk::chat_completion(
        "",
        model,
        message,
        finish_reason(v["stopReason"].as_str().unwrap_or("end_turn")),
        usage_of(&v["usage"]),
    ))
}

/// Converse stream events (`{"contentBlockDelta": …}` etc.) → OpenAI chunks.
#[derive(Debug, Default)]
pub struct ChatStream {
    chunks: Chunks,
    usage: Usage,
    tools: Vec<u64>,
}

impl ChatStream {
    pub fn new(model: &str) -> Self {
        ChatStream {
            chunks: Chunks::new("", model),
            ..Default::default()
        }
    }

    fn tool_index(&self, block: u64) -> usize {
        self.tools.iter().position(|b| *b == block).unwrap_or(0)
    }
}

impl Translate for ChatStream {
    fn event(&mut self, e: &Value, out: &mut Vec<Value>) {
        if e.get("messageStart").is_some() {
            out.push(self.chunks.text(""));
        } else if let Some(s) = e.get("contentBlockStart") {
            if let Some(u) = s["start"].get("toolUse") {
                let block = s["contentBlockIndex"].as_u64().unwrap_or(0);
                self.tools.push(block);
                let mut d = Map::new();
                d.insert("tool_calls".into(), json!([{"index": self.tool_index(block),
                    "id": u["toolUseId"], "type": "function", "function": {"name": u["name"], "arguments": ""}}]));
                out.push(self.chunks.delta(d, None));
            }
        } else if let Some(d) = e.get("contentBlockDelta") {
            if let Some(t) = d["delta"]["text"].as_str() {
                out.push(self.chunks.text(t));
            } else if let Some(input) = d["delta"]["toolUse"]["input"].as_str() {
                let index = self.tool_index(d["contentBlockIndex"].as_u64().unwrap_or(0));
                let mut delta = Map::new();
                delta.insert(
                    "tool_calls".into(),
                    json!([{"index": index, "function": {"arguments": input}}]),
                );
                out.push(self.chunks.delta(delta, None));
            }
        } else if let Some(s) = e.get("messageStop") {
            out.push(
                self.chunks
                    .finish(finish_reason(s["stopReason"].as_str().unwrap_or(""))),
            );
        } else if let Some(m) = e.get("metadata") {
            self.usage = usage_of(&m["usage"]);
        } else if let Some(x) = e.get("exception") {
            out.push(json!({"error": {"message": x["message"], "type": x["type"]}}));
        }
    }

    fn finish(&mut self, out: &mut Vec<Value>) {
        out.push(self.chunks.usage(self.usage));
    }
}

/// The credentials of a target: its auth fields, else `AWS_ACCESS_KEY_ID` /
/// `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`) of the DP's environment.
pub fn credentials(auth: Option<&Auth>) -> Option<Credentials> {
    let from_auth = auth.and_then(|a| {
        Some(Credentials {
            access_key_id: a.aws_access_key_id.clone()?,
            secret_access_key: a.aws_secret_access_key.clone()?,
            session_token: None,
        })
    });
    from_auth.or_else(|| {
        Some(Credentials {
            access_key_id: std::env::var("AWS_ACCESS_KEY_ID").ok()?,
            secret_access_key: std::env::var("AWS_SECRET_ACCESS_KEY").ok()?,
            session_token: std::env::var("AWS_SESSION_TOKEN").ok(),
        })
    })
}

/// The SigV4 headers (`x-amz-date`, `x-amz-content-sha256`, session token, `authorization`)
/// for a POST of `body` to `uri`, signed at `unix` seconds.
pub fn sign(
    uri: &Uri,
    body: &[u8],
    creds: &Credentials,
    region: &str,
    unix: u64,
) -> Result<Vec<(HeaderName, HeaderValue)>, TranslateError> {
    let host = uri
        .authority()
        .map(|a| match (uri.scheme_str(), a.port_u16()) {
            (Some("https"), Some(443)) | (Some("http"), Some(80)) => a.host().to_string(),
            _ => a.to_string(),
        })
        .ok_or_else(|| TranslateError::Url(format!("'{uri}' has no host")))?;
    let date = sigv4::amz_date(unix);
    let content = sigv4::sha256_hex(body);
    let mut headers = vec![
        ("host".to_string(), host),
        ("x-amz-content-sha256".to_string(), content.clone()),
        ("x-amz-date".to_string(), date.clone()),
    ];
    if let Some(t) = &creds.session_token {
        headers.push(("x-amz-security-token".to_string(), t.clone()));
    }
    let req = sigv4::Request {
        method: "POST",
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: headers.clone(),
        body,
    };
    let auth = sigv4::authorization(&req, creds, region, "bedrock", &date);
    headers.push(("authorization".to_string(), auth));
    headers
        .into_iter()
        .filter(|(k, _)| k != "host")
        .map(|(k, v)| {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| TranslateError::Url(e.to_string()))?;
            let value =
                HeaderValue::from_str(&v).map_err(|e| TranslateError::Url(e.to_string()))?;
            Ok((name, value))
        })
        .collect()
}
