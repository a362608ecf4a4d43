//! The sync link under churn and restarts: three DPs converge on the last of 50 rapid changes,
//! changes after the first go out as deltas, a snapshot is gzip-compressed on the wire, and a CP
//! restart neither interrupts a DP nor makes it receive the config it already holds again, nor
//! does a CP away for over a minute.

use std::time::Duration;

use e2e::cluster::{spawn_cp, spawn_cp_on, spawn_dp, ControlPlane, DataPlane};
use e2e::http::HttpClient;
use e2e::meter::Meter;
use e2e::tempdir::TempDir;
use e2e::wait;
use serde_json::{json, Value};

use crate::fixture::SYNC_TIMEOUT;
use crate::sync_status::connected_rows;

/// A small config; `n` varies one service field so every call is a new version.
fn config(n: usize) -> Value {
    json!({
        "_format_version": "3.0",
        "services": [{
            "name": "svc",
            "url": "http://127.0.0.1:9/upstream",
            "retries": n,
            "routes": [{"name": "r", "paths": ["/r"]}],
        }, {
            "name": "other",
            "url": "http://127.0.0.1:9/other",
            "routes": [{"name": "o", "paths": ["/o"]}],
        }],
    })
}

/// `POST /config` of `config(n)`; returns the new config hash.
async fn post_config(cp: &ControlPlane, client: &HttpClient, n: usize) -> String {
    post_doc(cp, client, &config(n)).await
}

