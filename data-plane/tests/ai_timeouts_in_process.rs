//! In-process end-to-end of the AI upstream timeouts: ai-proxy uses its service's
//! connect/read/write timeouts, ai-proxy-advanced its balancer's. A slow upstream gets Kong's
//! 504, a stream that stalls between chunks is cut, an upstream that never reads the request
//! trips the write timeout and one whose accept queue is full the connect timeout, both failed
//! over under `failover_criteria: timeout`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use serde_json::{json, Value};

use common::{client, entity, json_body, listen, raw_listen, send_cut};

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn full(s: String) -> Body {
    Full::new(Bytes::from(s)).map_err(|e| match e {}).boxed()
}

/// `/slow` answers after 2 s; `/stall` streams one chunk, waits 3 s, then ends; anything else
/// answers a chat completion at once.
async fn upstream() -> SocketAddr {
    listen(|req| async move {
        let path = req.uri().path().to_string();
        let v = json_body(req.into_body()).await;
        let (ct, out) = match path.as_str() {
            "/slow" => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                ("application/json", full(json!({"model": "slow", "choices": []}).to_string()))
            }
            "/stall" => {
                let chunks = futures_util::stream::unfold(0u8, |n| async move {
                    let data = match n {
                        0 => "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"first\"}}]}\n\n",
                        1 => {
                            tokio::time::sleep(Duration::from_secs(3)).await;
                            "data: [DONE]\n\n"
                        }
                        _ => return None,
                    };
                    Some((Ok::<_, Infallible>(Frame::data(Bytes::from(data))), n + 1))
                });
                ("text/event-stream", StreamBody::new(chunks).boxed())
            }
            _ => (
                "application/json",
                full(json!({"model": v["model"], "object": "chat.completion", "choices": [],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
                .to_string()),
            ),
        };
        hyper::Response::builder()
            .header("content-type", ct)
            .body(out)
            .unwrap()
    })
    .await
}

/// Accepts connections and never reads from them (held for 30 s).
async fn black_hole() -> SocketAddr {
    raw_listen(|s| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    })
    .await
}

/// A listener with a full accept queue (backlog 1, never accepting): further connects hang.
async fn full_backlog() -> (SocketAddr, Vec<tokio::net::TcpStream>) {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let l = sock.listen(1).unwrap();
    let addr = l.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        let c = tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        );
        if let Ok(Ok(s)) = c.await {
            held.push(s);
        }
    }
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(l);
    });
    (addr, held)
}

fn openai(name: &str, url: String) -> Value {
    json!({"provider": "openai", "name": name, "options": {"upstream_url": url}})
}

async fn gateway(up: SocketAddr, hole: SocketAddr) -> SocketAddr {
    gateway_with(up, hole, hole).await
}

