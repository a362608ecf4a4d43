//! In-process end-to-end for `file-log`: each request (proxied or answered by Kong) appends one
//! Kong-serialized JSON line to the configured file, with secrets redacted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::{Duration, Instant};

use common::{call, client, config, echo_upstream, gateway};
use serde_json::{json, Value};

fn lines(path: &std::path::Path, n: usize) -> Vec<Value> {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let v: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if v.len() >= n || Instant::now() > until {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn one_serialized_line_per_request() {
    let dir = std::env::temp_dir().join(format!("file-log-it-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("requests.log");
    let up = echo_upstream().await;
    let (open, auth) = (
        "10000000-0000-0000-0000-0000000000f1",
        "10000000-0000-0000-0000-0000000000f2",
    );
    let ents = config(
        up,
        &[(open, "/open"), (auth, "/auth")],
        vec![
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000f1", "name": "file-log",
                       "config": {"path": path.display().to_string()}}),
            ),
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000f2", "name": "key-auth",
                       "route": {"id": auth}, "config": {"key_names": ["x-key"]}}),
            ),
            (
                "consumers",
                json!({"id": "30000000-0000-0000-0000-0000000000f1", "username": "alice"}),
            ),
            (
                "keyauth_credentials",
                json!({"id": "40000000-0000-0000-0000-0000000000f1", "key": "s3cret",
                       "consumer": {"id": "30000000-0000-0000-0000-0000000000f1"}}),
            ),
        ],
    );
    let (gw, _state) = gateway(&ents).await;
    let c = client();

    let (s, _, b) = call(
        &c,
        "GET",
        format!("http://{gw}/open/x?a=1&a=2"),
        &[("authorization", "Bearer top-secret")],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let got = lines(&path, 1);
    assert_eq!(got.len(), 1);
    let e = &got[0];
    assert_eq!(e["request"]["method"], "GET");
    assert_eq!(e["request"]["uri"], "/open/x?a=1&a=2");
    assert_eq!(e["request"]["querystring"]["a"], json!(["1", "2"]));
    assert_eq!(e["request"]["headers"]["authorization"], "REDACTED");
    assert_eq!(e["response"]["status"], 200);
    assert_eq!(e["response"]["headers"]["content-type"], "application/json");
    assert_eq!(e["route"]["name"], "ropen");
    assert_eq!(e["service"]["name"], "echo");
    // strip_path (default true) removes the matched prefix.
    assert_eq!(e["upstream_uri"], "/x?a=1&a=2");
    assert_eq!(e["upstream_status"], "200");
    assert_eq!(e["source"], "service");
    assert_eq!(e["client_ip"], "127.0.0.1");
    assert!(e["latencies"]["proxy"].as_i64().unwrap() >= 0);
    assert!(e["response"]["size"].as_u64().unwrap() > 0);
    assert!(!e.to_string().contains("top-secret"));

    // Kong's own 401 is logged too; then an authenticated call names its consumer.
    let (s, _, _) = call(&c, "GET", format!("http://{gw}/auth"), &[]).await;
    assert_eq!(s, 401);
    let (s, _, _) = call(
        &c,
        "GET",
        format!("http://{gw}/auth"),
        &[("x-key", "s3cret")],
    )
    .await;
    assert_eq!(s, 200);
    let got = lines(&path, 3);
    assert_eq!(got.len(), 3);
    assert_eq!(got[1]["response"]["status"], 401);
    assert_eq!(got[1]["source"], "exit");
    assert_eq!(got[1]["latencies"]["proxy"], -1);
    assert_eq!(got[2]["consumer"]["username"], "alice");
    assert!(!got[2].to_string().contains("s3cret"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn ai_statistics_and_payload_are_logged() {
    let dir = std::env::temp_dir().join(format!("file-log-ai-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ai.log");
    let up = echo_upstream().await;
    let route = "10000000-0000-0000-0000-0000000000f3";
    let ents = config(
        up,
        &[(route, "/chat")],
        vec![
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000f3", "name": "file-log",
                       "route": {"id": route}, "config": {"path": path.display().to_string()}}),
            ),
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000f4", "name": "ai-proxy",
                       "route": {"id": route},
                       "config": {"route_type": "llm/v1/chat",
                                  "auth": {"header_name": "Authorization", "header_value": "Bearer sk-hidden"},
                                  "logging": {"log_statistics": true, "log_payloads": true},
                                  "model": {"provider": "openai", "name": "gpt-4",
                                            "options": {"upstream_url": format!("http://{up}/v1/chat/completions")}}}}),
            ),
        ],
    );
    let (gw, _state) = gateway(&ents).await;
    let body = r#"{"messages":[{"role":"user","content":"hi"}]}"#;
    let req = hyper::Request::builder()
        .method("POST")
        .uri(format!("http://{gw}/chat"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .unwrap();
    let r = client().request(req).await.unwrap();
    assert_eq!(r.status(), 200);
    drop(
        http_body_util::BodyExt::collect(r.into_body())
            .await
            .unwrap(),
    );
    let got = lines(&path, 1);
    assert_eq!(got.len(), 1);
    let ai = &got[0]["ai"]["proxy"];
    assert_eq!(ai["meta"]["provider_name"], "openai", "{}", got[0]);
    assert_eq!(ai["meta"]["request_model"], "gpt-4");
    assert_eq!(ai["payload"]["request"], body);
    // The response payload is the upstream's body (here an echo of the upstream request, auth
    // header included); the secret appears nowhere else.
    let response: Value =
        serde_json::from_str(ai["payload"]["response"].as_str().unwrap()).unwrap();
    assert_eq!(response["path"], "/v1/chat/completions");
    let mut rest = got[0].clone();
    rest["ai"]["proxy"]["payload"]["response"] = Value::Null;
    assert!(!rest.to_string().contains("sk-hidden"));
    std::fs::remove_dir_all(&dir).unwrap();
}
