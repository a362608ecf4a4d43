//! The client-facing HTTP/1.1 loop through the real proxy, with raw client sockets on
//! 127.0.0.1 (the bytes on the wire are the point): pipelining, streamed and chunked request
//! bodies, draining an unread body, `HEAD` and `Connection: close`, what goes to hyper, the
//! head read timeout and a graceful stop.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::proxy::h1::framing::{Decoder, Framing, Step};
use crate::proxy::serve::{serve_with, ServeOptions};
use crate::proxy::test_state::one_route;
use crate::{runtime, State};

/// An upstream (hyper, keep-alive): `/slow` answers after 300 ms, `/stream` with a body of
/// unknown length, anything else echoes the body with the method in `x-method`.
pub(super) async fn upstream() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            let svc = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                let method = req.method().to_string();
                let path = req.uri().path().to_string();
                let body = req.into_body().collect().await.unwrap().to_bytes();
                let resp = match path.as_str() {
                    "/slow" => {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        http::Response::new(Full::new(Bytes::from("slow")).boxed_unsync())
                    }
                    "/stream" => {
                        let frames = ["ab", "cd"]
                            .map(|s| Ok::<_, Infallible>(hyper::body::Frame::data(Bytes::from(s))));
                        let s = futures_util::stream::iter(frames);
                        http::Response::new(StreamBody::new(s).boxed_unsync())
                    }
                    _ => {
                        let mut r = http::Response::new(Full::new(body).boxed_unsync());
                        r.headers_mut().insert("x-method", method.parse().unwrap());
                        r
                    }
                };
                Ok::<_, Infallible>(resp)
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(s), svc),
            );
        }
    });
    addr
}

/// The proxy serving `state` with `opts`, until `stop` turns true.
pub(super) async fn proxy(
    state: Arc<State>,
    opts: ServeOptions,
) -> (SocketAddr, watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(serve_with(l, state, rx, opts));
    (addr, tx, task)
}

/// A response read off a client socket.
pub(super) struct Answer {
    pub(super) head: String,
    pub(super) body: Vec<u8>,
}

impl Answer {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// Reads one response (to a request of `method`) from `s`, `buf` keeping what follows it.
pub(super) async fn read_answer(
    s: &mut (impl tokio::io::AsyncRead + Unpin),
    buf: &mut BytesMut,
    method: &str,
) -> Answer {
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        assert!(s.read_buf(buf).await.unwrap() > 0, "EOF inside a head");
    };
    let head = String::from_utf8(buf.split_to(end).to_vec()).unwrap();
    let mut a = Answer {
        head,
        body: Vec::new(),
    };
    let framing = if method == "HEAD" || a.head.starts_with("HTTP/1.1 1") {
        Framing::Empty
    } else if a.header("transfer-encoding") == Some("chunked") {
        Framing::Chunked
    } else {
        Framing::Length(a.header("content-length").unwrap().parse().unwrap())
    };
    let mut d = Decoder::new(framing);
    loop {
        match d.step(buf).unwrap() {
            Step::Data(b) => a.body.extend_from_slice(&b),
            Step::Trailers(_) => {}
            Step::End => return a,
            Step::More => assert!(s.read_buf(buf).await.unwrap() > 0, "EOF inside a body"),
        }
    }
}

