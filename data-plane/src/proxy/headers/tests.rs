//! The upstream request headers through the real proxy (raw sockets on 127.0.0.1): `Host`, the
//! `X-Forwarded-*` family, `X-Real-IP` and `X-Kong-Request-Id`, with and without the client's
//! own `X-Forwarded-For`.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::proxy::test_state::one_route;

/// An upstream answering each request with its head as the body, then closing.
async fn head_echo() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    head.extend_from_slice(&buf[..n]);
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    head.len()
                );
                let _ = s.write_all(answer.as_bytes()).await;
                let _ = s.write_all(&head).await;
            });
        }
    });
    addr
}

/// The proxy with one route `/f` to `up`.
async fn proxy(up: SocketAddr) -> SocketAddr {
    let state = one_route(up, "/f");
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(crate::proxy::serve(l, state));
    addr
}

/// The head the upstream got for `GET /f` with `lines` (each ending in CRLF).
async fn upstream_head(proxy: SocketAddr, lines: &str) -> String {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    let req = format!("GET /f HTTP/1.1\r\n{lines}connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// The values of header `name` in `head`, in order.
fn values(head: &str, name: &str) -> Vec<String> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

#[tokio::test]
async fn forwarded_headers_as_kongs_nginx_sets_them() {
    let up = head_echo().await;
    let gw = proxy(up).await;
    let port = gw.port().to_string();

    let head = upstream_head(gw, "host: example.com:8000\r\n").await;
    assert_eq!(values(&head, "host"), [format!("127.0.0.1:{}", up.port())]);
    assert_eq!(values(&head, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(values(&head, "x-real-ip"), ["127.0.0.1"]);
    assert_eq!(values(&head, "x-forwarded-proto"), ["http"]);
    assert_eq!(values(&head, "x-forwarded-host"), ["example.com"]);
    assert_eq!(
        values(&head, "x-forwarded-port"),
        std::slice::from_ref(&port)
    );
    let id = values(&head, "x-kong-request-id");
    assert!(id.len() == 1 && id[0].len() == 32, "{head}");

    // The client's own X-Forwarded-For (the first of them) gets the address appended; a Host
    // without a port is X-Forwarded-Host as it is.
    let head = upstream_head(
        gw,
        "host: example.com\r\nx-forwarded-for: 10.0.0.1\r\nx-forwarded-for: 10.0.0.2\r\n\
         x-forwarded-host: spoofed\r\nx-forwarded-port: 1\r\n",
    )
    .await;
    assert_eq!(values(&head, "x-forwarded-for"), ["10.0.0.1, 127.0.0.1"]);
    assert_eq!(values(&head, "x-forwarded-host"), ["example.com"]);
    assert_eq!(values(&head, "x-forwarded-port"), [port]);
    assert_eq!(values(&head, "host"), [format!("127.0.0.1:{}", up.port())]);
}
