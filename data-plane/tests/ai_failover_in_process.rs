//! In-process end-to-end of `ai-proxy-advanced` fail-over: targets whose upstream answers 500,
//! times out or refuses connections, next to one that serves; priority groups, retries per
//! `failover_criteria` (nginx semantics for POST), and the circuit breaker.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{client, entity, json_body, listen, respond, send};

/// Upstream: `/fail` → 500, `/slow` → 200 after 2 s, anything else → a chat completion.
async fn upstream(fails: Arc<AtomicUsize>) -> SocketAddr {
    listen(move |req| {
        let fails = fails.clone();
        async move {
            let path = req.uri().path().to_string();
            let v = json_body(req.into_body()).await;
            let (status, out) = match path.as_str() {
                "/fail" => {
                    fails.fetch_add(1, Ordering::SeqCst);
                    (500, json!({"error": {"message": "boom"}}))
                }
                "/slow" => {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    (200, json!({"model": "slow", "choices": []}))
                }
                _ => (
                    200,
                    json!({"model": v["model"], "choices": [],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}),
                ),
            };
            respond(status, "application/json", out.to_string())
        }
    })
    .await
}

fn target(name: &str, url: String, weight: u32) -> Value {
    json!({"route_type": "llm/v1/chat", "weight": weight, "logging": {"log_statistics": true},
           "model": {"provider": "openai", "name": name, "options": {"upstream_url": url}}})
}

async fn gateway(up: SocketAddr) -> SocketAddr {
    let svc = "00000000-0000-0000-0000-0000000000b1";
    let mut ents = vec![entity(
        "services",
        json!({"id": svc, "name": "llm", "host": "llm.invalid"}),
    )];
    let routes: Vec<(&str, Value)> = vec![
        // 500 with http_500 + non_idempotent: fail over; breaker takes the target out.
        (
            "/fo",
            json!({"algorithm": "priority", "max_fails": 1, "fail_timeout": 60000,
            "failover_criteria": ["error", "timeout", "http_500", "non_idempotent"]}),
        ),
        // Timeout on the first target.
        (
            "/slow",
            json!({"algorithm": "priority", "read_timeout": 300,
            "failover_criteria": ["timeout", "non_idempotent"]}),
        ),
        // Connection refused: retried with the default criteria.
        ("/dead", json!({"algorithm": "priority"})),
        // 500 without http_500 in the criteria: the client gets the 500.
        ("/nofo", json!({"algorithm": "priority"})),
    ];
    for (i, (path, balancer)) in routes.into_iter().enumerate() {
        let first = match path {
            "/slow" => format!("http://{up}/slow"),
            "/dead" => "http://127.0.0.1:1/v1/chat/completions".to_string(),
            _ => format!("http://{up}/fail"),
        };
        let rid = format!("10000000-0000-0000-0000-0000000000c{i}");
        ents.push(entity(
            "routes",
            json!({"id": rid, "name": format!("r{i}"), "paths": [path], "service": {"id": svc}}),
        ));
        ents.push(entity(
            "plugins",
            json!({"id": format!("20000000-0000-0000-0000-0000000000c{i}"), "name": "ai-proxy-advanced",
                   "route": {"id": rid},
                   "config": {"balancer": balancer, "targets": [
                       target("primary", first, 100),
                       target("backup", format!("http://{up}/v1/chat/completions"), 10)]}}),
        ));
    }
    common::gateway(&ents).await.0
}

async fn chat(gw: SocketAddr, path: &str) -> (u16, http::HeaderMap, Value) {
    let body = json!({"messages": [{"role": "user", "content": "hi"}]}).to_string();
    let url = format!("http://{gw}{path}");
    let json = [("content-type", "application/json")];
    let (status, h, b) = send(&client(), "POST", url, &json, body).await;
    (status, h, serde_json::from_str(&b).unwrap_or(Value::Null))
}

#[tokio::test]
async fn failover_on_500_timeout_and_refused_connection() {
    let fails = Arc::new(AtomicUsize::new(0));
    let up = upstream(fails.clone()).await;
    let gw = gateway(up).await;

    // The primary answers 500: the backup serves, and says so in X-Kong-LLM-Model.
    let (s, h, v) = chat(gw, "/fo").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["model"], "backup");
    assert_eq!(h["x-kong-llm-model"], "openai/backup");
    assert_eq!(fails.load(Ordering::SeqCst), 1);
    // max_fails 1: the primary is out for fail_timeout, so it is not even tried again.
    let (s, _, v) = chat(gw, "/fo").await;
    assert_eq!((s, v["model"].as_str()), (200, Some("backup")));
    assert_eq!(fails.load(Ordering::SeqCst), 1);

    // The primary times out (read_timeout 300 ms): the backup serves well before 2 s.
    let t = Instant::now();
    let (s, _, v) = chat(gw, "/slow").await;
    assert_eq!((s, v["model"].as_str()), (200, Some("backup")));
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );

    // Connection refused is an `error`, retried even for a POST with the default criteria.
    let (s, _, v) = chat(gw, "/dead").await;
    assert_eq!((s, v["model"].as_str()), (200, Some("backup")));

    // Default criteria do not name http_500: the 500 reaches the client.
    let (s, _, v) = chat(gw, "/nofo").await;
    assert_eq!(s, 500);
    assert_eq!(v["error"]["message"], "boom");
    assert_eq!(fails.load(Ordering::SeqCst), 2);
}
