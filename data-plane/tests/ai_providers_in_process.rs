//! In-process end-to-end for non-OpenAI providers: a tiny hyper upstream speaking Anthropic's
//! Messages API (JSON and SSE) and Ollama's NDJSON, the proxy on port 0 with `ai-proxy`
//! routes for each, and assertions on the OpenAI-format replies, headers and token metrics.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use data_plane::State;
use serde_json::{json, Value};

use common::{client, entity, header, json_body, listen, respond, send};

const ANTHROPIC_SSE: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-x-1\",\"usage\":{\"input_tokens\":8,\"output_tokens\":1}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi \"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"there\"}}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":4}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

async fn upstream() -> SocketAddr {
    listen(|req| async move {
        let path = req.uri().path().to_string();
        let h = |k: &str| header(&req, k).unwrap_or_default();
        let (key, version) = (h("x-api-key"), h("anthropic-version"));
        let v = json_body(req.into_body()).await;
        let (ct, out) = match (path.as_str(), v["stream"] == json!(true)) {
            ("/v1/messages", false) => ("application/json", json!({
                "id": "msg_0", "type": "message", "model": "claude-x-1",
                "content": [{"type": "text", "text": format!("key={key} version={version} system={}", v["system"])}],
                "stop_reason": "max_tokens", "usage": {"input_tokens": 10, "output_tokens": 5}
            }).to_string()),
            ("/v1/messages", true) => ("text/event-stream", ANTHROPIC_SSE.to_string()),
            ("/api/chat", _) => ("application/x-ndjson", concat!(
                "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"yo\"},\"done\":false}\n",
                "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":3,\"eval_count\":1}\n"
            ).to_string()),
            _ => ("application/json", "{}".to_string()),
        };
        respond(200, ct, out)
    })
    .await
}

async fn gateway(up: SocketAddr) -> (SocketAddr, Arc<State>) {
    let svc = "00000000-0000-0000-0000-0000000000a1";
    let route = |id: &str, path: &str| {
        entity(
            "routes",
            json!({"id": id, "name": path.trim_start_matches('/'), "paths": [path], "service": {"id": svc}}),
        )
    };
    let plugin = |id: &str, route: &str, config: Value| {
        entity(
            "plugins",
            json!({"id": id, "name": "ai-proxy", "route": {"id": route}, "config": config}),
        )
    };
    let ents = vec![
        entity(
            "services",
            json!({"id": svc, "name": "llm", "host": "llm.invalid"}),
        ),
        route("10000000-0000-0000-0000-0000000000a1", "/claude"),
        route("10000000-0000-0000-0000-0000000000a2", "/ollama"),
        plugin(
            "20000000-0000-0000-0000-0000000000a1",
            "10000000-0000-0000-0000-0000000000a1",
            json!({"route_type": "llm/v1/chat",
                   "auth": {"header_name": "x-api-key", "header_value": "sk-ant"},
                   "logging": {"log_statistics": true},
                   "model": {"provider": "anthropic", "name": "claude-x",
                             "options": {"anthropic_version": "2023-06-01", "upstream_url": format!("http://{up}/v1/messages")}}}),
        ),
        plugin(
            "20000000-0000-0000-0000-0000000000a2",
            "10000000-0000-0000-0000-0000000000a2",
            json!({"route_type": "llm/v1/chat", "logging": {"log_statistics": true},
                   "model": {"provider": "ollama", "name": "llama3",
                             "options": {"upstream_url": format!("http://{up}")}}}),
        ),
        entity(
            "plugins",
            json!({"id": "20000000-0000-0000-0000-0000000000a3", "name": "prometheus", "config": {}}),
        ),
    ];
    common::gateway(&ents).await
}

async fn post(gw: SocketAddr, path: &str, body: Value) -> (u16, http::HeaderMap, String) {
    let url = format!("http://{gw}{path}");
    let json = [("content-type", "application/json")];
    send(&client(), "POST", url, &json, body.to_string()).await
}

/// The `data:` payloads of an SSE body.
fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn anthropic_and_ollama_behind_openai_format() {
    let up = upstream().await;
    let (gw, state) = gateway(up).await;

    // Non-streamed: OpenAI body in, Anthropic body out (system lifted, auth and version sent).
    let (s, h, b) = post(
        gw,
        "/claude",
        json!({"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}]}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "key=sk-ant version=2023-06-01 system=\"S\""
    );
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["total_tokens"], 15);
    assert_eq!(h["x-kong-llm-model"], "anthropic/claude-x");
    assert_eq!(h["content-length"], b.len().to_string().as_str());

    // Streamed: Anthropic SSE re-framed as OpenAI chunks ending in [DONE].
    let (s, h, b) = post(
        gw,
        "/claude",
        json!({"messages": [{"role": "user", "content": "Hi"}], "stream": true}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(h["content-type"], "text/event-stream");
    let data = sse_data(&b);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hi there");
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 4);

    // Ollama NDJSON stream.
    let (s, _, b) = post(
        gw,
        "/ollama",
        json!({"messages": [{"role": "user", "content": "Hi"}], "stream": true}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let data = sse_data(&b);
    assert!(data[0].contains("\"content\":\"yo\""), "{b}");
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));

    // Kong's schema check: anthropic completions log no statistics.
    let bad = proto::schema::plugins::PluginConfig::parse(
        "ai-proxy",
        &json!({"route_type": "llm/v1/completions", "logging": {"log_statistics": true},
                "model": {"provider": "anthropic", "name": "c"}}),
    );
    let errs = bad.unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        "config.@entity: anthropic does not support statistics when route_type is llm/v1/completions"
    );

    // Token metrics per provider, streamed or not (usage read from translated bodies).
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let m = state.metrics.render();
    let labels = |p: &str, model: &str, tt: &str| {
        format!("kong_ai_llm_tokens_total{{ai_provider=\"{p}\",ai_model=\"{model}\",cache_status=\"\",vector_db=\"\",embeddings_provider=\"\",embeddings_model=\"\",token_type=\"{tt}\",workspace=\"default\"}}")
    };
    assert!(
        m.contains(&format!(
            "{} 18\n",
            labels("anthropic", "claude-x", "prompt_tokens")
        )),
        "{m}"
    );
    assert!(
        m.contains(&format!(
            "{} 9\n",
            labels("anthropic", "claude-x", "completion_tokens")
        )),
        "{m}"
    );
    assert!(
        m.contains(&format!(
            "{} 4\n",
            labels("ollama", "llama3", "total_tokens")
        )),
        "{m}"
    );
}
