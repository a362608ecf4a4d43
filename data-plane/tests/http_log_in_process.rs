//! In-process end-to-end for `http-log`: a tiny collector receives the serialized entries, one
//! object per request with `max_batch_size` 1, a JSON array per batch above that, retried after
//! a failed delivery.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{call, client, config, dead_port, echo_upstream, gateway, header, listen};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

/// What the collector got: (method, path, content-type, x-token, body).
type Seen = Arc<Mutex<Vec<(String, String, String, String, Value)>>>;

/// Records every request; the first `fail_first` requests are answered 500.
async fn collector(fail_first: usize) -> (SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    let failures = Arc::new(AtomicUsize::new(fail_first));
    let s2 = seen.clone();
    let addr = listen(move |req| {
        let (seen, failures) = (s2.clone(), failures.clone());
        async move {
            let h = |n: &str| header(&req, n).unwrap_or_default();
            let (m, p) = (req.method().to_string(), req.uri().path().to_string());
            let (ct, tok) = (h("content-type"), h("x-token"));
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let failing = failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            let status = if failing {
                500
            } else {
                let v = serde_json::from_slice(&body).unwrap();
                seen.lock().unwrap().push((m, p, ct, tok, v));
                200
            };
            hyper::Response::builder()
                .status(status)
                .body(Full::new(Bytes::new()))
                .unwrap()
        }
    })
    .await;
    (addr, seen)
}

async fn wait(seen: &Seen, n: usize) -> Vec<(String, String, String, String, Value)> {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let got = seen.lock().unwrap().clone();
        if got.len() >= n || Instant::now() > until {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn entries_reach_the_collector_one_by_one_and_batched() {
    let up = echo_upstream().await;
    let (single_c, single) = collector(0).await;
    let (batch_c, batched) = collector(1).await;
    let (one, two) = (
        "10000000-0000-0000-0000-0000000000e1",
        "10000000-0000-0000-0000-0000000000e2",
    );
    let ents = config(
        up,
        &[(one, "/one"), (two, "/two")],
        vec![
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000e1", "name": "http-log",
                       "route": {"id": one},
                       "config": {"http_endpoint": format!("http://{single_c}/logs"), "method": "PUT",
                                  "content_type": "application/json; charset=utf-8",
                                  "headers": {"x-token": "t1"}}}),
            ),
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000e2", "name": "http-log",
                       "route": {"id": two},
                       "config": {"http_endpoint": format!("http://{batch_c}/bulk"),
                                  "queue": {"max_batch_size": 2, "max_coalescing_delay": 5,
                                            "initial_retry_delay": 0.01, "max_retry_time": 5}}}),
            ),
        ],
    );
    let (gw, state) = gateway(&ents).await;
    let c = client();

    for _ in 0..2 {
        let (s, _, b) = call(&c, "GET", format!("http://{gw}/one?q=1"), &[]).await;
        assert_eq!(s, 200, "{b}");
    }
    let got = wait(&single, 2).await;
    assert_eq!(got.len(), 2);
    let (m, p, ct, tok, v) = &got[0];
    assert_eq!(
        (m.as_str(), p.as_str(), ct.as_str(), tok.as_str()),
        ("PUT", "/logs", "application/json; charset=utf-8", "t1")
    );
    assert!(v.is_object(), "{v}");
    assert_eq!(v["request"]["uri"], "/one?q=1");
    assert_eq!(v["response"]["status"], 200);
    assert_eq!(v["route"]["name"], "rone");

    // Two requests make one batch (a JSON array); the first delivery fails and is retried.
    for path in ["/two/a", "/two/b"] {
        let (s, _, _) = call(&c, "GET", format!("http://{gw}{path}"), &[]).await;
        assert_eq!(s, 200);
    }
    let got = wait(&batched, 1).await;
    assert_eq!(got.len(), 1);
    let (m, p, ct, _, v) = &got[0];
    assert_eq!(
        (m.as_str(), p.as_str(), ct.as_str()),
        ("POST", "/bulk", "application/json")
    );
    let uris: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["request"]["uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris, vec!["/two/a", "/two/b"]);
    let m = state.metrics.render();
    assert!(
        m.contains("kong_log_dropped_total{plugin=\"http-log\"} 0"),
        "{m}"
    );
}

#[tokio::test]
async fn undeliverable_entries_are_dropped_and_counted() {
    let up = echo_upstream().await;
    let dead = dead_port();
    let route = "10000000-0000-0000-0000-0000000000e3";
    let ents = config(
        up,
        &[(route, "/dead")],
        vec![(
            "plugins",
            json!({"id": "20000000-0000-0000-0000-0000000000e3", "name": "http-log",
                   "config": {"http_endpoint": format!("http://{dead}/"),
                              "queue": {"max_retry_time": 0.05, "initial_retry_delay": 0.01}}}),
        )],
    );
    let (gw, state) = gateway(&ents).await;
    let (s, _, _) = call(&client(), "GET", format!("http://{gw}/dead"), &[]).await;
    assert_eq!(s, 200, "the request is not held up by its log entry");
    let until = Instant::now() + Duration::from_secs(5);
    let line = "kong_log_dropped_total{plugin=\"http-log\"} 1";
    while !state.metrics.render().contains(line) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        state.metrics.render().contains(line),
        "{}",
        state.metrics.render()
    );
}
