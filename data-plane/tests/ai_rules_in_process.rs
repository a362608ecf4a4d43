//! In-process checks of the ai-proxy rules a client notices: `preserve` (client path and body
//! as sent, no prompt checks), `response_streaming: always`, `auth.allow_override`,
//! `model_name_header`, `Set-Cookie` dropped from a 200 and non-200 answers passed through
//! untouched (no `X-Kong-LLM-Model`), `consistent-hashing` on `hash_on_header`, and
//! `$(headers.…)` / `$(query_params.…)` model templates with Kong's 400s.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;

use bytes::Bytes;
use common::{client, entity, gateway, header, listen, send};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

const ERROR_BODY: &str = r#"{"error":{"message":"upstream says no","type":"server_error"}}"#;

/// Answers a chat completion naming the model it was asked for, with what it received in
/// `echo`; streams when asked to; `/status/500…` answers 500.
async fn upstream() -> SocketAddr {
    listen(|req| async move {
        let pq = req.uri().path_and_query().unwrap().to_string();
        let auth = header(&req, "authorization");
        let raw = req.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        let r = hyper::Response::builder().header("set-cookie", "session=abc");
        if pq.starts_with("/status/500") {
            return r
                .status(500)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(ERROR_BODY)))
                .unwrap();
        }
        let echo = json!({"path": pq, "authorization": auth,
                          "body": String::from_utf8_lossy(&raw)});
        let model = v["model"].as_str().unwrap_or("none");
        let (ct, out) = if v["stream"] == json!(true) {
            let chunk = json!({"object": "chat.completion.chunk", "model": model, "echo": echo,
                "choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": null}]});
            (
                "text/event-stream",
                format!("data: {chunk}\n\ndata: [DONE]\n\n"),
            )
        } else {
            let reply = json!({"id": "c", "object": "chat.completion", "model": model, "echo": echo,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "ok"}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}});
            ("application/json", reply.to_string())
        };
        r.header("content-type", ct)
            .body(Full::new(Bytes::from(out)))
            .unwrap()
    })
    .await
}

async fn proxy_to(up: SocketAddr) -> SocketAddr {
    let svc = "00000000-0000-0000-0000-0000000000c1";
    let chat = |name: &str, path: &str| format!("http://{up}{path}/{name}");
    let hashed: Vec<Value> = ["m-a", "m-b", "m-c"]
        .iter()
        .map(|m| {
            json!({"route_type": "llm/v1/chat", "model": {"provider": "openai", "name": m,
                   "options": {"upstream_url": chat("hash", "")}}})
        })
        .collect();
    let routes: Vec<(&str, &str, Value)> = vec![
        (
            "/preserve",
            "ai-proxy",
            json!({"route_type": "preserve", "model": {"provider": "openai",
                   "options": {"upstream_url": format!("http://{up}")}}}),
        ),
        (
            "/always",
            "ai-proxy",
            json!({"route_type": "llm/v1/chat", "response_streaming": "always",
                   "model": {"provider": "openai", "name": "gpt-4o",
                             "options": {"upstream_url": chat("always", "")}}}),
        ),
        (
            "/override",
            "ai-proxy",
            json!({"route_type": "llm/v1/chat",
                   "auth": {"header_name": "Authorization", "header_value": "Bearer gw", "allow_override": true},
                   "model": {"provider": "openai", "name": "gpt-4o",
                             "options": {"upstream_url": chat("override", "")}}}),
        ),
        (
            "/fixed",
            "ai-proxy",
            json!({"route_type": "llm/v1/chat",
                   "auth": {"header_name": "Authorization", "header_value": "Bearer gw"},
                   "model": {"provider": "openai", "name": "gpt-4o",
                             "options": {"upstream_url": chat("fixed", "")}}}),
        ),
        (
            "/noheader",
            "ai-proxy",
            json!({"route_type": "llm/v1/chat", "model_name_header": false,
                   "model": {"provider": "openai", "name": "gpt-4o",
                             "options": {"upstream_url": chat("noheader", "")}}}),
        ),
        (
            "/err",
            "ai-proxy",
            json!({"route_type": "llm/v1/chat",
                   "model": {"provider": "openai", "name": "gpt-4o",
                             "options": {"upstream_url": chat("err", "/status/500")}}}),
        ),
        (
            "/templated",
            "ai-proxy",
            json!({"route_type": "llm/v1/chat",
                   "model": {"provider": "openai", "name": "$(headers.x-model)",
                             "options": {"upstream_url": format!("http://{up}"),
                                         "upstream_path": "$(query_params.to)"}}}),
        ),
        (
            "/hash",
            "ai-proxy-advanced",
            json!({"balancer": {"algorithm": "consistent-hashing"}, "targets": hashed}),
        ),
    ];
    let mut ents = vec![entity(
        "services",
        json!({"id": svc, "name": "llm", "host": "llm.invalid"}),
    )];
    for (i, (path, plugin, config)) in routes.into_iter().enumerate() {
        let rid = format!("10000000-0000-0000-0000-0000000000c{i}");
        ents.push(entity(
            "routes",
            json!({"id": rid, "name": format!("r{i}"), "paths": [path], "strip_path": false,
                   "service": {"id": svc}}),
        ));
        ents.push(entity(
            "plugins",
            json!({"id": format!("20000000-0000-0000-0000-0000000000c{i}"), "name": plugin,
                   "route": {"id": rid}, "config": config}),
        ));
    }
    gateway(&ents).await.0
}

