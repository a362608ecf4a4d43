//! In-process end-to-end for `request-transformer`: the upstream sees the rewritten method,
//! path, headers, query string and JSON body.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;

use bytes::Bytes;
use common::{client, config, entity, gateway, listen, SERVICE};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Map, Value};

/// Echoes method, path, query, headers and the body (as JSON when it parses, else text).
async fn upstream() -> SocketAddr {
    listen(|req| async move {
        let mut headers = Map::new();
        for (k, v) in req.headers() {
            headers.insert(k.to_string(), json!(v.to_str().unwrap_or("")));
        }
        let (m, p, q) = (
            req.method().to_string(),
            req.uri().path().to_string(),
            req.uri().query().unwrap_or("").to_string(),
        );
        let b = req.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice::<Value>(&b)
            .unwrap_or_else(|_| json!(String::from_utf8_lossy(&b)));
        let out = json!({"method": m, "path": p, "query": q, "headers": headers, "body": body});
        hyper::Response::new(Full::new(Bytes::from(out.to_string())))
    })
    .await
}

#[tokio::test]
async fn upstream_sees_the_transformed_request() {
    let up = upstream().await;
    let route = "10000000-0000-0000-0000-0000000000d1";
    let ents = config(
        up,
        &[(route, "/t")],
        vec![(
            "plugins",
            json!({"id": "20000000-0000-0000-0000-0000000000d1", "name": "request-transformer",
            "route": {"id": route},
            "config": {
                "http_method": "PUT",
                "remove": {"headers": ["x-drop"], "querystring": ["drop"], "body": ["secret"]},
                "rename": {"headers": ["x-old:x-new"], "body": ["old:new"]},
                "replace": {"uri": "/v2/items", "body": ["model:gpt-4"]},
                "add": {"headers": ["x-added:1"], "querystring": ["added:yes"], "body": ["user:bob"]},
                "append": {"headers": ["x-multi:b"]}
            }}),
        )],
    );
    let (gw, _state) = gateway(&ents).await;
    let body = json!({"secret": "s", "old": 1, "model": "gpt-3", "keep": true}).to_string();
    let req = hyper::Request::builder()
        .method("POST")
        .uri(format!("http://{gw}/t/x?drop=1&keep=2"))
        .header("content-type", "application/json")
        .header("x-drop", "1")
        .header("x-old", "o")
        .header("x-multi", "a")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let r = client().request(req).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value =
        serde_json::from_slice(&r.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(v["method"], "PUT");
    assert_eq!(v["path"], "/v2/items");
    assert_eq!(v["query"], "keep=2&added=yes");
    let h = &v["headers"];
    assert!(h.get("x-drop").is_none() && h.get("x-old").is_none(), "{h}");
    assert_eq!(h["x-new"], "o");
    assert_eq!(h["x-added"], "1");
    assert_eq!(
        v["body"],
        json!({"new": 1, "model": "gpt-4", "keep": true, "user": "bob"})
    );
    let len: usize = h["content-length"].as_str().unwrap().parse().unwrap();
    assert_eq!(len, v["body"].to_string().len());
}

#[tokio::test]
async fn templates_render_from_the_request_as_it_arrived() {
    let up = upstream().await;
    let route = "10000000-0000-0000-0000-0000000000d2";
    let mut ents = config(up, &[], vec![]);
    ents.push(entity(
        "routes",
        json!({"id": route, "name": "users", "paths": ["~/users/(?<user>\\w+)/orders/(\\d+)$"],
            "service": {"id": SERVICE}}),
    ));
    ents.push(entity(
        "plugins",
        json!({"id": "20000000-0000-0000-0000-0000000000d2", "name": "request-transformer",
        "route": {"id": route},
        "config": {
            "remove": {"headers": ["x-tenant"]},
            "replace": {"uri": "/v2/$(uri_captures.user)/$(uri_captures[2])"},
            "add": {
                "headers": ["x-from-tenant:$(headers[\"x-tenant\"])", "x-absent:$(headers.x_none)",
                            "x-q:$(query_params.q or 'none')"],
                "querystring": ["order:$(uri_captures[2])", "miss:$(query_params.nope)"],
                "body": ["user:$(uri_captures.user)"]
            }
        }}),
    ));
    let (gw, _state) = gateway(&ents).await;
    let req = hyper::Request::builder()
        .method("POST")
        .uri(format!("http://{gw}/users/ann/orders/42?keep=1"))
        .header("content-type", "application/json")
        .header("x-tenant", "acme")
        .body(Full::new(Bytes::from(r#"{"a":1}"#)))
        .unwrap();
    let r = client().request(req).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value =
        serde_json::from_slice(&r.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(v["path"], "/v2/ann/42");
    // A missing value renders empty: `miss=` in the query, no header at all.
    assert_eq!(v["query"], "keep=1&order=42&miss=");
    let h = &v["headers"];
    // The removed header is still readable by templates (Kong reads the original headers).
    assert!(h.get("x-tenant").is_none(), "{h}");
    assert_eq!(h["x-from-tenant"], "acme");
    assert!(h.get("x-absent").is_none(), "{h}");
    assert_eq!(h["x-q"], "none");
    assert_eq!(v["body"], json!({"a": 1, "user": "ann"}));
}
