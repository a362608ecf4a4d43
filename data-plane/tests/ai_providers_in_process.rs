//! In-process end-to-end for non-OpenAI providers: a tiny hyper upstream speaking Anthropic's
//! Messages API (JSON and SSE) and Ollama's NDJSON, the proxy on port 0 with `ai-proxy`
//! routes for each, and assertions on the OpenAI-format replies, headers and token metrics.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use data_plane::{runtime, State};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};

const ANTHROPIC_SSE: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-x-1\",\"usage\":{\"input_tokens\":8,\"output_tokens\":1}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi \"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"there\"}}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":4}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

async fn upstream() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                let svc = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let path = req.uri().path().to_string();
                    let h = |k: &str| {
                        req.headers()
                            .get(k)
                            .map(|v| v.to_str().unwrap().to_string())
                            .unwrap_or_default()
                    };
                    let (key, version) = (h("x-api-key"), h("anthropic-version"));
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
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
                    Ok::<_, Infallible>(
                        hyper::Response::builder()
                            .header("content-type", ct)
                            .body(Full::new(Bytes::from(out)))
                            .unwrap(),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    addr
}

fn entity(kind: &str, v: Value) -> proto::v1::Entity {
    proto::v1::Entity {
        kind: kind.into(),
        id: v["id"].as_str().unwrap().into(),
        json: v.to_string().into_bytes(),
    }
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
    let cfg = proto::schema::Config::from_entities(&ents).unwrap();
    let state = Arc::new(State::new("test-node".into()).unwrap());
    let rt = runtime::compile(&cfg, 1, "0123456789abcdef0123456789abcdef").unwrap();
    state.runtime.store(Arc::new(rt));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(data_plane::proxy::serve(l, state.clone()));
    (addr, state)
}

async fn post(gw: SocketAddr, path: &str, body: Value) -> (u16, http::HeaderMap, String) {
    let c: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = hyper::Request::post(format!("http://{gw}{path}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let r = c.request(req).await.unwrap();
    let status = r.status().as_u16();
    let h = r.headers().clone();
    let b = r.into_body().collect().await.unwrap().to_bytes();
    (status, h, String::from_utf8_lossy(&b).into_owned())
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
