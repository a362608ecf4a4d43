//! Bad input on the proxy path, in process: slow clients (header read timeout), oversized request
//! heads (nginx's limits, Kong's bodies), and the upstream failures Kong answers itself (502 for
//! an invalid response, 503 without a service, 504 past the read timeout), each with Kong's JSON
//! body, counted in `kong_http_requests_total`, and leaving the proxy serving others.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use data_plane::proxy::serve::ServeOptions;
use data_plane::State;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use common::{
    call, client, config, echo_upstream, gateway_with, raw_listen, read_head, read_to_close,
};

const PLAIN: &str = "10000000-0000-0000-0000-0000000000b1";
const SLOW: &str = "10000000-0000-0000-0000-0000000000b2";
const GARBAGE: &str = "10000000-0000-0000-0000-0000000000b3";
const NO_SERVICE: &str = "10000000-0000-0000-0000-0000000000b4";
const CLOSING: &str = "10000000-0000-0000-0000-0000000000b5";

/// An upstream that reads a request head and then answers after `delay` with `answer` (raw
/// bytes, so it can be an invalid HTTP response).
async fn raw_upstream(delay: Duration, answer: &'static [u8]) -> SocketAddr {
    raw_listen(move |mut s| async move {
        if read_head(&mut s, &mut Vec::new()).await.is_none() {
            return;
        }
        tokio::time::sleep(delay).await;
        let _ = s.write_all(answer).await;
        let _ = s.shutdown().await;
    })
    .await
}

/// The proxy with the given header read timeout: routes /plain (echo upstream), /slow (a service
/// with a 200 ms read timeout in front of an upstream that answers after 2 s), /garbage (an
/// upstream answering with something that is not HTTP) and /no-service; global prometheus.
async fn gateway(header_read_timeout: Duration) -> (SocketAddr, Arc<State>) {
    let up = echo_upstream().await;
    let slow = raw_upstream(
        Duration::from_secs(2),
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
    )
    .await;
    let garbage = raw_upstream(Duration::ZERO, b"SURPRISE\r\n\r\n").await;
    // Answers as if keeping the connection alive, then closes it: a pooled connection that is
    // gone by the time the next request wants it.
    let closing = raw_upstream(
        Duration::ZERO,
        b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nclosed",
    )
    .await;
    let closing_svc = "00000000-0000-0000-0000-0000000000c5";
    let slow_svc = "00000000-0000-0000-0000-0000000000c2";
    let garbage_svc = "00000000-0000-0000-0000-0000000000c3";
    let ents = config(
        up,
        &[(PLAIN, "/plain")],
        vec![
            (
                "services",
                json!({"id": slow_svc, "name": "slow", "host": "127.0.0.1", "port": slow.port(), "read_timeout": 200}),
            ),
            (
                "routes",
                json!({"id": SLOW, "name": "slow-route", "paths": ["/slow"], "service": {"id": slow_svc}}),
            ),
            (
                "services",
                json!({"id": garbage_svc, "name": "garbage", "host": "127.0.0.1", "port": garbage.port()}),
            ),
            (
                "routes",
                json!({"id": GARBAGE, "name": "garbage-route", "paths": ["/garbage"], "service": {"id": garbage_svc}}),
            ),
            (
                "routes",
                json!({"id": NO_SERVICE, "name": "lonely-route", "paths": ["/no-service"]}),
            ),
            (
                "services",
                json!({"id": closing_svc, "name": "closing", "host": "127.0.0.1", "port": closing.port()}),
            ),
            (
                "routes",
                json!({"id": CLOSING, "name": "closing-route", "paths": ["/closing"], "service": {"id": closing_svc}}),
            ),
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000b1", "name": "prometheus", "config": {"status_code_metrics": true}}),
            ),
        ],
    );
    let opts = ServeOptions {
        header_read_timeout,
        ..ServeOptions::default()
    };
    gateway_with(&ents, opts).await
}

