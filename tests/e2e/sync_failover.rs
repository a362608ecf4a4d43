//! A data plane with two control planes (`--control-plane cp1,cp2`), each applied the same decK
//! file with its own database: when CP 1 is killed the DP moves to CP 2, takes its config and
//! its later changes, and answers every request meanwhile.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use e2e::cluster::{self, spawn_cp, spawn_dp_to, ControlPlane, DataPlane};
use e2e::http::HttpClient;
use e2e::mock_llm::MockLlm;
use e2e::tempdir::TempDir;
use e2e::wait;
use serde_json::json;

use crate::fixture::{example_file, tutorial_body, API_KEY, CONSUMER_KEY, SYNC_TIMEOUT};
use crate::sync_status::connected_rows;

async fn apply_example(cp: &ControlPlane, mock: &MockLlm) {
    let upstream = mock.url("/v1/responses");
    let env = [
        ("DECK_OPENAI_API_KEY", API_KEY),
        ("DECK_OPENAI_UPSTREAM_URL", upstream.as_str()),
    ];
    let out = cluster::apply(&cp.admin_url(), &[&example_file()], &env)
        .await
        .unwrap();
    assert!(out.success, "{}", out.describe());
}

async fn cp_hash(cp: &ControlPlane, client: &HttpClient) -> String {
    let status = cp.get_json(client, "/status").await.unwrap();
    status["config_hash"].as_str().unwrap().to_string()
}

async fn wait_hash(dp: &DataPlane, client: &HttpClient, hash: &str) {
    let what = format!("{} to serve {hash}", dp.process.name());
    wait::until(&what, SYNC_TIMEOUT, async || {
        Ok((dp.config_hash(client).await? == hash).then_some(()))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e:#}\n{}", dp.process.diagnostics()))
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dp_moves_to_the_second_cp_when_the_first_dies_and_keeps_serving() {
    // One directory per CP: each has its own SQLite file.
    let dir1 = TempDir::new("failover-cp1").unwrap();
    let dir2 = TempDir::new("failover-cp2").unwrap();
    let client = HttpClient::new();
    let mock = MockLlm::start().await.unwrap();
    let cp1 = spawn_cp(&dir1).await.unwrap();
    let cp2 = spawn_cp(&dir2).await.unwrap();
    apply_example(&cp1, &mock).await;
    apply_example(&cp2, &mock).await;

    let dp = spawn_dp_to(&dir1, "data-plane-0", &[cp1.cluster, cp2.cluster], &[])
        .await
        .unwrap();
    dp.wait_ready(&client, SYNC_TIMEOUT).await.unwrap();
    wait_hash(&dp, &client, &cp_hash(&cp1, &client).await).await;
    connected_rows(&cp1, &client, 1).await;

    // Traffic all along: every request must be answered by the upstream.
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (stop, client, url) = (
            stop.clone(),
            client.clone(),
            dp.proxy_url("/anything/v1/responses"),
        );
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            // At least 10 requests, however fast the failover goes.
            while !stop.load(Ordering::Relaxed) || statuses.len() < 10 {
                let r = client
                    .post_json(&url, &[("apikey", CONSUMER_KEY)], &tutorial_body())
                    .await
                    .unwrap();
                statuses.push(r.status.as_u16());
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            statuses
        })
    };

    drop(cp1); // SIGKILL: no goodbye on the stream.
    connected_rows(&cp2, &client, 1).await;
    wait_hash(&dp, &client, &cp_hash(&cp2, &client).await).await;

    // Changes made on CP 2 reach the DP.
    let r = client
        .post_json(
            &format!("{}/services", cp2.admin_url()),
            &[],
            &json!({"name": "after-failover", "url": "http://127.0.0.1:9/x"}),
        )
        .await
        .unwrap();
    assert!(r.status.is_success(), "{} {}", r.status, r.text());
    wait_hash(&dp, &client, &cp_hash(&cp2, &client).await).await;

    stop.store(true, Ordering::Relaxed);
    let statuses = traffic.await.unwrap();
    assert!(
        statuses.len() >= 10,
        "only {} requests sent",
        statuses.len()
    );
    assert!(
        statuses.iter().all(|s| *s == 200),
        "requests failed during failover: {statuses:?}\n{}",
        dp.process.diagnostics()
    );
    let cp2_addr = cp2.cluster.to_string();
    let log = dp.process.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("connected to control plane") && l.contains(&cp2_addr)),
        "no connection to CP 2 ({cp2_addr}) in the DP log:\n{}",
        dp.process.diagnostics()
    );
}
