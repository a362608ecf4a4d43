//! The lean client's limits against a real upstream socket on 127.0.0.1: a body read that waits
//! longer than the read limit fails with `ReadTimeout` (the data before it arrives), and a
//! connection the upstream never accepts data on fails the write with `WriteTimeout`.

use std::time::Duration;

use http::Request;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{send_with, H1Error, Limits};
use crate::proxy::body::full;
use crate::proxy::forward::ForwardError;

fn limits(write: Option<u64>, read: Option<u64>) -> Limits {
    Limits {
        connect: Duration::from_secs(5),
        write: write.map(Duration::from_millis),
        read: read.map(Duration::from_millis),
    }
}

#[tokio::test]
async fn a_stalled_body_read_fails_with_read_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let _ = s.read(&mut buf).await.unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
            .await
            .unwrap();
        // Stalls (keeps the connection open) until the client gave up.
        let _ = s.read(&mut buf).await;
    });
    let req = Request::post(format!("http://{addr}/x"))
        .body(full("{}"))
        .unwrap();
    let resp = send_with(req, Default::default(), limits(Some(5_000), Some(100)))
        .await
        .unwrap();
    let mut body = resp.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(&first[..], b"hello");
    match body.frame().await {
        Some(Err(H1Error::ReadTimeout)) => {}
        other => panic!("expected a read timeout, got {other:?}"),
    }
    drop(body);
    server.await.unwrap();
}

#[tokio::test]
async fn a_write_the_upstream_never_takes_fails_with_write_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts and never reads: a large request fills the socket buffers.
    let server = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    });
    let big = vec![b'a'; 32 * 1024 * 1024];
    let req = Request::post(format!("http://{addr}/x"))
        .body(full(big))
        .unwrap();
    match send_with(req, Default::default(), limits(Some(200), Some(5_000))).await {
        Err(ForwardError::Timeout) => {}
        other => panic!(
            "expected a write timeout, got {:?}",
            other.map(|r| r.status())
        ),
    }
    server.abort();
}
