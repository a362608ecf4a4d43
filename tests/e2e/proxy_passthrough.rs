//! The real CP and DP binaries in front of upstreams started here: a `grpc` service is reached
//! over HTTP/2 (h2c) with its trailers back to a gRPC-style client; a WebSocket upgrade passes
//! through and frames flow both ways; request-transformer templates render from the request
//! (`uri_captures`, `headers`), and a malformed template is refused by `apply` naming its place;
//! a DP given an unreadable `KONG_LUA_SSL_TRUSTED_CERTIFICATE` refuses to start, naming it.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use e2e::cluster::{self, spawn_cp, spawn_dp};
use e2e::http::HttpClient;
use e2e::tempdir::TempDir;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::fixture::SYNC_TIMEOUT;

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// Answers `{"version","te","path","query","headers"}`; gRPC requests also get `grpc-status: 0`
/// as a trailer.
async fn answer(
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Body>, Infallible> {
    let headers: serde_json::Map<String, Value> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
        .collect();
    let grpc = req
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    let out = json!({"version": format!("{:?}", req.version()), "path": req.uri().path(),
        "query": req.uri().query().unwrap_or(""), "headers": headers})
    .to_string();
    let body: Body = if grpc {
        let mut trailers = hyper::HeaderMap::new();
        trailers.insert("grpc-status", hyper::header::HeaderValue::from_static("0"));
        let frames = vec![
            Ok::<_, Infallible>(Frame::data(Bytes::from(out))),
            Ok(Frame::trailers(trailers)),
        ];
        StreamBody::new(tokio_stream::iter(frames)).boxed()
    } else {
        Full::new(Bytes::from(out)).boxed()
    };
    Ok(hyper::Response::new(body))
}

/// HTTP/1.1 and h2c on one port.
async fn upstream() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), service_fn(answer))
                    .await;
            });
        }
    });
    addr
}

/// Reads one HTTP head (up to the blank line) off `s`, keeping what follows in `rest`.
async fn read_head(s: &mut TcpStream, rest: &mut Vec<u8>) -> String {
    let mut b = [0u8; 4096];
    loop {
        if let Some(i) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
            let head: Vec<u8> = rest.drain(..i + 4).collect();
            return String::from_utf8(head).unwrap();
        }
        let n = s.read(&mut b).await.unwrap();
        assert!(n > 0, "closed before a whole head");
        rest.extend_from_slice(&b[..n]);
    }
}

/// One short frame: `(opcode, payload)`, unmasking when masked.
async fn read_frame(s: &mut TcpStream, rest: &mut Vec<u8>) -> (u8, Vec<u8>) {
    let mut b = [0u8; 4096];
    loop {
        if rest.len() >= 2 {
            let masked = rest[1] & 0x80 != 0;
            let len = usize::from(rest[1] & 0x7f);
            let need = 2 + if masked { 4 } else { 0 } + len;
            if rest.len() >= need {
                let f: Vec<u8> = rest.drain(..need).collect();
                let (mask, p) = if masked {
                    (f[2..6].to_vec(), &f[6..])
                } else {
                    (vec![0; 4], &f[2..])
                };
                let p = p.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]).collect();
                return (f[0] & 0x0f, p);
            }
        }
        let n = s.read(&mut b).await.unwrap();
        assert!(n > 0, "closed before a whole frame");
        rest.extend_from_slice(&b[..n]);
    }
}

fn frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let len = u8::try_from(payload.len()).unwrap();
    let mut f = vec![0x80 | opcode];
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
    f
}

/// A WebSocket server (handshake without key checking) echoing frames as `echo: …`.
async fn ws_upstream() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut rest = Vec::new();
                let head = read_head(&mut s, &mut rest).await.to_ascii_lowercase();
                if !head.contains("\r\nupgrade: websocket\r\n") {
                    let _ = s
                        .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return;
                }
                let _ = s
                    .write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n")
                    .await;
                loop {
                    let (op, p) = read_frame(&mut s, &mut rest).await;
                    if op == 0x8 {
                        let _ = s.write_all(&frame(0x8, &p, None)).await;
                        return;
                    }
                    let out = [b"echo: ".as_slice(), &p].concat();
                    let _ = s.write_all(&frame(op, &out, None)).await;
                }
            });
        }
    });
    addr
}

