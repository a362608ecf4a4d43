//! Bad input on the AI path, in process: invalid JSON, a non-JSON content type, a body above
//! `max_request_body_size`, a model other than the configured one, an upstream that answers
//! garbage (invalid HTTP, or a 200 that is not the provider's JSON) and one that cuts a stream.
//! Each gets Kong's error body; requests that die before the model is resolved are counted with
//! `ai_provider="UNSPECIFIED"`; a good request afterwards is unaffected.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use data_plane::State;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use common::{client, entity, raw_listen, read_request, send_cut};

/// Reads one request (head and `content-length` body), writes `answer` raw and closes.
async fn raw_upstream(answer: &'static [u8]) -> SocketAddr {
    raw_listen(move |mut s| async move {
        if read_request(&mut s, &mut Vec::new()).await.is_none() {
            return;
        }
        let _ = s.write_all(answer).await;
        let _ = s.shutdown().await;
    })
    .await
}

const CHAT_OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 96\r\n\r\n{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":2}}";
const NOT_JSON: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\nnot json!";
const GARBAGE: &[u8] = b"SURPRISE\r\n\r\n";
/// A chunked SSE answer that stops after one event, without the last chunk.
const CUT: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n2f\r\ndata: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n\r\n";

async fn gateway() -> (SocketAddr, Arc<State>) {
    let ok = raw_upstream(CHAT_OK).await;
    let not_json = raw_upstream(NOT_JSON).await;
    let garbage = raw_upstream(GARBAGE).await;
    let cut = raw_upstream(CUT).await;
    let svc = "00000000-0000-0000-0000-0000000000e1";
    let mut ents = vec![
        entity(
            "services",
            json!({"id": svc, "name": "llm", "host": "llm.invalid"}),
        ),
        entity(
            "plugins",
            json!({"id": "20000000-0000-0000-0000-0000000000e0", "name": "prometheus",
                   "config": {"ai_metrics": true}}),
        ),
    ];
    let routes = [
        ("/chat", "openai", ok, "/v1/chat/completions"),
        ("/claude", "anthropic", not_json, "/v1/messages"),
        ("/garbage", "openai", garbage, "/v1/chat/completions"),
        ("/cut", "openai", cut, "/v1/chat/completions"),
    ];
    for (i, (path, provider, up, upath)) in routes.into_iter().enumerate() {
        let rid = format!("10000000-0000-0000-0000-0000000000e{i}");
        ents.push(entity(
            "routes",
            json!({"id": rid, "name": format!("bad{i}"), "paths": [path], "service": {"id": svc}}),
        ));
        ents.push(entity(
            "plugins",
            json!({"id": format!("20000000-0000-0000-0000-0000000000e{}", i + 1), "name": "ai-proxy",
                   "route": {"id": rid},
                   "config": {"route_type": "llm/v1/chat", "max_request_body_size": 256,
                              "logging": {"log_statistics": true},
                              "model": {"provider": provider, "name": "gpt-4o",
                                        "options": {"upstream_url": format!("http://{up}{upath}")}}}}),
        ));
    }
    common::gateway(&ents).await
}

/// Status and body (or the error that cut it).
async fn post(gw: SocketAddr, path: &str, ct: &str, body: &str) -> (u16, Result<String, String>) {
    let url = format!("http://{gw}{path}");
    send_cut(
        &client(),
        "POST",
        url,
        &[("content-type", ct)],
        body.to_string(),
    )
    .await
}

fn kong_error(message: &str) -> String {
    json!({"error": {"message": message}}).to_string()
}

/// The value of the first series of `metric` whose labels start with `labels`.
fn series(metrics: &str, metric: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{metric}{{{labels}");
    metrics
        .lines()
        .find(|l| l.starts_with(&prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn bad_input_gets_kongs_errors_and_unspecified_metrics() {
    let (gw, state) = gateway().await;
    let chat = json!({"messages": [{"role": "user", "content": "hi"}]}).to_string();
    let json_ct = "application/json";
    let bad_json =
        kong_error("content-type header does not match request body, or bad JSON formatting");

    let (s, b) = post(gw, "/chat", json_ct, "{not json").await;
    assert_eq!((s, b.unwrap()), (400, bad_json.clone()));
    let (s, b) = post(gw, "/chat", "text/plain", &chat).await;
    assert_eq!((s, b.unwrap()), (400, bad_json));
    let big = json!({"messages": [{"role": "user", "content": "x".repeat(300)}]}).to_string();
    let (s, b) = post(gw, "/chat", json_ct, &big).await;
    assert_eq!(s, 413);
    assert_eq!(
        b.unwrap(),
        kong_error("request body is larger than max_request_body_size (256 bytes)")
    );
    let own = json!({"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}]});
    let (s, b) = post(gw, "/chat", json_ct, &own.to_string()).await;
    assert_eq!(
        (s, b.unwrap()),
        (400, kong_error("cannot use own model - must be: gpt-4o"))
    );

    // The upstream's fault: a 200 that is not Anthropic's JSON, an invalid HTTP answer.
    let (s, b) = post(gw, "/claude", json_ct, &chat).await;
    assert_eq!(
        (s, b.unwrap()),
        (
            500,
            kong_error(
                "transformation failed from type anthropic://llm/v1/chat: failed to decode anthropic response"
            )
        )
    );
    let (s, b) = post(gw, "/garbage", json_ct, &chat).await;
    assert_eq!(s, 502);
    assert_eq!(
        b.unwrap(),
        r#"{"message":"An invalid response was received from the upstream server"}"#
    );

    // A stream the upstream cuts: the client sees the event it sent, then no [DONE].
    let stream = json!({"messages": [{"role": "user", "content": "hi"}], "stream": true});
    let (s, b) = post(gw, "/cut", json_ct, &stream.to_string()).await;
    assert_eq!(s, 200);
    if let Ok(text) = b {
        assert!(!text.contains("[DONE]"), "{text}");
    }

    // Nothing carried over: a good request right after answers normally.
    let (s, b) = post(gw, "/chat", json_ct, &chat).await;
    let v: Value = serde_json::from_str(&b.unwrap()).unwrap();
    assert_eq!((s, v["id"].clone()), (200, json!("c1")));

    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let m = state.metrics.render();
    let requests = "kong_ai_llm_requests_total";
    assert_eq!(
        series(
            &m,
            requests,
            r#"ai_provider="UNSPECIFIED",ai_model="UNSPECIFIED""#
        ),
        Some(3.0),
        "{m}"
    );
    assert_eq!(
        series(
            &m,
            requests,
            r#"ai_provider="UNSPECIFIED",ai_model="gpt-3.5-turbo""#
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        series(&m, requests, r#"ai_provider="anthropic",ai_model="gpt-4o""#),
        Some(1.0),
        "{m}"
    );
    // /garbage, /cut and the good request.
    assert_eq!(
        series(&m, requests, r#"ai_provider="openai",ai_model="gpt-4o""#),
        Some(3.0),
        "{m}"
    );
}