/// True when the peer closes `s` within two seconds (nothing more to read).
async fn closes(s: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    matches!(
        tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut rest)).await,
        Ok(Ok(0))
    )
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let (gw, _stop, _) = proxy(one_route(upstream().await, "/"), ServeOptions::default()).await;
    let mut s = TcpStream::connect(gw).await.unwrap();
    s.write_all(
        b"POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\none\
          PUT /b HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\ntwo\
          GET /stream HTTP/1.1\r\nhost: x\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = BytesMut::new();
    let a = read_answer(&mut s, &mut buf, "POST").await;
    assert!(a.head.starts_with("HTTP/1.1 200 OK\r\n"), "{}", a.head);
    assert_eq!(
        (a.body.as_slice(), a.header("x-method")),
        (&b"one"[..], Some("POST"))
    );
    assert!(a.header("date").is_some() && a.header("x-kong-request-id").is_some());
    let b = read_answer(&mut s, &mut buf, "PUT").await;
    assert_eq!(
        (b.body.as_slice(), b.header("x-method")),
        (&b"two"[..], Some("PUT"))
    );
    // A body of unknown length goes out chunked.
    let c = read_answer(&mut s, &mut buf, "GET").await;
    assert_eq!(c.header("transfer-encoding"), Some("chunked"), "{}", c.head);
    assert_eq!(c.body, b"abcd");
    // Still open.
    s.write_all(b"GET /again HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let d = read_answer(&mut s, &mut buf, "GET").await;
    assert_eq!(d.header("x-method"), Some("GET"));
    assert!(buf.is_empty());
}

#[tokio::test]
async fn streamed_bodies_reach_the_upstream_whole_and_the_connection_is_kept() {
    let (gw, _stop, _) = proxy(one_route(upstream().await, "/"), ServeOptions::default()).await;
    let mut s = TcpStream::connect(gw).await.unwrap();
    let mut buf = BytesMut::new();
    // Chunked, in pieces with pauses, the last piece with the next request right behind it.
    s.write_all(b"POST /c HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.write_all(b"lo\r\n6\r\n world\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.write_all(b"0\r\n\r\nGET /next HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let a = read_answer(&mut s, &mut buf, "POST").await;
    assert_eq!(a.body, b"hello world", "{}", a.head);
    let b = read_answer(&mut s, &mut buf, "GET").await;
    assert_eq!(b.header("x-method"), Some("GET"));

    // 300 KB with a length: far more than one read.
    let big: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let head = format!(
        "POST /big HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
        big.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for part in big.chunks(64 * 1024) {
        s.write_all(part).await.unwrap();
    }
    let c = read_answer(&mut s, &mut buf, "POST").await;
    assert!(c.body == big, "echoed {} bytes", c.body.len());
    s.write_all(b"GET /after HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(
        read_answer(&mut s, &mut buf, "GET")
            .await
            .header("x-method"),
        Some("GET")
    );
}

#[tokio::test]
async fn an_unread_body_is_drained_and_the_connection_kept() {
    // No route for `/`: the proxy answers 404 without reading the body.
    let up = upstream().await;
    let st = one_route(up, "/");
    let rt = runtime::compile(
        &proto::schema::Config::from_entities(&[]).unwrap(),
        2,
        "0123456789abcdef0123456789abcdef",
    )
    .unwrap();
    st.runtime.store(Arc::new(rt));
    let (gw, _stop, _) = proxy(st, ServeOptions::default()).await;
    let mut s = TcpStream::connect(gw).await.unwrap();
    let mut buf = BytesMut::new();
    s.write_all(b"POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n")
        .await
        .unwrap();
    s.write_all(&[b'z'; 10_000]).await.unwrap();
    let a = read_answer(&mut s, &mut buf, "POST").await;
    assert!(a.head.starts_with("HTTP/1.1 404"), "{}", a.head);
    assert_eq!(
        a.body,
        br#"{"message":"no Route matched with those values"}"#
    );
    // The rest of the body comes after the answer; it is read and dropped.
    s.write_all(&[b'z'; 90_000]).await.unwrap();
    s.write_all(b"GET /y HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let b = read_answer(&mut s, &mut buf, "GET").await;
    assert!(b.head.starts_with("HTTP/1.1 404"), "{}", b.head);
    assert!(b.header("connection").is_none(), "{}", b.head);
}

#[tokio::test]
async fn head_requests_and_connection_close() {
    let (gw, _stop, _) = proxy(one_route(upstream().await, "/"), ServeOptions::default()).await;
    let mut s = TcpStream::connect(gw).await.unwrap();
    let mut buf = BytesMut::new();
    s.write_all(b"HEAD /h HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let a = read_answer(&mut s, &mut buf, "HEAD").await;
    assert!(a.head.starts_with("HTTP/1.1 200"), "{}", a.head);
    assert!(a.body.is_empty() && buf.is_empty());
    s.write_all(b"GET /c HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let b = read_answer(&mut s, &mut buf, "GET").await;
    assert_eq!(b.header("connection"), Some("close"), "{}", b.head);
    assert!(closes(&mut s).await);
}

#[tokio::test]
async fn what_the_loop_does_not_serve_goes_to_hyper() {
    let (gw, _stop, _) = proxy(one_route(upstream().await, "/"), ServeOptions::default()).await;
    // HTTP/1.0: answered, then closed.
    let mut s = TcpStream::connect(gw).await.unwrap();
    s.write_all(b"GET /old HTTP/1.0\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.0 200 OK\r\n"), "{text}");
    // Expect: 100-continue gets its interim answer before the final one.
    let mut s = TcpStream::connect(gw).await.unwrap();
    let mut buf = BytesMut::new();
    s.write_all(
        b"POST /e HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let interim = read_answer(&mut s, &mut buf, "POST").await;
    assert!(interim.head.starts_with("HTTP/1.1 100"), "{}", interim.head);
    s.write_all(b"ok").await.unwrap();
    let a = read_answer(&mut s, &mut buf, "POST").await;
    assert_eq!(a.body, b"ok", "{}", a.head);
    // A malformed head: hyper's 400.
    let mut s = TcpStream::connect(gw).await.unwrap();
    s.write_all(b"GET /m HTTP/1.1\r\nno colon here\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    assert!(
        out.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    // HTTP/2 with prior knowledge.
    let s = TcpStream::connect(gw).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        TokioIo::new(s),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(format!("http://{gw}/h2"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-method"], "GET");
}

#[tokio::test]
async fn slow_heads_and_idle_connections_time_out() {
    let opts = ServeOptions {
        header_read_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    };
    let (gw, _stop, _) = proxy(one_route(upstream().await, "/"), opts).await;
    let mut s = TcpStream::connect(gw).await.unwrap();
    s.write_all(b"GET /slow-client HTTP/1.1\r\nhost")
        .await
        .unwrap();
    assert!(closes(&mut s).await);
    let mut s = TcpStream::connect(gw).await.unwrap();
    let mut buf = BytesMut::new();
    s.write_all(b"GET /once HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(read_answer(&mut s, &mut buf, "GET")
        .await
        .head
        .starts_with("HTTP/1.1 200"));
    assert!(closes(&mut s).await);
}

#[tokio::test]
async fn a_stop_closes_idle_connections_and_lets_busy_ones_finish() {
    let (gw, stop, task) = proxy(one_route(upstream().await, "/"), ServeOptions::default()).await;
    let mut idle = TcpStream::connect(gw).await.unwrap();
    let mut buf = BytesMut::new();
    idle.write_all(b"GET /i HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    read_answer(&mut idle, &mut buf, "GET").await;
    let mut busy = TcpStream::connect(gw).await.unwrap();
    busy.write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(true).unwrap();
    assert!(closes(&mut idle).await);
    let mut bbuf = BytesMut::new();
    let a = read_answer(&mut busy, &mut bbuf, "GET").await;
    assert_eq!(a.body, b"slow");
    assert_eq!(a.header("connection"), Some("close"), "{}", a.head);
    assert!(closes(&mut busy).await);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}
