//! WebSocket through the proxy, in process: a client's upgrade handshake reaches a WebSocket
//! echo upstream with its `Upgrade` headers, the 101 comes back with the upstream's accept key,
//! and frames then flow both ways over the taken-over connections (RFC 6455 framing, written
//! by hand here: the client masks, the server does not).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::json;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{config, dead_port, entity, gateway, raw_listen};

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// A connection with a read buffer (a head and the first frame may arrive in one read).
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn connect(addr: SocketAddr) -> Conn {
        Conn {
            s: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    async fn fill(&mut self) {
        let mut b = [0u8; 4096];
        let n = self.s.read(&mut b).await.unwrap();
        assert!(n > 0, "connection closed early");
        self.buf.extend_from_slice(&b[..n]);
    }

    async fn head(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..i + 4).collect();
                return String::from_utf8(head).unwrap();
            }
            self.fill().await;
        }
    }

    async fn take(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            self.fill().await;
        }
        self.buf.drain(..n).collect()
    }

    /// One frame (payloads under 126 bytes): opcode and unmasked payload.
    async fn frame(&mut self) -> (u8, Vec<u8>) {
        let h = self.take(2).await;
        let masked = h[1] & 0x80 != 0;
        let len = usize::from(h[1] & 0x7f);
        assert!(len < 126, "test frames are short");
        let mask = if masked {
            self.take(4).await
        } else {
            vec![0; 4]
        };
        let mut p = self.take(len).await;
        for (i, b) in p.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
        (h[0] & 0x0f, p)
    }

    async fn send(&mut self, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) {
        let mut f = vec![0x80 | opcode];
        let len = u8::try_from(payload.len()).unwrap();
        match mask {
            Some(m) => {
                f.push(0x80 | len);
                f.extend_from_slice(&m);
                f.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4]));
            }
            None => {
                f.push(len);
                f.extend_from_slice(payload);
            }
        }
        self.s.write_all(&f).await.unwrap();
    }
}

/// Answers a WebSocket handshake, greets, then echoes each data frame as `echo: …` until a
/// close frame, which it answers. Records the request heads it got.
async fn echo_ws_upstream() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    let addr = raw_listen(move |s| {
        let seen = seen.clone();
        async move {
            let mut c = Conn { s, buf: Vec::new() };
            let head = c.head().await;
            seen.lock().unwrap().push(head.clone());
            let key = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("sec-websocket-key")
                        .then(|| v.trim().to_string())
                })
                .unwrap_or_default();
            let resp = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                accept_key(&key)
            );
            c.s.write_all(resp.as_bytes()).await.unwrap();
            c.send(0x1, b"hello from upstream", None).await;
            loop {
                let (op, p) = c.frame().await;
                if op == 0x8 {
                    c.send(0x8, &p, None).await;
                    return;
                }
                let mut out = b"echo: ".to_vec();
                out.extend_from_slice(&p);
                c.send(op, &out, None).await;
            }
        }
    })
    .await;
    (addr, heads)
}

