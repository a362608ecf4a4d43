//! The data plane's on-disk config cache: a DP restarted while its CP is down serves the cached
//! config at once, one restarted a version behind its CP gets only the change (a delta on the
//! cached version), and a corrupt cache file is reported and ignored (503 until a CP sends one).

use std::path::PathBuf;
use std::time::Duration;

use e2e::cluster::{self, spawn_cp, spawn_cp_on, spawn_dp, ControlPlane, DataPlane};
use e2e::http::HttpClient;
use e2e::mock_llm::MockLlm;
use e2e::ports::free_port;
use e2e::tempdir::TempDir;
use e2e::wait;

use crate::fixture::{example_file, tutorial_body, API_KEY, CONSUMER_KEY, SYNC_TIMEOUT};

/// Where `spawn_dp` points `--cache-dir` for a DP named `name`, and the file the DP writes.
fn cache_file(dir: &TempDir, name: &str) -> PathBuf {
    dir.join(format!("{name}-cache")).join("config.cache")
}

async fn apply_example(admin_url: &str, mock: &MockLlm) {
    let upstream = mock.url("/v1/responses");
    let env = [
        ("DECK_OPENAI_API_KEY", API_KEY),
        ("DECK_OPENAI_UPSTREAM_URL", upstream.as_str()),
    ];
    let out = cluster::apply(admin_url, &[&example_file()], &env)
        .await
        .unwrap();
    assert!(out.success, "{}", out.describe());
}

/// A CP with the example config and DP `data-plane-0` serving it, once the DP has written it to
/// its cache (the file carries the config's hash); returns them and that hash.
async fn dp_with_cached_example(
    dir: &TempDir,
    client: &HttpClient,
    mock: &MockLlm,
) -> (ControlPlane, DataPlane, String) {
    let cp = spawn_cp(dir).await.unwrap();
    let dp = spawn_dp(dir, "data-plane-0", cp.cluster).await.unwrap();
    apply_example(&cp.admin_url(), mock).await;
    dp.wait_ready(client, SYNC_TIMEOUT).await.unwrap();
    let hash = dp.config_hash(client).await.unwrap();
    let file = cache_file(dir, "data-plane-0");
    wait::until("the DP to cache its config", SYNC_TIMEOUT, async || {
        let bytes = std::fs::read(&file).unwrap_or_default();
        let held = bytes.windows(hash.len()).any(|w| w == hash.as_bytes());
        Ok(held.then_some(()))
    })
    .await
    .unwrap();
    (cp, dp, hash)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dp_restarted_while_the_cp_is_down_serves_from_its_cache() {
    let dir = TempDir::new("dp-cache").unwrap();
    let client = HttpClient::new();
    let mock = MockLlm::start().await.unwrap();
    let (cp, dp, hash) = dp_with_cached_example(&dir, &client, &mock).await;

    // Both gone; only the DP comes back, with its CP still down.
    let cluster_addr = cp.cluster;
    drop(dp);
    drop(cp);
    let dp = spawn_dp(&dir, "data-plane-0", cluster_addr).await.unwrap();
    dp.wait_ready(&client, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        dp.process.log_text().contains("loaded config from cache"),
        "{}",
        dp.process.diagnostics()
    );
    assert_eq!(dp.config_hash(&client).await.unwrap(), hash);
    let r = client
        .post_json(
            &dp.proxy_url("/anything/v1/responses"),
            &[("apikey", CONSUMER_KEY)],
            &tutorial_body(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mock.requests().len(), 1);
    let metrics = client.get(&dp.status_url("/metrics")).await.unwrap().text();
    assert!(
        metrics.contains("kong_control_plane_connected 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "kong_data_plane_config_hash_info{{hash=\"{hash}\"}} 1"
        )),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_cache_is_logged_and_ignored_until_a_cp_sends_config() {
    let dir = TempDir::new("dp-cache-corrupt").unwrap();
    let client = HttpClient::new();
    let file = cache_file(&dir, "data-plane-0");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, b"KGWDPC01 but then nothing that makes sense").unwrap();

    let port = free_port().unwrap();
    let cp_addr = format!("127.0.0.1:{port}");
    let dp = spawn_dp(&dir, "data-plane-0", cp_addr.parse().unwrap())
        .await
        .unwrap();
    wait::until(
        "the DP to report the corrupt cache",
        Duration::from_secs(10),
        async || Ok(dp.process.log_text().contains("is corrupt").then_some(())),
    )
    .await
    .unwrap();
    let r = client.get(&dp.status_url("/status/ready")).await.unwrap();
    assert_eq!(r.status, 503, "ready from a corrupt cache: {}", r.text());

    let cp = spawn_cp_on(&dir, &cp_addr).await.unwrap();
    let mock = MockLlm::start().await.unwrap();
    apply_example(&cp.admin_url(), &mock).await;
    dp.wait_ready(&client, SYNC_TIMEOUT * 2).await.unwrap();
    // The corrupt file is replaced by a good one.
    wait::until("the DP to rewrite its cache", SYNC_TIMEOUT, async || {
        let bytes = std::fs::read(&file)?;
        Ok((bytes.len() > 100 && bytes.starts_with(b"KGWDPC01")).then_some(()))
    })
    .await
    .unwrap();
}

/// `kong_data_plane_sync_received_bytes_total{message}` on `dp`'s `/metrics` (0 when absent).
async fn sync_bytes(client: &HttpClient, dp: &DataPlane, message: &str) -> f64 {
    let series = format!("kong_data_plane_sync_received_bytes_total{{message=\"{message}\"}}");
    crate::sync_converge::metric(dp, client, &series).await
}

/// A DP stopped while its CP took one change comes back from its cache holding the version
/// before it: the CP remembers that version and sends only the change, as a delta on top of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dp_restarted_one_version_behind_gets_a_delta_not_a_snapshot() {
    let dir = TempDir::new("dp-cache-delta").unwrap();
    let client = HttpClient::new();
    let mock = MockLlm::start().await.unwrap();
    let (cp, dp, before) = dp_with_cached_example(&dir, &client, &mock).await;

    // Stopped (its own child process, by pid) while the CP takes one change.
    drop(dp);
    crate::multi_cp::add_route(&cp, &client, "added-while-away").await;
    let (_, after) = crate::multi_cp::status(&cp, &client).await;
    assert_ne!(after, before);

    let dp = spawn_dp(&dir, "data-plane-0", cp.cluster).await.unwrap();
    crate::multi_cp::wait_hash(&dp, &client, &after).await;
    assert!(
        dp.process.log_text().contains("loaded config from cache"),
        "{}",
        dp.process.diagnostics()
    );
    let r = crate::multi_cp::request(&client, &dp, "/added-while-away").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        sync_bytes(&client, &dp, "delta").await > 0.0,
        "{}",
        dp.process.diagnostics()
    );
    assert_eq!(
        sync_bytes(&client, &dp, "snapshot").await,
        0.0,
        "a snapshot was sent\n{}",
        dp.process.diagnostics()
    );
    assert!(
        cp.process
            .log_text()
            .contains("data plane holds an earlier version; sending a delta"),
        "{}",
        cp.process.diagnostics()
    );
    // Without certificates the link is plaintext, and both planes say so at start.
    assert!(cp
        .process
        .log_text()
        .contains("no cluster certificate configured: the link to data planes is plaintext"));
    assert!(dp
        .process
        .log_text()
        .contains("no cluster certificate configured: the link to the control plane is plaintext"));
}
