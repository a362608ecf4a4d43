//! In-process end-to-end of route types beyond chat: a tiny upstream speaking Cohere's
//! `/v2/embed` and `/v1/generate` (NDJSON stream) and Anthropic's `/v1/complete`, the proxy
//! with `ai-proxy` routes for each, a file-log with `log_payloads`, and assertions on the
//! OpenAI-format replies, Kong's 400 for a route type the provider has no API for, the token
//! metrics, and the logged `ai.proxy.payload` of a translated stream.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use data_plane::State;
use serde_json::{json, Value};

use common::{client, entity, json_body, listen, respond, send};

const GENERATE_STREAM: &str = concat!(
    "{\"index\":0,\"text\":\"Once\",\"is_finished\":false}\n",
    "{\"index\":0,\"text\":\" more\",\"is_finished\":false}\n",
    "{\"is_finished\":true,\"finish_reason\":\"COMPLETE\",\"response\":{\"id\":\"gen-7\",",
    "\"meta\":{\"billed_units\":{\"input_tokens\":3,\"output_tokens\":2}}}}\n",
);

async fn upstream() -> SocketAddr {
    listen(|req| async move {
        let path = req.uri().path().to_string();
        let v = json_body(req.into_body()).await;
        let (ct, out) = match path.as_str() {
            "/v2/embed" => ("application/json", json!({"id": "e", "embeddings":
                {"float": v["texts"].as_array().unwrap().iter().map(|_| json!([0.5, 0.25])).collect::<Vec<_>>()},
                "meta": {"billed_units": {"input_tokens": 4}}}).to_string()),
            "/v1/generate" => ("application/x-ndjson", GENERATE_STREAM.to_string()),
            "/v1/complete" => ("application/json", json!({"type": "completion",
                "completion": format!("echo:{}", v["prompt"].as_str().unwrap()),
                "stop_reason": "stop_sequence", "model": v["model"]}).to_string()),
            _ => ("application/json", "{}".to_string()),
        };
        respond(200, ct, out)
    })
    .await
}

async fn gateway(up: SocketAddr, log: &Path) -> (SocketAddr, Arc<State>) {
    let svc = "00000000-0000-0000-0000-0000000000f1";
    let mut ents = vec![
        entity(
            "services",
            json!({"id": svc, "name": "llm", "host": "llm.invalid"}),
        ),
        entity(
            "plugins",
            json!({"id": "20000000-0000-0000-0000-0000000000f0", "name": "prometheus",
                   "config": {"ai_metrics": true}}),
        ),
    ];
    let routes = [
        (
            "/embed",
            "llm/v1/embeddings",
            "cohere",
            "embed-english-v3.0",
            "/v2/embed",
        ),
        (
            "/generate",
            "llm/v1/completions",
            "cohere",
            "command-r",
            "/v1/generate",
        ),
        (
            "/complete",
            "llm/v1/completions",
            "anthropic",
            "claude-2.1",
            "/v1/complete",
        ),
        (
            "/claude-embed",
            "llm/v1/embeddings",
            "anthropic",
            "claude-2.1",
            "/v1/embed",
        ),
    ];
    for (i, (path, route_type, provider, model, upath)) in routes.into_iter().enumerate() {
        let rid = format!("10000000-0000-0000-0000-0000000000f{i}");
        // Kong refuses statistics for anthropic completions.
        let stats = !(provider == "anthropic" && route_type == "llm/v1/completions");
        ents.push(entity(
            "routes",
            json!({"id": rid, "name": format!("rt{i}"), "paths": [path], "service": {"id": svc}}),
        ));
        ents.push(entity(
            "plugins",
            json!({"id": format!("20000000-0000-0000-0000-0000000000f{}", i + 1), "name": "ai-proxy",
                   "route": {"id": rid},
                   "config": {"route_type": route_type,
                              "logging": {"log_statistics": stats, "log_payloads": stats},
                              "model": {"provider": provider, "name": model,
                                        "options": {"upstream_url": format!("http://{up}{upath}")}}}}),
        ));
    }
    ents.push(entity(
        "plugins",
        json!({"id": "20000000-0000-0000-0000-0000000000f9", "name": "file-log",
               "route": {"id": "10000000-0000-0000-0000-0000000000f1"},
               "config": {"path": log.display().to_string()}}),
    ));
    common::gateway(&ents).await
}

async fn post(gw: SocketAddr, path: &str, body: Value) -> (u16, String) {
    let url = format!("http://{gw}{path}");
    let json = [("content-type", "application/json")];
    let (status, _, b) = send(&client(), "POST", url, &json, body.to_string()).await;
    (status, b)
}

/// The first log line of `path`, waiting for the writer thread.
async fn first_line(path: &Path) -> Value {
    for _ in 0..100 {
        if let Some(l) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.lines().next().map(str::to_string))
        {
            return serde_json::from_str(&l).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("nothing logged to {}", path.display());
}

#[tokio::test]
async fn embeddings_and_completions_through_the_proxy() {
    let dir = std::env::temp_dir().join(format!("ai-route-types-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("ai.log");
    let up = upstream().await;
    let (gw, state) = gateway(up, &log).await;

    // Cohere embeddings: OpenAI list back, usage from billed units.
    let (s, b) = post(gw, "/embed", json!({"input": ["a", "b"]})).await;
    assert_eq!(s, 200, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][1]["embedding"], json!([0.5, 0.25]));
    assert_eq!(v["usage"]["prompt_tokens"], 4);

    // Cohere completions, streamed: NDJSON re-framed as text_completion chunks.
    let (s, b) = post(gw, "/generate", json!({"prompt": "Tell", "stream": true})).await;
    assert_eq!(s, 200, "{b}");
    let data: Vec<&str> = b
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"));
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(text, "Once more");
    assert!(chunks.iter().all(|c| c["object"] == "text_completion"));

    // Anthropic completions (non-streamed): /v1/complete with Kong's prompt framing.
    let (s, b) = post(gw, "/complete", json!({"prompt": "Hi"})).await;
    assert_eq!(s, 200, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"][0]["text"], "echo:Human: Hi\n\nAssistant:");

    // A route type the provider has no API for: Kong's 400, the upstream never called.
    let (s, b) = post(gw, "/claude-embed", json!({"input": "x"})).await;
    assert_eq!(s, 400);
    assert_eq!(
        b,
        json!({"error": {"message": "no transformer for anthropic://llm/v1/embeddings"}})
            .to_string()
    );

    // Tokens of the translated stream, and its payload as Kong logs it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let m = state.metrics.render();
    let tokens = |model: &str, tt: &str| {
        m.lines()
            .find(|l| {
                l.starts_with(&format!(
                    "kong_ai_llm_tokens_total{{ai_provider=\"cohere\",ai_model=\"{model}\""
                )) && l.contains(&format!("token_type=\"{tt}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    assert_eq!(tokens("command-r", "total_tokens"), Some(5.0), "{m}");
    assert_eq!(
        tokens("embed-english-v3.0", "prompt_tokens"),
        Some(4.0),
        "{m}"
    );
    let entry = first_line(&log).await;
    let payload = &entry["ai"]["proxy"]["payload"];
    assert_eq!(
        payload["request"],
        json!({"prompt": "Tell", "stream": true}).to_string()
    );
    let response: Value = serde_json::from_str(payload["response"].as_str().unwrap()).unwrap();
    assert_eq!(response["choices"][0]["message"]["content"], "Once more");
    assert_eq!(response["usage"]["total_tokens"], 5);
    std::fs::remove_dir_all(&dir).unwrap();
}
