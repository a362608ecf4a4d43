//! Streaming through the data plane, measured: the same SSE chat stream from the mock LLM,
//! fetched directly and through a DP route with ai-proxy (log_statistics on, prometheus
//! ai_metrics on), alternately. Prints time to first token (request sent → first `data:`
//! frame with content) and time per chunk ((last frame − first frame) / (frames − 1)) for
//! each, and the overhead of the DP; for attribution also the TTFT through a plain DP route
//! (same upstream, no AI plugin). A measurement, not a test: no timing is asserted.
//! Run (after `cargo build --release --bins`):
//! `cargo test --release -p e2e --test stream_bench -- --nocapture`
//! (`STREAM_BENCH_N` requests per side, default 300).

use std::time::{Duration, Instant};

use bytes::Bytes;
use e2e::cluster::{self, spawn_cp, spawn_dp};
use e2e::http::HttpClient;
use e2e::mock_llm::{MockLlm, STREAM_GAP_HEADER};
use e2e::tempdir::TempDir;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

type HttpC = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// One streamed request: (time to first content frame, per-chunk time, frames).
async fn one(c: &HttpC, url: &str, body: &Bytes) -> (Duration, Duration, usize) {
    let req = hyper::Request::post(url)
        .header("content-type", "application/json")
        .header(STREAM_GAP_HEADER, "0")
        .body(Full::new(body.clone()))
        .unwrap();
    let sent = Instant::now();
    let resp = c.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let (mut first, mut last, mut frames) = (None, sent, 0usize);
    while let Some(f) = body.frame().await {
        let f = f.unwrap();
        if f.data_ref().is_some_and(|d| !d.is_empty()) {
            let now = Instant::now();
            first.get_or_insert(now);
            last = now;
            frames += 1;
        }
    }
    let first = first.unwrap_or(last);
    let per_chunk = if frames > 1 {
        (last - first) / (frames as u32 - 1)
    } else {
        Duration::ZERO
    };
    (first - sent, per_chunk, frames)
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_overhead() {
    let n: usize = std::env::var("STREAM_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let dir = TempDir::new("stream-bench").unwrap();
    let mock = MockLlm::start().await.unwrap();
    let cp = spawn_cp(&dir).await.unwrap();
    let dp = spawn_dp(&dir, "data-plane-0", cp.cluster).await.unwrap();
    let deck = format!(
        r#"_format_version: "3.0"
services:
  - name: llm
    url: http://127.0.0.1:9
    routes:
      - name: bench
        paths: [/bench]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/chat
              logging: {{log_statistics: true}}
              auth: {{header_name: Authorization, header_value: "Bearer sk-bench"}}
              model: {{provider: openai, name: gpt-4o-mini, options: {{upstream_url: "{}"}}}}
  - name: plain
    url: "{}"
    routes:
      - name: plain
        paths: [/plain]
plugins:
  - name: prometheus
    config: {{ai_metrics: true}}
"#,
        mock.url("/v1/chat/completions"),
        mock.url("/v1/chat/completions")
    );
    let file = dir.write("bench.yaml", &deck).unwrap();
    let out = cluster::apply(&cp.admin_url(), &[&file], &[])
        .await
        .unwrap();
    assert!(out.success, "{}", out.describe());
    dp.wait_ready(&HttpClient::new(), Duration::from_secs(30))
        .await
        .unwrap();

    // ~40 words of prompt: the mock answers one chunk per word.
    let words = "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d";
    let body = Bytes::from(
        json!({"model": "gpt-4o-mini", "stream": true,
               "messages": [{"role": "user", "content": words}]})
        .to_string(),
    );
    let direct_url = mock.url("/v1/chat/completions");
    let dp_url = dp.proxy_url("/bench");
    let plain_url = dp.proxy_url("/plain");
    let c: HttpC = Client::builder(TokioExecutor::new()).build_http();
    // Warm-up: connections, allocator, the DP's upstream pool.
    for _ in 0..20 {
        one(&c, &direct_url, &body).await;
        one(&c, &dp_url, &body).await;
        one(&c, &plain_url, &body).await;
    }
    let (mut d_ttft, mut d_chunk, mut p_ttft, mut p_chunk) = (vec![], vec![], vec![], vec![]);
    let mut plain_ttft = vec![];
    let mut frames = (0, 0);
    for _ in 0..n {
        let (t, k, f) = one(&c, &direct_url, &body).await;
        d_ttft.push(t);
        d_chunk.push(k);
        frames.0 = f;
        let (t, k, f) = one(&c, &dp_url, &body).await;
        p_ttft.push(t);
        p_chunk.push(k);
        frames.1 = f;
        plain_ttft.push(one(&c, &plain_url, &body).await.0);
    }
    println!(
        "stream bench: {n} requests per side, {} frames direct / {} via DP",
        frames.0, frames.1
    );
    for (label, p) in [("p50", 0.5), ("p90", 0.9)] {
        let (dt, pt) = (pct(&mut d_ttft, p), pct(&mut p_ttft, p));
        let (dc, pc) = (pct(&mut d_chunk, p), pct(&mut p_chunk, p));
        println!(
            "{label}: TTFT direct {:>8.1} µs  via DP {:>8.1} µs  overhead {:>8.1} µs | per chunk direct {:>6.1} µs  via DP {:>6.1} µs  overhead {:>6.1} µs",
            us(dt),
            us(pt),
            us(pt) - us(dt),
            us(dc),
            us(pc),
            us(pc) - us(dc)
        );
        let (dt, lt) = (pct(&mut d_ttft, p), pct(&mut plain_ttft, p));
        println!(
            "{label}: TTFT through a plain DP route (no AI plugin) {:>8.1} µs  overhead {:>8.1} µs",
            us(lt),
            us(lt) - us(dt)
        );
    }
    println!("goals: TTFT overhead < 1000 µs, per-chunk overhead < 50 µs");
}
