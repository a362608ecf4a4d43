//! Shared by the in-process tests, the upstream side: servers on 127.0.0.1:0 that the proxy
//! forwards to, either hyper HTTP/1.1 from a handler closure or raw sockets for byte control.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// A raw upstream: every accepted connection is handed to `conn` (called in accept order, so
/// it may count connections) and the future it returns is spawned.
pub async fn raw_listen<F, Fut>(mut conn: F) -> SocketAddr
where
    F: FnMut(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            tokio::spawn(conn(s));
        }
    });
    addr
}

/// A hyper HTTP/1.1 upstream answering each request with what `handler` returns.
pub async fn listen<F, Fut, B>(handler: F) -> SocketAddr
where
    F: Fn(hyper::Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = hyper::Response<B>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let handler = Arc::new(handler);
    raw_listen(move |s| {
        let handler = handler.clone();
        async move {
            let svc = service_fn(move |req| {
                let answer = handler(req);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(s), svc)
                .await;
        }
    })
    .await
}

/// A response with `status`, `content-type` and `body`.
pub fn respond(
    status: u16,
    content_type: &str,
    body: impl Into<Bytes>,
) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .unwrap()
}

/// The value of request header `name`, if the request has it.
pub fn header<B>(req: &hyper::Request<B>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

/// A request body read whole as JSON (null when it is not JSON).
pub async fn json_body(body: Incoming) -> Value {
    let bytes = body.collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// Answers 200 with `{"method","path","headers":{name: value}}`.
pub async fn echo_upstream() -> SocketAddr {
    listen(|req| async move {
        let mut headers = Map::new();
        for (k, v) in req.headers() {
            headers.insert(k.to_string(), json!(v.to_str().unwrap_or("")));
        }
        let out =
            json!({"method": req.method().as_str(), "path": req.uri().path(), "headers": headers});
        respond(200, "application/json", out.to_string())
    })
    .await
}

/// A port nothing listens on: bound, noted, closed.
pub fn dead_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Reads into `seen` until it holds a whole request head; the index just past the head's
/// blank line, or None when the peer closes (or fails) first.
pub async fn read_head(s: &mut TcpStream, seen: &mut Vec<u8>) -> Option<usize> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(i + 4);
        }
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one request (head and `content-length` body) from `s`, `seen` holding what was read
/// before and keeping what comes after; (head as text, body), or None when the peer closes.
pub async fn read_request(s: &mut TcpStream, seen: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let end = read_head(s, seen).await?;
    let head = String::from_utf8_lossy(&seen[..end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut buf = vec![0u8; 16 * 1024];
    while seen.len() < end + len {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    let body = seen[end..end + len].to_vec();
    seen.drain(..end + len);
    Some((head, body))
}
