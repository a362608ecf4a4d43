//! Sync measured: 10,000 services, routes and plugins (30,000 entities) to 3 DPs, one behind a
//! byte-counting TCP forwarder (the first sync is a full snapshot; a one-route change afterwards
//! must be a small delta); a small change to 3 real DPs; and to 100 simulated DP streams.
//! Measurements, not timed tests, and the first is slow in a debug build (the CP stores 30,000
//! entities), so they are not part of `cargo test`; the figures are printed by
//! `cargo test --release -p e2e --test sync_scale -- --nocapture`
//! (after `cargo build --release --bins`).

use std::time::{Duration, Instant};

use e2e::cluster::{self, spawn_cp, spawn_dp, ControlPlane, DataPlane};
use e2e::fake_dp::FakeDp;
use e2e::http::HttpClient;
use e2e::meter::Meter;
use e2e::tempdir::TempDir;
use hyper::Method;
use serde_json::{json, Value};

const N: usize = 10_000;
/// The issue's goals: a full snapshot of this config under 2 MB, a one-route change under 10 KB.
const FULL_LIMIT: u64 = 2 * 1024 * 1024;
const DELTA_LIMIT: u64 = 10 * 1024;

/// `N` services, each with one route carrying one plugin.
fn config() -> Value {
    let services: Vec<Value> = (0..N)
        .map(|i| {
            let path = format!("/p{i}");
            json!({
                "name": format!("svc-{i}"),
                "url": format!("http://127.0.0.1:9/up/{i}"),
                "routes": [{
                    "name": format!("route-{i}"),
                    "paths": [path],
                    "plugins": [{"name": "key-auth", "config": {"key_names": ["apikey"]}}],
                }],
            })
        })
        .collect();
    json!({"_format_version": "3.0", "services": services})
}

/// `control-plane apply` of the config (the CLI allows a minute; a bare POST only 30 s).
async fn apply(cp: &ControlPlane, dir: &TempDir) -> String {
    let file = dir.write("big.json", &config().to_string()).unwrap();
    let out = cluster::apply(&cp.admin_url(), &[&file], &[])
        .await
        .unwrap();
    assert!(out.success, "{}", out.describe());
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("config version "))
        .unwrap();
    line.rsplit(' ')
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_string()
}

/// One route gets another path (`/changed-n`) through the Admin API; returns the new config hash.
async fn change_one_route(cp: &ControlPlane, client: &HttpClient, n: usize) -> String {
    let url = format!("{}/routes/route-{}", cp.admin_url(), N / 2);
    let body = serde_json::to_vec(&json!({"paths": [format!("/changed-{n}")]})).unwrap();
    let r = client
        .send_within(
            Duration::from_secs(300),
            Method::PATCH,
            &url,
            &[("content-type", "application/json")],
            body,
        )
        .await
        .unwrap();
    assert!(r.status.is_success(), "{} {}", r.status, r.text());
    let status = cp.get_json(client, "/status").await.unwrap();
    status["config_hash"].as_str().unwrap().to_string()
}

/// Polls tightly (this is a measurement) until `dp` serves `hash`; returns how long it took.
async fn serve_time(dp: &DataPlane, client: &HttpClient, hash: &str) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        if dp.config_hash(client).await.ok().as_deref() == Some(hash) {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!(
        "{} never served {hash}\n{}",
        dp.process.name(),
        dp.process.diagnostics()
    );
}

