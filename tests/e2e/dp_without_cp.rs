//! A data plane whose control plane is not there: it stays up, answers 503 on `/status/ready`,
//! keeps retrying, and becomes ready once a control plane appears on that address.

use std::time::{Duration, Instant};

use e2e::cluster::{self, spawn_cp_on, spawn_dp};
use e2e::http::HttpClient;
use e2e::ports::free_port;
use e2e::tempdir::TempDir;
use e2e::wait;

use crate::fixture::{example_file, CONSUMER_KEY, SYNC_TIMEOUT};

/// Log lines of `log` that look like a connection attempt or a retry.
fn retry_lines(log: &str, port: u16) -> usize {
    log.lines()
        .filter(|l| {
            let l = l.to_lowercase();
            l.contains("retry")
                || l.contains("reconnect")
                || l.contains("backoff")
                || l.contains(&format!(":{port}"))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dp_without_cp_stays_503_retries_and_syncs_once_the_cp_appears() {
    let dir = TempDir::new("dp-without-cp").unwrap();
    let client = HttpClient::new();
    let port = free_port().unwrap();
    let cp_addr = format!("127.0.0.1:{port}");
    let mut dp = spawn_dp(&dir, "data-plane-0", cp_addr.parse().unwrap())
        .await
        .unwrap();

    // A few seconds with nothing to talk to: alive, never ready.
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        let r = client.get(&dp.status_url("/status/ready")).await.unwrap();
        assert_eq!(r.status, 503, "ready without a CP: {}", r.text());
        dp.process.ensure_running().unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let r = client.get(&dp.proxy_url("/anything")).await.unwrap();
    assert!(
        r.status.is_server_error() || r.status == 404,
        "proxy without config: {}",
        r.status
    );
    wait::until(
        "two connection attempts in the DP log",
        Duration::from_secs(10),
        async || Ok((retry_lines(&dp.process.log_text(), port) >= 2).then_some(())),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:#}\n{}", dp.process.diagnostics()))
    .unwrap();

    // Now a CP appears on that address and gets a config: the DP catches up by itself.
    let cp = spawn_cp_on(&dir, &cp_addr).await.unwrap();
    let mock = e2e::mock_llm::MockLlm::start().await.unwrap();
    let upstream = mock.url("/v1/responses");
    let env = [
        ("DECK_OPENAI_API_KEY", "sk-test-late"),
        ("DECK_OPENAI_UPSTREAM_URL", upstream.as_str()),
    ];
    let out = cluster::apply(&cp.admin_url(), &[&example_file()], &env)
        .await
        .unwrap();
    assert!(out.success, "{}", out.describe());
    dp.wait_ready(&client, SYNC_TIMEOUT * 2).await.unwrap();
    let r = client
        .post_json(
            &dp.proxy_url("/anything/v1/responses"),
            &[("apikey", CONSUMER_KEY)],
            &crate::fixture::tutorial_body(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mock.requests().len(), 1);
}