#[tokio::test]
async fn slow_client_loses_its_connection_and_others_are_served() {
    let (addr, _state) = gateway(Duration::from_millis(300)).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /plain HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    // Another client is served while the slow one is still sending its head.
    let c = client();
    let (s, _, _) = call(&c, "GET", format!("http://{addr}/plain"), &[]).await;
    assert_eq!(s, 200);
    // The slow client's connection is closed (nginx's client_header_timeout), well before the
    // 10 s this waits at most; it gets no 200.
    let got = read_to_close(&mut slow, Duration::from_secs(10))
        .await
        .expect("the proxy closes a connection whose head never completes");
    assert!(
        !String::from_utf8_lossy(&got).contains(" 200 "),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // A new client: the first one's idle keep-alive connection is past the same timeout.
    let (s, _, _) = call(&client(), "GET", format!("http://{addr}/plain"), &[]).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn oversized_heads_get_kongs_errors_and_the_connection_pool_keeps_working() {
    let (addr, state) = gateway(ServeOptions::default().header_read_timeout).await;
    let c = client();
    let big = "a".repeat(9 * 1024);
    let (s, h, body) = call(
        &c,
        "GET",
        format!("http://{addr}/plain"),
        &[("x-big", &big)],
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(body, r#"{"message":"Request header or cookie too large"}"#);
    assert!(h.contains_key("x-kong-request-id"));
    // Many headers that fit one by one but not together (nginx: 4 × 8 KiB).
    let chunk = "b".repeat(7 * 1024);
    let many: Vec<(String, &str)> = (0..5)
        .map(|i| (format!("x-h{i}"), chunk.as_str()))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let (s, _, body) = call(&c, "GET", format!("http://{addr}/plain"), &many).await;
    assert_eq!(s, 400, "{body}");
    let long = format!("http://{addr}/plain?q={}", "c".repeat(9 * 1024));
    let (s, _, body) = call(&c, "GET", long, &[]).await;
    assert_eq!(s, 414, "{body}");
    assert_eq!(body, r#"{"message":"URI too long"}"#);
    // A head just under the limits passes.
    let fits = "d".repeat(7 * 1024);
    let (s, _, body) = call(
        &c,
        "GET",
        format!("http://{addr}/plain"),
        &[("x-fits", &fits)],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains(&fits));
    assert!(state.metrics.total_requests() >= 4);
}

#[tokio::test]
async fn upstream_failures_get_kongs_status_body_and_metric() {
    let (addr, state) = gateway(ServeOptions::default().header_read_timeout).await;
    let c = client();
    let (s, h, body) = call(&c, "GET", format!("http://{addr}/slow"), &[]).await;
    assert_eq!(s, 504, "{body}");
    assert_eq!(body, r#"{"message":"The upstream server is timing out"}"#);
    assert!(h.contains_key("x-kong-request-id"));
    let (s, _, body) = call(&c, "GET", format!("http://{addr}/garbage"), &[]).await;
    assert_eq!(s, 502, "{body}");
    assert_eq!(
        body,
        r#"{"message":"An invalid response was received from the upstream server"}"#
    );
    let (s, _, body) = call(&c, "GET", format!("http://{addr}/no-service"), &[]).await;
    assert_eq!(s, 503, "{body}");
    assert_eq!(body, r#"{"message":"no Service found with those values"}"#);
    // The proxy still serves, and each failure is counted with source="kong".
    let (s, _, _) = call(&c, "GET", format!("http://{addr}/plain"), &[]).await;
    assert_eq!(s, 200);
    let m = state.metrics.render();
    for (route, code) in [
        ("slow-route", 504),
        ("garbage-route", 502),
        ("lonely-route", 503),
    ] {
        let line = format!("route=\"{route}\",code=\"{code}\",source=\"kong\"");
        assert!(m.contains(&line), "{line} missing from\n{m}");
    }
}

#[tokio::test]
async fn an_upstream_closing_its_keep_alive_connections_does_not_fail_requests() {
    let (addr, _state) = gateway(ServeOptions::default().header_read_timeout).await;
    let c = client();
    for i in 0..20 {
        let (s, _, body) = call(&c, "GET", format!("http://{addr}/closing"), &[]).await;
        assert_eq!((i, s, body.as_str()), (i, 200, "closed"));
        if i % 2 == 0 {
            // Give the closed connection time to be noticed (or not) before the next request.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
