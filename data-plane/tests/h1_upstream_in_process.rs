//! The lean HTTP/1.1 upstream client, in process, against raw upstream sockets on 127.0.0.1:
//! keep-alive reuse, a request sent again when its reused connection turns out closed, no reuse
//! after `Connection: close` or an HTTP/1.0 answer, chunked bodies with trailers, HEAD/204, and
//! bad answers (oversized head, truncated body) that leave the proxy serving.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{client, config, gateway, listen, raw_listen, read_head, read_request};

/// What the upstream does with the `n`-th request (from 1) on its `c`-th connection (from 1).
#[derive(Clone)]
enum Act {
    /// Answers with these bytes and keeps the connection.
    Answer(Vec<u8>),
    /// Answers and closes.
    AnswerClose(Vec<u8>),
    /// Closes without a byte.
    Close,
}

type Plan = fn(conn: usize, n: usize, method: &str, body: &[u8]) -> Act;

/// A raw upstream following `plan`; returns its address and the count of connections accepted.
async fn upstream(plan: Plan) -> (SocketAddr, Arc<AtomicUsize>) {
    let conns = Arc::new(AtomicUsize::new(0));
    let counter = conns.clone();
    let addr = raw_listen(move |s| {
        let c = counter.fetch_add(1, Ordering::SeqCst) + 1;
        serve(s, c, plan)
    })
    .await;
    (addr, conns)
}

async fn serve(mut s: TcpStream, c: usize, plan: Plan) {
    let mut seen = Vec::new();
    for n in 1.. {
        let Some((head, body)) = read_request(&mut s, &mut seen).await else {
            return;
        };
        let method = head.split(' ').next().unwrap_or("").to_uppercase();
        match plan(c, n, &method, &body) {
            Act::Answer(a) => {
                if s.write_all(&a).await.is_err() {
                    return;
                }
            }
            Act::AnswerClose(a) => {
                let _ = s.write_all(&a).await;
                return;
            }
            Act::Close => return,
        }
    }
}

fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

const ROUTE: &str = "10000000-0000-0000-0000-0000000000d1";

/// Sends `method /up` with `body` through the proxy at `addr`; status, body (or the error;
/// status 0 when no response came).
async fn call(addr: SocketAddr, method: &str, body: &'static str) -> (u16, Result<String, String>) {
    let c = client();
    let req = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}/up"))
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    let r = match c.request(req).await {
        Ok(r) => r,
        // The proxy broke the connection off before a complete response.
        Err(e) => return (0, Err(e.to_string())),
    };
    let status = r.status().as_u16();
    let body = match r.into_body().collect().await {
        Ok(b) => Ok(String::from_utf8_lossy(&b.to_bytes()).into_owned()),
        Err(e) => Err(e.to_string()),
    };
    (status, body)
}

async fn proxy_to(plan: Plan) -> (SocketAddr, Arc<AtomicUsize>, Arc<data_plane::State>) {
    let (up, conns) = upstream(plan).await;
    let prom = json!({"id": "20000000-0000-0000-0000-0000000000d1", "name": "prometheus", "config": {"status_code_metrics": true}});
    let (addr, state) = gateway(&config(up, &[(ROUTE, "/up")], vec![("plugins", prom)])).await;
    (addr, conns, state)
}

