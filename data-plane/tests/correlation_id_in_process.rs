//! In-process end-to-end for `correlation-id`: the header reaches the upstream (generated or
//! the client's), is echoed only with `echo_downstream`, and also on Kong-made responses.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use common::{call, client, config, echo_upstream, gateway};
use serde_json::{json, Value};

#[tokio::test]
async fn correlation_header_upstream_and_echoed() {
    let up = echo_upstream().await;
    let (quiet, echo, auth) = (
        "10000000-0000-0000-0000-0000000000c1",
        "10000000-0000-0000-0000-0000000000c2",
        "10000000-0000-0000-0000-0000000000c3",
    );
    let ents = config(
        up,
        &[(quiet, "/quiet"), (echo, "/echo"), (auth, "/auth")],
        vec![
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000c1", "name": "correlation-id", "config": {}}),
            ),
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000c2", "name": "correlation-id",
                "route": {"id": echo}, "config": {"header_name": "X-Corr", "generator": "uuid", "echo_downstream": true}}),
            ),
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000c3", "name": "correlation-id",
                "route": {"id": auth}, "config": {"echo_downstream": true}}),
            ),
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000c4", "name": "key-auth",
                "route": {"id": auth}, "config": {}}),
            ),
        ],
    );
    let (gw, _state) = gateway(&ents).await;
    let c = client();

    // Global default: uuid#counter sent upstream, not echoed.
    let (s, h, b) = call(&c, "GET", format!("http://{gw}/quiet"), &[]).await;
    assert_eq!(s, 200, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    let id = v["headers"]["kong-request-id"].as_str().unwrap();
    assert!(id.contains('#'), "{id}");
    assert!(!h.contains_key("kong-request-id"));

    // Route-scoped config wins; a generated uuid is echoed; the client's own id is kept.
    let (_, h, b) = call(&c, "GET", format!("http://{gw}/echo"), &[]).await;
    let v: Value = serde_json::from_str(&b).unwrap();
    let sent = v["headers"]["x-corr"].as_str().unwrap();
    assert_eq!(sent.len(), 36, "{sent}");
    assert_eq!(h["x-corr"], sent);
    assert!(v["headers"].get("kong-request-id").is_none());
    let (_, h, b) = call(
        &c,
        "GET",
        format!("http://{gw}/echo"),
        &[("x-corr", "mine")],
    )
    .await;
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["headers"]["x-corr"], "mine");
    assert_eq!(h["x-corr"], "mine");

    // Runs before key-auth: the 401 Kong makes still carries the echoed id.
    let (s, h, _) = call(
        &c,
        "GET",
        format!("http://{gw}/auth"),
        &[("kong-request-id", "r-1")],
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(h["kong-request-id"], "r-1");
}