async fn gateway_with(up: SocketAddr, hole: SocketAddr, full: SocketAddr) -> SocketAddr {
    let svc = "00000000-0000-0000-0000-0000000000d1";
    let route = |i: u8, path: &str| {
        entity(
            "routes",
            json!({"id": format!("10000000-0000-0000-0000-0000000000d{i}"), "name": format!("t{i}"),
                   "paths": [path], "service": {"id": svc}}),
        )
    };
    let plugin = |i: u8, name: &str, config: Value| {
        entity(
            "plugins",
            json!({"id": format!("20000000-0000-0000-0000-0000000000d{i}"), "name": name,
                   "route": {"id": format!("10000000-0000-0000-0000-0000000000d{i}")}, "config": config}),
        )
    };
    let ents = vec![
        // ai-proxy takes the service's timeouts.
        entity(
            "services",
            json!({"id": svc, "name": "llm", "host": "llm.invalid", "read_timeout": 300}),
        ),
        route(1, "/svc-slow"),
        plugin(
            1,
            "ai-proxy",
            json!({"route_type": "llm/v1/chat", "model": openai("m", format!("http://{up}/slow"))}),
        ),
        route(2, "/svc-stall"),
        plugin(
            2,
            "ai-proxy",
            json!({"route_type": "llm/v1/chat", "model": openai("m", format!("http://{up}/stall"))}),
        ),
        route(3, "/write"),
        plugin(
            3,
            "ai-proxy-advanced",
            json!({"max_request_body_size": 0,
                   "balancer": {"algorithm": "priority", "write_timeout": 300,
                                "failover_criteria": ["timeout", "non_idempotent"]},
                   "targets": [
                       {"route_type": "llm/v1/chat", "weight": 100,
                        "model": openai("hole", format!("http://{hole}/v1/chat/completions"))},
                       {"route_type": "llm/v1/chat", "weight": 10,
                        "model": openai("backup", format!("http://{up}/v1/chat/completions"))}]}),
        ),
        route(4, "/connect"),
        plugin(
            4,
            "ai-proxy-advanced",
            json!({"balancer": {"algorithm": "priority", "connect_timeout": 300,
                                "failover_criteria": ["timeout", "non_idempotent"]},
                   "targets": [
                       {"route_type": "llm/v1/chat", "weight": 100,
                        "model": openai("unreachable", format!("http://{full}/v1/chat/completions"))},
                       {"route_type": "llm/v1/chat", "weight": 10,
                        "model": openai("backup", format!("http://{up}/v1/chat/completions"))}]}),
        ),
    ];
    common::gateway(&ents).await.0
}

/// Status, and the body or the error that cut it.
async fn post(gw: SocketAddr, path: &str, body: String) -> (u16, Result<String, String>) {
    let url = format!("http://{gw}{path}");
    let json = [("content-type", "application/json")];
    send_cut(&client(), "POST", url, &json, body).await
}

fn chat(stream: bool) -> String {
    json!({"messages": [{"role": "user", "content": "hi"}], "stream": stream}).to_string()
}

#[tokio::test]
async fn service_read_timeout_gives_kongs_504() {
    let (up, hole) = (upstream().await, black_hole().await);
    let gw = gateway(up, hole).await;
    let (status, body) = post(gw, "/svc-slow", chat(false)).await;
    assert_eq!(status, 504);
    assert_eq!(
        body.unwrap(),
        r#"{"message":"The upstream server is timing out"}"#
    );
}

#[tokio::test]
async fn stream_stalling_longer_than_read_timeout_is_cut() {
    let (up, hole) = (upstream().await, black_hole().await);
    let gw = gateway(up, hole).await;
    let (status, body) = post(gw, "/svc-stall", chat(true)).await;
    assert_eq!(status, 200);
    // The first chunk passed, the 3 s gap tripped the 300 ms read timeout: no [DONE].
    match body {
        Ok(text) => assert!(!text.contains("[DONE]"), "stream not cut: {text}"),
        Err(e) => assert!(!e.is_empty()),
    }
}

#[tokio::test]
async fn write_timeout_fails_over_to_the_next_target() {
    let (up, hole) = (upstream().await, black_hole().await);
    let gw = gateway(up, hole).await;
    // 16 MiB: more than the socket buffers hold, so writing to the black hole blocks.
    let filler = "x".repeat(16 * 1024 * 1024);
    let body = json!({"messages": [{"role": "user", "content": filler}]}).to_string();
    let (status, body) = post(gw, "/write", body).await;
    let body = body.unwrap();
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["model"], "backup");
}

#[tokio::test]
async fn connect_timeout_fails_over_to_the_next_target() {
    let (up, hole) = (upstream().await, black_hole().await);
    let (full, _held) = full_backlog().await;
    let gw = gateway_with(up, hole, full).await;
    // Without the 300 ms connect timeout the connect would hang for minutes (SYNs dropped).
    let (status, body) =
        tokio::time::timeout(Duration::from_secs(20), post(gw, "/connect", chat(false)))
            .await
            .expect("connect_timeout not applied");
    let body = body.unwrap();
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["model"], "backup");
}
