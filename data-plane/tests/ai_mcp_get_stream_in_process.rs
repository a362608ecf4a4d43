//! `ai-mcp-proxy` (passthrough-listener), the long-lived GET stream of MCP Streamable HTTP: the
//! client's `Accept`, `Mcp-Session-Id`, `MCP-Protocol-Version` and `Last-Event-ID` reach the
//! upstream, and each server event reaches the client as it is sent (the DP does not wait for
//! the stream to end), with the session header passed back.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{entity, gateway, header, listen};
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Mutex};

type Events = mpsc::Sender<Result<Frame<Bytes>, Infallible>>;

/// An MCP server whose GET opens an SSE stream; the test sends its events through the channel
/// the server hands out. The first event echoes the request headers that matter.
async fn mcp_server(streams: Arc<Mutex<Option<Events>>>) -> SocketAddr {
    listen(move |req| {
        let streams = streams.clone();
        async move {
            let h = |k: &str| header(&req, k);
            let seen = json!({"method": req.method().as_str(), "accept": h("accept"),
                "session": h("mcp-session-id"), "version": h("mcp-protocol-version"),
                "last_event_id": h("last-event-id")});
            let (tx, rx) = mpsc::channel(8);
            let first = format!("id: 7\ndata: {seen}\n\n");
            tx.send(Ok(Frame::data(Bytes::from(first)))).await.unwrap();
            *streams.lock().await = Some(tx);
            let body = StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx));
            hyper::Response::builder()
                .header("content-type", "text/event-stream")
                .header("mcp-session-id", "s-1")
                .body(body)
                .unwrap()
        }
    })
    .await
}

async fn proxy_to(up: SocketAddr) -> SocketAddr {
    let svc = "00000000-0000-0000-0000-0000000000e1";
    let ents = vec![
        entity(
            "services",
            json!({"id": svc, "name": "mcp-svc", "host": "127.0.0.1", "port": up.port()}),
        ),
        entity(
            "routes",
            json!({"id": "10000000-0000-0000-0000-0000000000e1", "name": "mcp-route",
                   "paths": ["/mcp"], "service": {"id": svc}}),
        ),
        entity(
            "plugins",
            json!({"id": "20000000-0000-0000-0000-0000000000e1", "name": "ai-mcp-proxy",
                   "config": {"mode": "passthrough-listener", "logging": {"log_statistics": true}}}),
        ),
    ];
    gateway(&ents).await.0
}

/// The next non-empty data frame of `body`, as text.
async fn next_frame(body: &mut hyper::body::Incoming) -> String {
    loop {
        let f = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .unwrap();
        if let Some(d) = f.data_ref().filter(|d| !d.is_empty()) {
            return String::from_utf8_lossy(d).into_owned();
        }
    }
}

#[tokio::test]
async fn get_stream_passes_resume_headers_and_streams_each_event() {
    let streams = Arc::new(Mutex::new(None));
    let gw = proxy_to(mcp_server(streams.clone()).await).await;

    let c: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = hyper::Request::get(format!("http://{gw}/mcp"))
        .header("accept", "text/event-stream")
        .header("mcp-session-id", "s-1")
        .header("mcp-protocol-version", "2025-06-18")
        .header("last-event-id", "6")
        .body(Empty::new())
        .unwrap();
    let r = c.request(req).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    assert_eq!(r.headers()["mcp-session-id"], "s-1");
    let mut body = r.into_body();

    // The first event arrives while the upstream stream is still open.
    let first = next_frame(&mut body).await;
    let seen: Value =
        serde_json::from_str(first.strip_prefix("id: 7\ndata: ").unwrap().trim()).unwrap();
    assert_eq!(
        seen,
        json!({"method": "GET", "accept": "text/event-stream", "session": "s-1",
               "version": "2025-06-18", "last_event_id": "6"})
    );

    // A later server notification is forwarded as soon as it is sent.
    let tx = streams.lock().await.clone().unwrap();
    let note =
        "id: 8\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\n";
    tx.send(Ok(Frame::data(Bytes::from(note)))).await.unwrap();
    assert_eq!(next_frame(&mut body).await, note);

    // The server ends the stream: so does the client's.
    drop(tx);
    *streams.lock().await = None;
    let end = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .unwrap();
    assert!(end.is_none(), "{end:?}");
}