#[tokio::test]
async fn websocket_frames_flow_both_ways_through_the_proxy() {
    let (up, heads) = echo_ws_upstream().await;
    let route = "10000000-0000-0000-0000-0000000000a9";
    let (gw, _state) = gateway(&config(up, &[(route, "/ws")], vec![])).await;
    let mut c = Conn::connect(gw).await;
    let req = format!(
        "GET /ws/chat HTTP/1.1\r\nHost: chat.test\r\nUpgrade: websocket\r\n\
         Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    c.s.write_all(req.as_bytes()).await.unwrap();
    let head = c.head().await;
    let lower = head.to_ascii_lowercase();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(lower.contains("\r\nupgrade: websocket\r\n"), "{head}");
    assert!(lower.contains("\r\nconnection: upgrade\r\n"), "{head}");
    assert!(
        head.contains(&format!("{}\r\n", accept_key(KEY))),
        "the upstream's accept key reaches the client: {head}"
    );
    // The upstream got the handshake with its upgrade headers.
    let got = heads.lock().unwrap()[0].to_ascii_lowercase();
    assert!(got.starts_with("get /chat http/1.1\r\n"), "{got}");
    assert!(got.contains("\r\nupgrade: websocket\r\n"), "{got}");
    assert!(got.contains("\r\nconnection: upgrade\r\n"), "{got}");
    assert!(got.contains(&format!("sec-websocket-key: {}", KEY.to_ascii_lowercase())));

    // Upstream → client, then client → upstream → client, several times.
    assert_eq!(c.frame().await, (0x1, b"hello from upstream".to_vec()));
    for i in 0..3 {
        let msg = format!("ping {i}");
        c.send(0x1, msg.as_bytes(), Some([1, 2, 3, 4])).await;
        assert_eq!(c.frame().await, (0x1, format!("echo: {msg}").into_bytes()));
    }
    c.send(0x2, &[0, 1, 2, 255], Some([9, 8, 7, 6])).await;
    assert_eq!(
        c.frame().await,
        (0x2, [b"echo: ".as_slice(), &[0, 1, 2, 255]].concat())
    );
    // Close handshake.
    c.send(0x8, &[0x03, 0xe8], Some([5, 5, 5, 5])).await;
    assert_eq!(c.frame().await, (0x8, vec![0x03, 0xe8]));
}

/// Answers every request `200 no` with `Upgrade`/`Connection: Upgrade` headers, without
/// switching.
async fn refusing_upstream() -> SocketAddr {
    raw_listen(|s| async move {
        let mut c = Conn { s, buf: Vec::new() };
        loop {
            c.head().await;
            c.s.write_all(
                b"HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  content-length: 2\r\n\r\nno",
            )
            .await
            .unwrap();
        }
    })
    .await
}

#[tokio::test]
async fn an_upgrade_the_upstream_does_not_take_is_an_ordinary_answer() {
    let up = refusing_upstream().await;
    let route = "10000000-0000-0000-0000-0000000000aa";
    let (gw, _state) = gateway(&config(up, &[(route, "/ws")], vec![])).await;
    let mut c = Conn::connect(gw).await;
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: chat.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    for _ in 0..2 {
        c.s.write_all(req.as_bytes()).await.unwrap();
        let head = c.head().await;
        let lower = head.to_ascii_lowercase();
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        // The client is not told to switch, and the connection stays HTTP.
        assert!(!lower.contains("\r\nupgrade:"), "{head}");
        assert!(!lower.contains("connection: upgrade"), "{head}");
        assert_eq!(c.take(2).await, b"no");
    }
}

#[tokio::test]
async fn a_handshake_retried_on_another_target_still_upgrades() {
    let (up, heads) = echo_ws_upstream().await;
    // A target nothing listens on, weighted so that the balancer tries it first.
    let dead = dead_port();
    let (upstream, svc, route) = (
        "40000000-0000-0000-0000-0000000000ab",
        "00000000-0000-0000-0000-0000000000ab",
        "10000000-0000-0000-0000-0000000000ab",
    );
    let ents = vec![
        entity("upstreams", json!({"id": upstream, "name": "chat-up"})),
        entity(
            "targets",
            json!({"id": "30000000-0000-0000-0000-0000000000a1",
                "upstream": {"id": upstream}, "target": dead.to_string(), "weight": 1000}),
        ),
        entity(
            "targets",
            json!({"id": "30000000-0000-0000-0000-0000000000a2",
                "upstream": {"id": upstream}, "target": up.to_string(), "weight": 1}),
        ),
        entity(
            "services",
            json!({"id": svc, "name": "chat", "host": "chat-up", "port": 80}),
        ),
        entity(
            "routes",
            json!({"id": route, "name": "chat-route", "paths": ["/ws"],
                "service": {"id": svc}}),
        ),
    ];
    let (gw, _state) = gateway(&ents).await;
    let mut c = Conn::connect(gw).await;
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: chat.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    c.s.write_all(req.as_bytes()).await.unwrap();
    let head = c.head().await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(heads.lock().unwrap().len(), 1);
    assert_eq!(c.frame().await, (0x1, b"hello from upstream".to_vec()));
    c.send(0x1, b"after a retry", Some([3, 1, 4, 1])).await;
    assert_eq!(c.frame().await, (0x1, b"echo: after a retry".to_vec()));
}
