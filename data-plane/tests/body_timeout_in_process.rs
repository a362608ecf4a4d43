//! Slow request bodies, in process: nginx's `client_body_timeout` between two body chunks. A
//! client that sends its head and then stalls its body loses the request (logged and counted as
//! 408 by Kong's log phase) and its connection, with no response (nginx terminates such a
//! request); a body that keeps coming, each chunk within the timeout, passes however long it
//! takes in total; other clients are served meanwhile.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use data_plane::proxy::serve::ServeOptions;
use data_plane::State;
use http_body_util::{BodyExt, Full};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use common::{call, client, config, echo_upstream, gateway_with, listen, read_to_close};

const PLAIN: &str = "10000000-0000-0000-0000-0000000000d1";
const UPLOAD: &str = "10000000-0000-0000-0000-0000000000d2";
const KEYED: &str = "10000000-0000-0000-0000-0000000000d3";
const BALANCED: &str = "10000000-0000-0000-0000-0000000000d4";

/// Reads the whole request body, then answers `got N bytes`.
async fn reading_upstream() -> SocketAddr {
    listen(|req| async move {
        let n = match req.into_body().collect().await {
            Ok(b) => b.to_bytes().len(),
            Err(_) => 0,
        };
        hyper::Response::new(Full::new(Bytes::from(format!("got {n} bytes"))))
    })
    .await
}

/// The proxy with the given body read timeout: /plain (echo upstream), /upload (an upstream
/// that reads the whole body), /keyed (key-auth reading its key from the body), /balanced (the
/// same upstream as the one target of an upstream entity whose passive health checks take a
/// target out after one failure); prometheus.
async fn gateway(body_read_timeout: Duration) -> (SocketAddr, Arc<State>) {
    let up = echo_upstream().await;
    let reader = reading_upstream().await;
    let upload_svc = "00000000-0000-0000-0000-0000000000e2";
    let ents = config(
        up,
        &[(PLAIN, "/plain")],
        vec![
            (
                "services",
                json!({"id": upload_svc, "name": "reader", "host": "127.0.0.1", "port": reader.port()}),
            ),
            (
                "routes",
                json!({"id": UPLOAD, "name": "upload-route", "paths": ["/upload"], "service": {"id": upload_svc}}),
            ),
            (
                "routes",
                json!({"id": KEYED, "name": "keyed-route", "paths": ["/keyed"], "service": {"id": upload_svc}}),
            ),
            (
                "upstreams",
                json!({"id": "40000000-0000-0000-0000-0000000000d4", "name": "readers",
                    "healthchecks": {"passive": {"unhealthy": {"tcp_failures": 1, "timeouts": 1,
                        "http_failures": 1}}}}),
            ),
            (
                "targets",
                json!({"id": "30000000-0000-0000-0000-0000000000d4",
                    "upstream": {"id": "40000000-0000-0000-0000-0000000000d4"},
                    "target": reader.to_string()}),
            ),
            (
                "services",
                json!({"id": "00000000-0000-0000-0000-0000000000e4", "name": "balanced", "host": "readers", "port": 80, "retries": 0}),
            ),
            (
                "routes",
                json!({"id": BALANCED, "name": "balanced-route", "paths": ["/balanced"], "service": {"id": "00000000-0000-0000-0000-0000000000e4"}}),
            ),
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000d3", "name": "key-auth", "route": {"id": KEYED}, "config": {"key_in_body": true}}),
            ),
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000d1", "name": "prometheus", "config": {"status_code_metrics": true}}),
            ),
        ],
    );
    let opts = ServeOptions {
        body_read_timeout,
        ..ServeOptions::default()
    };
    gateway_with(&ents, opts).await
}

/// Sends a head announcing 100 body bytes and only 3 of them, then waits for the proxy.
async fn stall(addr: SocketAddr, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"a"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    read_to_close(&mut s, Duration::from_secs(20))
        .await
        .expect("the proxy closes a connection whose body stalls")
}