#[tokio::test]
async fn keep_alive_connections_are_reused() {
    let (addr, conns, _) =
        proxy_to(|c, n, _, body| Act::Answer(ok(&format!("{c}:{n}:{}", body.len())))).await;
    for n in 1..=5 {
        let (s, body) = call(addr, "POST", "{\"input\":\"hi\"}").await;
        assert_eq!((s, body.unwrap()), (200, format!("1:{n}:14")));
    }
    let (s, body) = call(addr, "GET", "").await;
    assert_eq!((s, body.unwrap()), (200, "1:6:0".to_string()));
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_request_meeting_a_closed_reused_connection_is_sent_again() {
    // Each connection answers its first request and closes on the second without a byte, as
    // an upstream does whose keep-alive timer ran out while the request was on its way.
    let (addr, conns, _) = proxy_to(|c, n, _, body| match n {
        1 => Act::Answer(ok(&format!("{c}:{}", String::from_utf8_lossy(body)))),
        _ => Act::Close,
    })
    .await;
    for i in 1..=4 {
        let (s, body) = call(addr, "PUT", "again").await;
        assert_eq!(
            (s, body.unwrap()),
            (200, format!("{i}:again")),
            "request {i}"
        );
    }
    assert_eq!(conns.load(Ordering::SeqCst), 4);
    // The upstream read that request before closing: a POST is not sent twice (nginx's rule
    // without `non_idempotent`), the client gets the 502.
    let (s, _) = call(addr, "POST", "once").await;
    assert_eq!(s, 502);
    assert_eq!(
        conns.load(Ordering::SeqCst),
        4,
        "no second connection for the POST"
    );
}

#[tokio::test]
async fn connection_close_and_http_1_0_answers_are_not_reused() {
    let (addr, conns, _) = proxy_to(|c, _, _, _| match c % 2 {
        1 => Act::Answer(
            format!("HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 3\r\n\r\nc{c}!")
                .into_bytes(),
        ),
        // HTTP/1.0, no length: the body runs to the close.
        _ => Act::AnswerClose(format!("HTTP/1.0 200 OK\r\n\r\nold {c}").into_bytes()),
    })
    .await;
    let (s, body) = call(addr, "GET", "").await;
    assert_eq!((s, body.unwrap()), (200, "c1!".to_string()));
    let (s, body) = call(addr, "GET", "").await;
    assert_eq!((s, body.unwrap()), (200, "old 2".to_string()));
    let (s, body) = call(addr, "GET", "").await;
    assert_eq!((s, body.unwrap()), (200, "c3!".to_string()));
    assert_eq!(conns.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn chunked_bodies_interim_answers_and_bodiless_answers_keep_the_connection() {
    let (addr, conns, _) = proxy_to(|_, _, method, _| {
        Act::Answer(match method {
            "HEAD" => b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n".to_vec(),
            "DELETE" => b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
            _ => b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n7;x=y\r\n, world\r\n0\r\nx-sum: 1\r\n\r\n".to_vec(),
        })
    })
    .await;
    for _ in 0..2 {
        let (s, body) = call(addr, "GET", "").await;
        assert_eq!((s, body.unwrap()), (200, "hello, world".to_string()));
        let (s, body) = call(addr, "HEAD", "").await;
        assert_eq!((s, body.unwrap()), (200, String::new()));
        let (s, body) = call(addr, "DELETE", "").await;
        assert_eq!((s, body.unwrap()), (204, String::new()));
    }
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn oversized_heads_and_truncated_bodies_fail_cleanly() {
    let (addr, _, state) = proxy_to(|c, _, _, _| match c {
        1 => {
            let mut a = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
            a.resize(70 * 1024, b'a');
            Act::AnswerClose(a)
        }
        2 => Act::AnswerClose(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort".to_vec()),
        _ => Act::Answer(ok("fine")),
    })
    .await;
    let (s, body) = call(addr, "GET", "").await;
    assert_eq!(s, 502);
    assert_eq!(
        body.unwrap(),
        r#"{"message":"An invalid response was received from the upstream server"}"#
    );
    // The body breaks off: the client sees an error (before or after the head), never a
    // short body.
    let (s, body) = call(addr, "GET", "").await;
    assert!(s == 0 || s == 200, "{s}");
    assert!(body.is_err(), "{body:?}");
    let (s, body) = call(addr, "GET", "").await;
    assert_eq!((s, body.unwrap()), (200, "fine".to_string()));
    let m = state.metrics.render();
    assert!(m.contains("code=\"502\",source=\"kong\""), "{m}");
}

/// An upstream echoing each request body back as it reads it (hyper, streaming both ways).
async fn echo_streaming() -> SocketAddr {
    listen(|req| async move { hyper::Response::new(req.into_body()) }).await
}

#[tokio::test]
async fn a_streamed_request_body_goes_on_while_the_response_streams_back() {
    let up = echo_streaming().await;
    let (addr, _) = gateway(&config(up, &[(ROUTE, "/up")], vec![])).await;
    // 32 MiB in 64 KiB frames, more than the socket buffers hold: the echo answers while the
    // body is still coming, and only a client that reads as it writes gets it all back.
    let frame = Bytes::from(vec![b'x'; 64 * 1024]);
    let frames = (0..512)
        .map(move |_| Ok::<_, std::convert::Infallible>(http_body::Frame::data(frame.clone())));
    let body = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
    let c = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::StreamBody<_>>();
    let req = hyper::Request::post(format!("http://{addr}/up"))
        .body(body)
        .unwrap();
    let r = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        let r = c.request(req).await.unwrap();
        let status = r.status();
        (status, r.into_body().collect().await.unwrap().to_bytes())
    })
    .await
    .expect("the exchange stalled");
    assert_eq!(r.0, 200);
    assert_eq!(r.1.len(), 32 * 1024 * 1024);
    assert!(r.1.iter().all(|b| *b == b'x'));
}

#[tokio::test]
async fn an_upstream_answering_before_the_body_is_sent_is_heard() {
    // Reads the head, answers 413 at once and then reads (and drops) whatever comes.
    let up = raw_listen(|mut s| async move {
        if read_head(&mut s, &mut Vec::new()).await.is_none() {
            return;
        }
        let answer = b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 8\r\nconnection: close\r\n\r\ntoo much";
        let _ = s.write_all(answer).await;
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    let (addr, _) = gateway(&config(up, &[(ROUTE, "/up")], vec![])).await;
    // A body that never ends: only the upstream's early answer can end the exchange.
    let frames = Box::pin(futures_util::stream::unfold((), |()| async {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        Some((
            Ok::<_, std::convert::Infallible>(http_body::Frame::data(Bytes::from_static(b"more"))),
            (),
        ))
    }));
    let body = http_body_util::StreamBody::new(frames);
    let c = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::StreamBody<_>>();
    let req = hyper::Request::post(format!("http://{addr}/up"))
        .body(body)
        .unwrap();
    let (status, body) = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let r = c.request(req).await.unwrap();
        let status = r.status().as_u16();
        (status, r.into_body().collect().await.unwrap().to_bytes())
    })
    .await
    .expect("the early answer never reached the client");
    assert_eq!((status, &body[..]), (413, &b"too much"[..]));
}