/// The DP's own account of its last apply (`configuration applied … merge_ms … compile_ms`).
fn last_apply_line(dp: &DataPlane) -> String {
    dp.process
        .log_text()
        .lines()
        .rfind(|l| l.contains("configuration applied"))
        .map(|l| {
            l.split("configuration applied")
                .nth(1)
                .unwrap_or(l)
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_routes_full_snapshot_then_a_one_route_delta() {
    let dir = TempDir::new("sync-scale").unwrap();
    let client = HttpClient::new();
    let cp = spawn_cp(&dir).await.unwrap();
    // DP 0 behind the byte counter; DPs 1 and 2 direct.
    let meter = Meter::start(cp.cluster).await.unwrap();
    let mut dps = vec![spawn_dp(&dir, "data-plane-0", meter.addr).await.unwrap()];
    for i in 1..3 {
        let name = format!("data-plane-{i}");
        dps.push(spawn_dp(&dir, &name, cp.cluster).await.unwrap());
    }

    let before = meter.down();
    let hash = apply(&cp, &dir).await;
    let mut full_time = Duration::ZERO;
    for dp in &dps {
        full_time = full_time.max(serve_time(dp, &client, &hash).await);
    }
    let full = meter.down() - before;
    println!(
        "sync-scale: {} entities; full snapshot {full} bytes on the wire, all 3 DPs served it {} ms after apply returned",
        3 * N,
        full_time.as_millis(),
    );
    println!("sync-scale: DP 0 full apply: {}", last_apply_line(&dps[0]));

    let mut times = Vec::new();
    let mut bytes = Vec::new();
    for n in 0..5 {
        let before = meter.down();
        let hash = change_one_route(&cp, &client, n).await;
        let start = Instant::now();
        for dp in &dps {
            serve_time(dp, &client, &hash).await;
        }
        times.push(start.elapsed());
        bytes.push(meter.down() - before);
        println!(
            "sync-scale: one-route change {n}: {} bytes to DP 0, all 3 DPs serve it {} ms after the PATCH returned; DP 0: {}",
            bytes[n],
            times[n].as_millis(),
            last_apply_line(&dps[0])
        );
    }
    let mut sorted = times.clone();
    sorted.sort();
    println!(
        "sync-scale: one-route change → all 3 DPs: median {} ms, max {} ms; at most {} bytes per DP (5 changes)",
        sorted[sorted.len() / 2].as_millis(),
        sorted[sorted.len() - 1].as_millis(),
        bytes.iter().max().copied().unwrap_or(0)
    );
    assert!(full < FULL_LIMIT, "full snapshot {full} bytes");
    for b in bytes {
        assert!(b < DELTA_LIMIT, "one-route change {b} bytes");
    }
}

/// A small config, `n` making each call a new version.
fn small(n: usize) -> Value {
    json!({
        "_format_version": "3.0",
        "services": [{
            "name": "svc",
            "url": "http://127.0.0.1:9/up",
            "retries": n,
            "routes": [{"name": "r", "paths": ["/r"], "plugins": [{"name": "key-auth"}]}],
        }],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_change_reaches_three_dps() {
    let dir = TempDir::new("sync-small").unwrap();
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
    let mut times = Vec::new();
    for n in 0..20 {
        let r = client
            .post_json(&format!("{}/config", cp.admin_url()), &[], &small(n))
            .await
            .unwrap();
        assert!(r.status.is_success(), "{}", r.text());
        let hash = r.json().unwrap()["config_hash"]
            .as_str()
            .unwrap()
            .to_string();
        let start = Instant::now();
        for dp in &dps {
            serve_time(dp, &client, &hash).await;
        }
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "sync-small: POST /config returned → all 3 DPs serve it: median {} ms, max {} ms (20 changes)",
        times[times.len() / 2].as_millis(),
        times[times.len() - 1].as_millis()
    );
    assert!(times[times.len() / 2] < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_change_reaches_a_hundred_simulated_dp_streams() {
    let dir = TempDir::new("sync-fanout").unwrap();
    let client = HttpClient::new();
    let cp = spawn_cp(&dir).await.unwrap();
    let cluster = cp.cluster.to_string();
    let mut fakes = Vec::new();
    for i in 0..100 {
        fakes.push(
            FakeDp::connect(&cluster, &format!("fake-{i}"))
                .await
                .unwrap(),
        );
    }
    connected_rows(&cp, &client, 100).await;
    let mut times = Vec::new();
    for n in 0..10 {
        let r = client
            .post_json(&format!("{}/config", cp.admin_url()), &[], &small(n))
            .await
            .unwrap();
        assert!(r.status.is_success(), "{}", r.text());
        let version = r.json().unwrap()["version"].as_u64().unwrap();
        let start = Instant::now();
        while fakes.iter().any(|f| f.version() < version) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "not all streams got {version}"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "sync-fanout: POST /config returned → 100 DP streams received it: median {} ms, max {} ms (10 changes)",
        times[times.len() / 2].as_millis(),
        times[times.len() - 1].as_millis()
    );
}

/// Waits until the CP lists `n` connected data planes.
async fn connected_rows(cp: &ControlPlane, client: &HttpClient, n: usize) -> Vec<Value> {
    e2e::wait::until(
        &format!("{n} connected data planes"),
        Duration::from_secs(60),
        async || {
            let list = cp.get_json(client, "/clustering/data-planes").await?;
            let rows: Vec<Value> = list["data"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|r| r["connected"] == true)
                .collect();
            Ok((rows.len() == n).then_some(rows))
        },
    )
    .await
    .unwrap()
}