async fn post(
    gw: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, http::HeaderMap, String) {
    let mut h = vec![("content-type", "application/json")];
    h.extend_from_slice(headers);
    send(
        &client(),
        "POST",
        format!("http://{gw}{path}"),
        &h,
        body.to_string(),
    )
    .await
}

fn echo(body: &str) -> Value {
    serde_json::from_str::<Value>(body).unwrap()["echo"].clone()
}

#[tokio::test]
async fn client_visible_rules() {
    let gw = proxy_to(upstream().await).await;
    let chat = r#"{"messages":[{"role":"user","content":"hi"}]}"#;

    // preserve: the client's path, query and body as sent, whatever the body is.
    let odd = r#"{"anything": [1, 2], "prompt_like": null}"#;
    let (s, h, b) = post(gw, "/preserve/v1/custom?x=1", &[], odd).await;
    assert_eq!(s, 200, "{b}");
    let e = echo(&b);
    assert_eq!(e["path"], "/preserve/v1/custom?x=1");
    assert_eq!(e["body"], odd);
    assert!(h.get("set-cookie").is_none(), "{h:?}");

    // response_streaming: always turns a plain request into a stream.
    let (s, h, b) = post(gw, "/always", &[], chat).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(h["content-type"], "text/event-stream");
    assert!(b.ends_with("data: [DONE]\n\n"), "{b}");
    let first: Value =
        serde_json::from_str(b.lines().next().unwrap().strip_prefix("data: ").unwrap()).unwrap();
    let sent: Value = serde_json::from_str(first["echo"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(sent["stream"], true);

    // allow_override keeps the client's credential; without it the gateway's wins.
    let mine = [("authorization", "Bearer mine")];
    let (_, _, b) = post(gw, "/override", &mine, chat).await;
    assert_eq!(echo(&b)["authorization"], "Bearer mine");
    let (_, _, b) = post(gw, "/override", &[], chat).await;
    assert_eq!(echo(&b)["authorization"], "Bearer gw");
    let (_, h, b) = post(gw, "/fixed", &mine, chat).await;
    assert_eq!(echo(&b)["authorization"], "Bearer gw");
    assert_eq!(h["x-kong-llm-model"], "openai/gpt-4o");
    assert!(h.get("set-cookie").is_none(), "{h:?}");

    // model_name_header: false.
    let (s, h, _) = post(gw, "/noheader", &[], chat).await;
    assert_eq!(s, 200);
    assert!(h.get("x-kong-llm-model").is_none(), "{h:?}");

    // A non-200 answer passes through as the upstream sent it, without the model header.
    let (s, h, b) = post(gw, "/err", &[], chat).await;
    assert_eq!((s, b.as_str()), (500, ERROR_BODY));
    assert!(h.get("x-kong-llm-model").is_none(), "{h:?}");

    // Templates: the model from a header, the upstream path from a query argument.
    let path = "/templated?to=%2Fv1%2Fchat%2Fcompletions%2Ftemplated";
    let (s, h, b) = post(gw, path, &[("x-model", "gpt-4.1")], chat).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(h["x-kong-llm-model"], "openai/gpt-4.1");
    let e = echo(&b);
    // The client's query is kept, as Kong keeps it.
    assert_eq!(
        e["path"],
        "/v1/chat/completions/templated?to=%2Fv1%2Fchat%2Fcompletions%2Ftemplated"
    );
    let sent: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
    assert_eq!(sent["model"], "gpt-4.1");
    let (s, _, b) = post(gw, path, &[], chat).await;
    assert_eq!(
        (s, b.as_str()),
        (
            400,
            r#"{"error":{"message":"'headers', key 'x-model' was not provided"}}"#
        )
    );
    let (s, _, b) = post(gw, "/templated", &[("x-model", "gpt-4.1")], chat).await;
    assert_eq!(
        (s, b.as_str()),
        (
            400,
            r#"{"error":{"message":"query_params key to was not provided"}}"#
        )
    );

    // consistent-hashing: one key always lands on one target; keys spread over all.
    let model_for = |b: &str| {
        serde_json::from_str::<Value>(b).unwrap()["model"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut sticky = HashSet::new();
    for _ in 0..6 {
        let (_, _, b) = post(gw, "/hash", &[("x-kong-llm-request-id", "user-1")], chat).await;
        sticky.insert(model_for(&b));
    }
    assert_eq!(sticky.len(), 1, "{sticky:?}");
    let mut spread = HashSet::new();
    for k in 0..24 {
        let key = format!("user-{k}");
        let (_, _, b) = post(
            gw,
            "/hash",
            &[("x-kong-llm-request-id", key.as_str())],
            chat,
        )
        .await;
        spread.insert(model_for(&b));
    }
    assert_eq!(spread.len(), 3, "{spread:?}");
}