fn deck(up: SocketAddr, ws: SocketAddr, add_header: &str) -> String {
    format!(
        r#"_format_version: "3.0"
services:
  - name: greeter
    url: grpc://127.0.0.1:{up_port}
    routes:
      - name: greeter-route
        paths:
          - /pkg.Greeter
        strip_path: false
  - name: chat
    url: http://127.0.0.1:{ws_port}
    routes:
      - name: chat-route
        paths:
          - /chat
  - name: users
    url: http://127.0.0.1:{up_port}
    routes:
      - name: users-route
        paths:
          - ~/users/(?<user>\w+)$
        plugins:
          - name: request-transformer
            config:
              replace:
                uri: /v2/$(uri_captures.user)
              add:
                headers:
                  - '{add_header}'
                querystring:
                  - 'from:$(headers["x-from"] or ''nobody'')'
"#,
        up_port = up.port(),
        ws_port = ws.port()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_websocket_and_templates_through_the_real_binaries() {
    let dir = TempDir::new("proxy-passthrough").unwrap();
    let client = HttpClient::new();
    let (up, ws) = (upstream().await, ws_upstream().await);
    let cp = spawn_cp(&dir).await.unwrap();
    let dp = spawn_dp(&dir, "data-plane-0", cp.cluster).await.unwrap();

    // A malformed template is refused at write time, naming its place; nothing is applied.
    let bad = dir
        .write("bad.yaml", &deck(up, ws, "x-user:$(uri_captures user)"))
        .unwrap();
    let out = cluster::apply(&cp.admin_url(), &[&bad], &[]).await.unwrap();
    assert!(!out.success, "{}", out.describe());
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(said.contains("add.headers[0]"), "{}", out.describe());
    assert!(
        said.contains("is not in supported format"),
        "{}",
        out.describe()
    );

    let good = dir
        .write("good.yaml", &deck(up, ws, "x-user:$(uri_captures.user)"))
        .unwrap();
    let out = cluster::apply(&cp.admin_url(), &[&good], &[])
        .await
        .unwrap();
    assert!(out.success, "{}", out.describe());
    dp.wait_ready(&client, SYNC_TIMEOUT).await.unwrap();

    // Templates: the route's named capture and a header with its fallback.
    let r = client.get(&dp.proxy_url("/users/ann")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json().unwrap();
    assert_eq!(v["path"], "/v2/ann");
    assert_eq!(v["query"], "from=nobody");
    assert_eq!(v["headers"]["x-user"], "ann");
    assert_eq!(v["version"], "HTTP/1.1");

    // gRPC: HTTP/2 to the upstream, trailers back to the client.
    let h2 = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let req = hyper::Request::builder()
        .method("POST")
        .uri(dp.proxy_url("/pkg.Greeter/SayHello"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from_static(b"\0\0\0\0\0")))
        .unwrap();
    let r = h2.request(req).await.unwrap();
    assert_eq!(r.status(), 200);
    let got = r.into_body().collect().await.unwrap();
    assert_eq!(got.trailers().unwrap()["grpc-status"], "0");
    let v: Value = serde_json::from_slice(&got.to_bytes()).unwrap();
    assert_eq!(v["version"], "HTTP/2.0");
    assert_eq!(v["headers"]["te"], "trailers");
    assert_eq!(v["path"], "/pkg.Greeter/SayHello");

    // WebSocket: the handshake passes, then frames both ways.
    let mut s = TcpStream::connect(dp.proxy).await.unwrap();
    s.write_all(b"GET /chat HTTP/1.1\r\nHost: chat.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let head = read_head(&mut s, &mut rest).await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    for i in 0..3 {
        let msg = format!("message {i}");
        s.write_all(&frame(0x1, msg.as_bytes(), Some([7, 1, 7, 1])))
            .await
            .unwrap();
        let (op, p) = read_frame(&mut s, &mut rest).await;
        assert_eq!(
            (op, String::from_utf8(p).unwrap()),
            (0x1, format!("echo: {msg}"))
        );
    }
    s.write_all(&frame(0x8, &[0x03, 0xe8], Some([1, 2, 3, 4])))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut s, &mut rest).await, (0x8, vec![0x03, 0xe8]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_plane_with_an_unreadable_trusted_certificate_refuses_to_start() {
    let dir = TempDir::new("trusted-ca").unwrap();
    let missing = dir.join("no-such-ca.pem");
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tokio::process::Command::new(e2e::binaries::binary("data-plane").unwrap())
            .args([
                "--control-plane",
                "127.0.0.1:9",
                "--proxy-listen",
                "127.0.0.1:0",
            ])
            .args(["--status-listen", "127.0.0.1:0"])
            .env("KONG_LUA_SSL_TRUSTED_CERTIFICATE", &missing)
            .output(),
    )
    .await
    .expect("the data plane exits at once")
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&missing.display().to_string()),
        "the error names the file: {stderr}"
    );
}
