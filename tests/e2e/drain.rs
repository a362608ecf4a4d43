//! Lifecycle: a slow SSE stream through a data plane survives a config change and a SIGTERM;
//! while it drains the DP answers `/status/ready` with 503 `{"message":"draining"}`, refuses
//! new connections, and exits 0 once the stream is done.

use std::time::{Duration, Instant};

use bytes::Bytes;
use e2e::http::HttpClient;
use e2e::mock_llm::STREAM_GAP_HEADER;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use crate::fixture::{tutorial_body, Gateway, CONSUMER_KEY, SYNC_TIMEOUT};

/// Gap between two SSE events of the mock: the stream lasts several seconds.
const GAP_MS: &str = "200";

async fn start_stream(url: &str) -> Response<Incoming> {
    let mut body = tutorial_body();
    body["stream"] = json!(true);
    let req = Request::post(url)
        .header("apikey", CONSUMER_KEY)
        .header("content-type", "application/json")
        .header(STREAM_GAP_HEADER, GAP_MS)
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    client.request(req).await.unwrap()
}

#[tokio::test]
async fn a_stream_survives_a_config_change_and_sigterm() {
    let mut gw = Gateway::start("drain", 1).await;
    gw.apply_example().await;
    let client = HttpClient::new();
    let dp = &gw.dps[0];
    let (proxy, ready_url) = (dp.proxy, dp.status_url("/status/ready"));
    let hash_before = dp.config_hash(&client).await.unwrap();

    let response = start_stream(&dp.proxy_url("/anything/v1/responses")).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let mut received = first.to_vec();
    // The rest of the stream is read concurrently with what follows.
    let reader = tokio::spawn(async move {
        let mut frames = 1;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                received.extend_from_slice(&data);
                frames += 1;
            }
        }
        (frames, String::from_utf8(received).unwrap())
    });

    // A config change while the stream flows: a new consumer.
    let url = format!("{}/consumers", gw.cp.admin_url());
    let created = client
        .post_json(&url, &[], &json!({"username": "drain-extra"}))
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.text());
    let deadline = Instant::now() + SYNC_TIMEOUT;
    while gw.dps[0].config_hash(&client).await.unwrap() == hash_before {
        assert!(Instant::now() < deadline, "the DP never got the new config");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !reader.is_finished(),
        "the stream ended before the config change"
    );

    // SIGTERM: ready turns 503 "draining", no new connections, the stream goes on.
    gw.dps[0].process.terminate().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = client.get(&ready_url).await.unwrap();
        if r.status == 503 {
            assert_eq!(r.json().unwrap(), json!({"message": "draining"}));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/status/ready stayed {}",
            r.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        tokio::net::TcpStream::connect(proxy).await.is_err(),
        "a draining DP accepted a new connection"
    );
    assert!(!reader.is_finished(), "the stream ended before SIGTERM");

    let (frames, text) = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .unwrap()
        .unwrap();
    assert!(frames > 5, "only {frames} frames: {text}");
    assert!(
        text.contains("response.completed"),
        "stream cut short: {text}"
    );
    let status = gw.dps[0]
        .process
        .wait_exit(Duration::from_secs(10))
        .await
        .unwrap();
    assert!(status.success(), "data plane exited with {status}");
}
