//! In-process end-to-end of `ai-mcp-proxy` (passthrough-listener): a small MCP Streamable HTTP
//! server upstream (sessions, JSON and SSE answers, 405 on GET, DELETE), two DP replicas with
//! the same config, and one session used through both; then the `kong_ai_mcp_*` metrics.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use data_plane::State;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

use common::{client, entity, header, listen, respond};

type Sessions = Arc<Mutex<Vec<String>>>;

fn reply(
    status: u16,
    ct: &str,
    session: Option<&str>,
    body: String,
) -> hyper::Response<Full<Bytes>> {
    let mut r = respond(status, ct, body);
    if let Some(s) = session {
        r.headers_mut().insert("mcp-session-id", s.parse().unwrap());
    }
    r
}

/// The MCP server: `initialize` opens a session; later requests need it; `tools/call` answers
/// as SSE echoing the protocol version header; GET is 405; DELETE ends the session.
async fn mcp_server(sessions: Sessions) -> SocketAddr {
    listen(move |req| {
        let sessions = sessions.clone();
        async move {
            let h = |k: &str| header(&req, k);
            let (session, version) = (h("mcp-session-id"), h("mcp-protocol-version"));
            let method = req.method().clone();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let known = session
                .as_ref()
                .is_some_and(|s| sessions.lock().unwrap().contains(s));
            match method.as_str() {
                "GET" => reply(405, "text/plain", None, String::new()),
                "DELETE" if known => {
                    sessions
                        .lock()
                        .unwrap()
                        .retain(|s| Some(s) != session.as_ref());
                    reply(200, "text/plain", None, String::new())
                }
                _ => {
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    match v["method"].as_str() {
                        Some("initialize") => {
                            let id =
                                format!("s-{}", sessions.lock().unwrap().len() + 1);
                            sessions.lock().unwrap().push(id.clone());
                            let out = json!({"jsonrpc": "2.0", "id": v["id"], "result": {
                                "protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "t"}}});
                            reply(200, "application/json", Some(&id), out.to_string())
                        }
                        _ if !known => {
                            reply(404, "application/json", None, "{}".into())
                        }
                        Some("bad/params") => {
                            let out = json!({"jsonrpc": "2.0", "id": v["id"],
                                "error": {"code": -32602, "message": "bad params"}});
                            reply(200, "application/json", None, out.to_string())
                        }
                        Some("tools/call") => {
                            let out = json!({"jsonrpc": "2.0", "id": v["id"], "result": {
                                "content": [{"type": "text", "text": format!("version={}", version.unwrap_or_default())}],
                                "isError": false}});
                            reply(
                                200,
                                "text/event-stream",
                                None,
                                format!("id: 1\ndata: {out}\n\n"),
                            )
                        }
                        _ => reply(202, "application/json", None, String::new()),
                    }
                }
            }
        }
    })
    .await
}

/// One DP replica; each compiles the same config on its own.
async fn replica(up: SocketAddr) -> (SocketAddr, Arc<State>) {
    let svc = "00000000-0000-0000-0000-0000000000d1";
    let ents = vec![
        entity(
            "services",
            json!({"id": svc, "name": "mcp-svc", "host": "127.0.0.1", "port": up.port()}),
        ),
        entity(
            "routes",
            json!({"id": "10000000-0000-0000-0000-0000000000d1", "name": "mcp-route",
            "paths": ["/mcp"], "service": {"id": svc}}),
        ),
        entity(
            "plugins",
            json!({"id": "20000000-0000-0000-0000-0000000000d1", "name": "ai-mcp-proxy",
            "config": {"mode": "passthrough-listener", "logging": {"log_statistics": true}}}),
        ),
        entity(
            "plugins",
            json!({"id": "20000000-0000-0000-0000-0000000000d2", "name": "prometheus", "config": {}}),
        ),
    ];
    common::gateway(&ents).await
}

/// One request to `/mcp` as an MCP client sends it (a null `body` sends none).
async fn send(
    gw: SocketAddr,
    method: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (u16, http::HeaderMap, String) {
    let mut h = vec![
        ("accept", "application/json, text/event-stream"),
        ("content-type", "application/json"),
    ];
    h.extend_from_slice(headers);
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    common::send(&client(), method, format!("http://{gw}/mcp"), &h, body).await
}

#[tokio::test]
async fn one_session_across_two_replicas() {
    let sessions: Sessions = Arc::default();
    let up = mcp_server(sessions.clone()).await;
    let (a, state_a) = replica(up).await;
    let (b, state_b) = replica(up).await;

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}});
    let (s, h, _) = send(a, "POST", &[], init).await;
    assert_eq!(s, 200);
    let sid = h["mcp-session-id"].to_str().unwrap().to_string();

    let v = [
        ("mcp-session-id", sid.as_str()),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(send(b, "POST", &v, note).await.0, 202);
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "add", "arguments": {}}});
    let (s, h, body) = send(b, "POST", &v, call).await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "text/event-stream");
    assert!(body.starts_with("id: 1\ndata: "), "{body}");
    assert!(body.contains("version=2025-06-18"), "{body}");

    let bad = json!({"jsonrpc": "2.0", "id": 9, "method": "bad/params"});
    assert_eq!(send(a, "POST", &v, bad).await.0, 200);
    assert_eq!(send(a, "GET", &v, Value::Null).await.0, 405);
    assert_eq!(send(a, "DELETE", &v, Value::Null).await.0, 200);
    assert!(sessions.lock().unwrap().is_empty());
    // The ended session is unknown upstream: 404, counted as an error.
    let again =
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "add"}});
    assert_eq!(send(b, "POST", &v, again).await.0, 404);

    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let ma = state_a.metrics.render();
    let mb = state_b.metrics.render();
    let lbl = |m: &str, t: &str| {
        format!("service=\"mcp-svc\",route=\"mcp-route\",method=\"{m}\",workspace=\"default\",tool_name=\"{t}\"")
    };
    assert!(
        ma.contains(&format!(
            "kong_ai_mcp_latency_ms_count{{{}}} 1\n",
            lbl("initialize", "")
        )),
        "{ma}"
    );
    assert!(
        mb.contains(&format!(
            "kong_ai_mcp_latency_ms_count{{{}}} 2\n",
            lbl("tools/call", "add")
        )),
        "{mb}"
    );
    assert!(
        mb.contains(&format!(
            "kong_ai_mcp_response_body_size_bytes_count{{{}}} 2\n",
            lbl("tools/call", "add")
        )),
        "{mb}"
    );
    assert!(
        mb.contains("kong_ai_mcp_error_total{service=\"mcp-svc\",route=\"mcp-route\",type=\"Not Found\",method=\"tools/call\",workspace=\"default\",tool_name=\"add\"} 1\n"),
        "{mb}"
    );
    // A JSON-RPC error inside a 200 answer is counted by its code's name.
    assert!(
        ma.contains("kong_ai_mcp_error_total{service=\"mcp-svc\",route=\"mcp-route\",type=\"Invalid params\",method=\"bad/params\",workspace=\"default\",tool_name=\"\"} 1\n"),
        "{ma}"
    );
    // Only that request: no error carried over to the others on the same replica.
    assert_eq!(ma.matches("kong_ai_mcp_error_total{").count(), 1, "{ma}");
    // GET and DELETE carry no JSON-RPC call: not in the MCP families.
    assert!(!ma.contains("method=\"\""), "{ma}");
}