fn counted_408(state: &State, route: &str) -> bool {
    let line = format!("route=\"{route}\",code=\"408\",source=\"kong\"");
    state.metrics.render().contains(&line)
}

#[tokio::test]
async fn a_stalled_body_ends_the_request_and_connection_and_others_are_served() {
    let (addr, state) = gateway(Duration::from_millis(300)).await;
    let stalled = tokio::spawn(stall(addr, "/upload"));
    // Another client is served while the first one's body stalls.
    let c = client();
    let (s, _, _) = call(&c, "GET", format!("http://{addr}/plain"), &[]).await;
    assert_eq!(s, 200);
    // nginx terminates the request: the connection closes with nothing written.
    let got = stalled.await.unwrap();
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert!(
        counted_408(&state, "upload-route"),
        "{}",
        state.metrics.render()
    );
    // A plugin reading the body (key-auth's key_in_body) ends the same way, not with a 413.
    let got = stall(addr, "/keyed").await;
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert!(
        counted_408(&state, "keyed-route"),
        "{}",
        state.metrics.render()
    );
    // The proxy still serves new connections.
    let (s, _, _) = call(&client(), "GET", format!("http://{addr}/plain"), &[]).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn a_stalled_body_does_not_count_against_the_upstream_target() {
    let (addr, state) = gateway(Duration::from_millis(300)).await;
    let got = stall(addr, "/balanced").await;
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert!(
        counted_408(&state, "balanced-route"),
        "{}",
        state.metrics.render()
    );
    // One failure would take the only target out (503 "failure to get a peer"): the client's
    // stall was not reported as one.
    let (s, _, body) = call(&client(), "POST", format!("http://{addr}/balanced"), &[]).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body, "got 0 bytes");
}

#[tokio::test]
async fn the_timeout_is_between_chunks_not_for_the_whole_body() {
    // Ten chunks 150 ms apart: 1.5 s in all, past the 1 s timeout, each gap well within it.
    let (addr, state) = gateway(Duration::from_secs(1)).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"POST /upload HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 10\r\n\r\n",
    )
    .await
    .unwrap();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        s.write_all(b"x").await.unwrap();
    }
    let got = read_to_close(&mut s, Duration::from_secs(20))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert!(text.ends_with("got 10 bytes"), "{text}");
    assert!(!counted_408(&state, "upload-route"));
}

#[tokio::test]
async fn over_http2_the_stalled_stream_is_reset_and_the_connection_serves_on() {
    type ReqBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;
    let (addr, state) = gateway(Duration::from_millis(300)).await;
    let h2 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<ReqBody>();
    // A body that sends one chunk and then nothing (the sender is kept, so it never ends).
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<hyper::body::Frame<Bytes>, Infallible>>(1);
    tx.send(Ok(hyper::body::Frame::data(Bytes::from_static(b"{\"a"))))
        .await
        .unwrap();
    let body = http_body_util::StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    let req = hyper::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/upload"))
        .body(BodyExt::boxed(body))
        .unwrap();
    let stalled = tokio::time::timeout(Duration::from_secs(20), h2.request(req))
        .await
        .expect("the proxy ends the stalled stream");
    assert!(stalled.is_err(), "{stalled:?}");
    drop(tx);
    assert!(
        counted_408(&state, "upload-route"),
        "{}",
        state.metrics.render()
    );
    // The same client (one HTTP/2 connection) is served on.
    let ok = hyper::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/upload"))
        .body(BodyExt::boxed(Full::new(Bytes::from_static(b"abc"))))
        .unwrap();
    let r = h2.request(ok).await.unwrap();
    assert_eq!(r.status(), 200);
    let b = r.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&b[..], b"got 3 bytes");
    // Both requests came over one connection: only the stream was ended.
    assert_eq!(state.metrics.connections("accepted"), 1);
}
