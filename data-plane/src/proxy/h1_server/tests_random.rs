//! The client-facing HTTP/1.1 loop under generated traffic: batches of pipelined requests of
//! every method, with random headers and bodies (by length or chunked, chunks of random sizes),
//! sent in pieces of random sizes, each answer checked against what was sent; then a malformed
//! head on the same connection, which goes to hyper and is refused.

use std::time::Duration;

use bytes::BytesMut;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::tests::{proxy, read_answer, upstream};
use crate::proxy::serve::ServeOptions;
use crate::proxy::test_state::one_route;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// One generated request: its bytes, method and body.
fn request(rng: &mut StdRng, i: usize) -> (Vec<u8>, &'static str, Vec<u8>) {
    let method = METHODS[rng.random_range(0..METHODS.len())];
    let mut out = format!("{method} /r{i}?n={i} HTTP/1.1\r\nhost: x\r\n").into_bytes();
    for k in 0..rng.random_range(0..6) {
        let len = rng.random_range(0..40);
        let value: String = (0..len)
            .map(|_| rng.random_range(b' '..=b'~') as char)
            .collect();
        out.extend_from_slice(format!("x-h{k}: {}\r\n", value.trim()).as_bytes());
    }
    let body: Vec<u8> = if method == "GET" {
        Vec::new()
    } else {
        (0..rng.random_range(0..6000))
            .map(|_| rng.random())
            .collect()
    };
    if body.is_empty() && rng.random::<bool>() {
        out.extend_from_slice(b"\r\n");
    } else if rng.random::<bool>() {
        out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(&body);
    } else {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
        let mut rest = &body[..];
        while !rest.is_empty() {
            let n = rng.random_range(1..=rest.len().min(1500));
            out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            out.extend_from_slice(&rest[..n]);
            out.extend_from_slice(b"\r\n");
            rest = &rest[n..];
        }
        out.extend_from_slice(b"0\r\n\r\n");
    }
    (out, method, body)
}

#[tokio::test]
async fn generated_pipelined_traffic_is_answered_in_order_and_whole() {
    let (gw, _stop, _) = proxy(one_route(upstream().await, "/"), ServeOptions::default()).await;
    for seed in 0..12u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut s = TcpStream::connect(gw).await.unwrap();
        let batch: Vec<_> = (0..8).map(|i| request(&mut rng, i)).collect();
        let wire: Vec<u8> = batch.iter().flat_map(|(b, _, _)| b.clone()).collect();
        // The client writes in random pieces while the answers are read.
        let pieces: Vec<Vec<u8>> = {
            let mut rest = &wire[..];
            let mut v = Vec::new();
            while !rest.is_empty() {
                let n = rng.random_range(1..=rest.len().min(4096));
                v.push(rest[..n].to_vec());
                rest = &rest[n..];
            }
            v
        };
        let (mut rd, mut wr) = s.split();
        let write = async {
            for p in pieces {
                wr.write_all(&p).await.unwrap();
                tokio::task::yield_now().await;
            }
        };
        let read = async {
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for (_, method, _) in &batch {
                got.push(read_answer(&mut rd, &mut buf, method).await);
            }
            got
        };
        let ((), answers) = tokio::join!(write, read);
        for (i, ((_, method, body), a)) in batch.iter().zip(&answers).enumerate() {
            assert!(
                a.head.starts_with("HTTP/1.1 200"),
                "seed {seed} #{i}: {}",
                a.head
            );
            assert_eq!(a.header("x-method"), Some(*method), "seed {seed} #{i}");
            assert!(
                a.body == *body,
                "seed {seed} #{i}: {} bytes back of {}",
                a.body.len(),
                body.len()
            );
        }
        // A malformed head after all that: hyper's 400, then the connection closes.
        s.write_all(b"GET /bad HTTP/1.1\r\nno colon\r\n\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
        assert!(read.is_ok(), "seed {seed}: the connection stayed open");
        assert!(
            out.starts_with(b"HTTP/1.1 400"),
            "seed {seed}: {}",
            String::from_utf8_lossy(&out)
        );
    }
}