/// `POST /config` of `doc`; returns the new config hash.
async fn post_doc(cp: &ControlPlane, client: &HttpClient, doc: &Value) -> String {
    let r = client
        .post_json(&format!("{}/config", cp.admin_url()), &[], doc)
        .await
        .unwrap();
    assert!(r.status.is_success(), "{} {}", r.status, r.text());
    r.json().unwrap()["config_hash"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn wait_hash(dp: &DataPlane, client: &HttpClient, hash: &str) {
    let what = format!("{} to serve {hash}", dp.process.name());
    wait::until(&what, SYNC_TIMEOUT, async || {
        Ok((dp.config_hash(client).await? == hash).then_some(()))
    })
    .await
    .unwrap();
}

/// The value of `series` (name and labels) on `dp`'s `/metrics`; 0 when absent.
pub(crate) async fn metric(dp: &DataPlane, client: &HttpClient, series: &str) -> f64 {
    let text = client.get(&dp.status_url("/metrics")).await.unwrap().text();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_dps_converge_on_the_last_of_fifty_rapid_changes() {
    let dir = TempDir::new("converge").unwrap();
    let client = HttpClient::new();
    let cp = spawn_cp(&dir).await.unwrap();
    let mut dps = Vec::new();
    for i in 0..3 {
        dps.push(
            spawn_dp(&dir, &format!("data-plane-{i}"), cp.cluster)
                .await
                .unwrap(),
        );
    }
    connected_rows(&cp, &client, 3).await;
    let mut last = String::new();
    for n in 0..50 {
        last = post_config(&cp, &client, n).await;
    }
    for dp in &dps {
        wait_hash(dp, &client, &last).await;
        dp.wait_ready(&client, SYNC_TIMEOUT).await.unwrap();
        let deltas = metric(
            dp,
            &client,
            "kong_data_plane_sync_received_bytes_total{message=\"delta\"}",
        )
        .await;
        assert!(deltas > 0.0, "{} received no delta", dp.process.name());
    }
    let rows = connected_rows(&cp, &client, 3).await;
    assert!(
        rows.iter().all(|r| r["config_hash"] == last.as_str()),
        "{rows:?}"
    );
}

/// 300 services with a route each, through a meter: the snapshot crosses the wire in well
/// under half of its decoded size (the DP counts decoded bytes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_is_compressed_on_the_wire() {
    let dir = TempDir::new("sync-gzip").unwrap();
    let client = HttpClient::new();
    let cp = spawn_cp(&dir).await.unwrap();
    let meter = Meter::start(cp.cluster).await.unwrap();
    let dp = spawn_dp(&dir, "data-plane-0", meter.addr).await.unwrap();
    connected_rows(&cp, &client, 1).await;
    let services: Vec<Value> = (0..300)
        .map(|i| {
            json!({
                "name": format!("service-{i}"),
                "url": format!("http://127.0.0.1:9/upstream-{i}"),
                "routes": [{"name": format!("route-{i}"), "paths": [format!("/r{i}")]}],
            })
        })
        .collect();
    let doc = json!({"_format_version": "3.0", "services": services});
    let r = client
        .post_json(&format!("{}/config", cp.admin_url()), &[], &doc)
        .await
        .unwrap();
    assert!(r.status.is_success(), "{} {}", r.status, r.text());
    let hash = r.json().unwrap()["config_hash"]
        .as_str()
        .unwrap()
        .to_string();
    wait_hash(&dp, &client, &hash).await;
    let series = "kong_data_plane_sync_received_bytes_total{message=\"snapshot\"}";
    let decoded = metric(&dp, &client, series).await;
    let wire = meter.down() as f64;
    assert!(decoded > 50_000.0, "snapshot of {decoded} bytes");
    assert!(
        wire * 2.0 < decoded,
        "{wire} bytes on the wire for {decoded} decoded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cp_restart_does_not_interrupt_a_dp_nor_resend_what_it_holds() {
    let dir = TempDir::new("cp-restart").unwrap();
    let client = HttpClient::new();
    let cp = spawn_cp(&dir).await.unwrap();
    let dp = spawn_dp(&dir, "data-plane-0", cp.cluster).await.unwrap();
    let hash = post_config(&cp, &client, 1).await;
    wait_hash(&dp, &client, &hash).await;
    let snapshot_series = "kong_data_plane_sync_received_bytes_total{message=\"snapshot\"}";
    let received = metric(&dp, &client, snapshot_series).await;
    assert!(received > 0.0);

    let cluster = cp.cluster.to_string();
    drop(cp);
    wait::until(
        "the DP to notice the CP is gone",
        Duration::from_secs(10),
        async || {
            Ok((metric(&dp, &client, "kong_control_plane_connected").await == 0.0).then_some(()))
        },
    )
    .await
    .unwrap();
    let ready = client.get(&dp.status_url("/status/ready")).await.unwrap();
    assert_eq!(ready.status, 200, "a DP without its CP must keep serving");

    let cp = spawn_cp_on(&dir, &cluster).await.unwrap();
    connected_rows(&cp, &client, 1).await;
    assert_eq!(dp.config_hash(&client).await.unwrap(), hash);
    assert_eq!(
        metric(&dp, &client, snapshot_series).await,
        received,
        "the CP re-sent a config the DP already held"
    );
    // And the next change still arrives.
    let next = post_config(&cp, &client, 2).await;
    wait_hash(&dp, &client, &next).await;
}

/// Kong's promise of hybrid mode: the CP being away for longer than the heartbeat silence
/// (30 s) and the DP's reconnect backoff cap (10 s) costs the DP no request; it reconnects by
/// itself once the CP is back and takes the next change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cp_away_for_over_a_minute_does_not_interrupt_a_dp() {
    let dir = TempDir::new("cp-away").unwrap();
    let client = HttpClient::new();
    let cp = spawn_cp(&dir).await.unwrap();
    let dp = spawn_dp(&dir, "data-plane-0", cp.cluster).await.unwrap();
    // The DP's own status API is the upstream: it is up exactly as long as the DP.
    let served = |n: usize| {
        json!({
            "_format_version": "3.0",
            "services": [{
                "name": "status",
                "url": dp.status_url("/status"),
                "retries": n,
                "routes": [{"name": "r", "paths": ["/r"]}],
            }],
        })
    };
    let hash = post_doc(&cp, &client, &served(1)).await;
    wait_hash(&dp, &client, &hash).await;

    let cluster = cp.cluster.to_string();
    drop(cp);
    let away = std::time::Instant::now();
    let mut requests = 0;
    while away.elapsed() < Duration::from_secs(70) {
        let r = client.get(&dp.proxy_url("/r")).await.unwrap();
        assert_eq!(
            r.status,
            200,
            "after {:?} without a CP: {}",
            away.elapsed(),
            r.text()
        );
        requests += 1;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert!(requests >= 30, "{requests}");
    assert_eq!(
        metric(&dp, &client, "kong_control_plane_connected").await,
        0.0
    );
    let ready = client.get(&dp.status_url("/status/ready")).await.unwrap();
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(dp.config_hash(&client).await.unwrap(), hash);

    let cp = spawn_cp_on(&dir, &cluster).await.unwrap();
    connected_rows(&cp, &client, 1).await;
    let next = post_doc(&cp, &client, &served(2)).await;
    wait_hash(&dp, &client, &next).await;
    let r = client.get(&dp.proxy_url("/r")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
}
