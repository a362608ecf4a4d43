//! Two control planes on one PostgreSQL database, data planes split between them: an Admin API
//! write on CP 1 is served by a DP connected to CP 2 (LISTEN/NOTIFY), versions stay one
//! sequence across the CPs, and when CP 1 dies its DP moves to CP 2 and answers every request
//! meanwhile. Every CP lists the DPs of all (`/clustering/data-planes` rows in the database);
//! `GET /` names the backend; a CP started later on the database finds the config there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use e2e::cluster::{self, spawn_cp_named, spawn_dp_to, ControlPlane, DataPlane};
use e2e::http::{HttpClient, Response};
use e2e::mock_llm::MockLlm;
use e2e::postgres::Postgres;
use e2e::tempdir::TempDir;
use e2e::wait;
use serde_json::{json, Value};

use crate::fixture::{example_file, tutorial_body, API_KEY, CONSUMER_KEY, SYNC_TIMEOUT};
use crate::sync_status::connected_rows;

pub(crate) async fn status(cp: &ControlPlane, client: &HttpClient) -> (u64, String) {
    let s = cp.get_json(client, "/status").await.unwrap();
    (
        s["config_version"].as_u64().unwrap(),
        s["config_hash"].as_str().unwrap().to_string(),
    )
}

/// Waits until `cp` publishes `version` (it may have been written on the other CP).
pub(crate) async fn wait_version(cp: &ControlPlane, client: &HttpClient, version: u64) -> String {
    let what = format!("{} to publish version {version}", cp.process.name());
    wait::until(&what, SYNC_TIMEOUT, async || {
        let s = cp.get_json(client, "/status").await?;
        let hash = s["config_hash"].as_str().unwrap_or_default().to_string();
        Ok((s["config_version"] == version).then_some(hash))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e:#}\n{}", cp.process.diagnostics()))
    .unwrap()
}

pub(crate) async fn wait_hash(dp: &DataPlane, client: &HttpClient, hash: &str) {
    let what = format!("{} to serve {hash}", dp.process.name());
    wait::until(&what, SYNC_TIMEOUT, async || {
        Ok((dp.config_hash(client).await? == hash).then_some(()))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e:#}\n{}", dp.process.diagnostics()))
    .unwrap();
}

/// Whether `dp`'s log says it connected to `cp`.
fn connected_to(dp: &DataPlane, cp: &ControlPlane) -> bool {
    let addr = cp.cluster.to_string();
    dp.process
        .log_text()
        .lines()
        .any(|l| l.contains("connected to control plane") && l.contains(&addr))
}

fn assert_connected_to(dp: &DataPlane, cp: &ControlPlane) {
    assert!(
        connected_to(dp, cp),
        "{} is not connected to {}\n{}",
        dp.process.name(),
        cp.process.name(),
        dp.process.diagnostics()
    );
}

pub(crate) async fn request(client: &HttpClient, dp: &DataPlane, path: &str) -> Response {
    client
        .post_json(
            &dp.proxy_url(path),
            &[("apikey", CONSUMER_KEY)],
            &tutorial_body(),
        )
        .await
        .unwrap()
}

/// A route `name` on `/name` of the example service, created through `cp`'s Admin API.
pub(crate) async fn add_route(cp: &ControlPlane, client: &HttpClient, name: &str) -> Value {
    let url = format!("{}/services/example-clean-service/routes", cp.admin_url());
    let r = client
        .post_json(
            &url,
            &[],
            &json!({"name": name, "paths": [format!("/{name}")]}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    r.json().unwrap()
}

/// CP 1 and CP 2 on the database at `url`, the tutorial's file (upstream: `mock`) applied
/// through CP 1.
pub(crate) async fn two_cps_with_tutorial(
    dir: &TempDir,
    url: &str,
    mock: &MockLlm,
) -> (ControlPlane, ControlPlane) {
    let cp1 = spawn_cp_named(dir, "control-plane-1", url, "127.0.0.1:0", &[])
        .await
        .unwrap();
    let cp2 = spawn_cp_named(dir, "control-plane-2", url, "127.0.0.1:0", &[])
        .await
        .unwrap();
    let upstream = mock.url("/v1/responses");
    let env = [
        ("DECK_OPENAI_API_KEY", API_KEY),
        ("DECK_OPENAI_UPSTREAM_URL", upstream.as_str()),
    ];
    let out = cluster::apply(&cp1.admin_url(), &[&example_file()], &env)
        .await
        .unwrap();
    assert!(out.success, "{}", out.describe());
    (cp1, cp2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cps_on_one_postgres_share_writes_and_take_over_dps() {
    // Drop order: DPs and CPs (declared later) stop before the database.
    let pg = Postgres::start().unwrap();
    let url = pg.create_database().unwrap();
    let dir = TempDir::new("multi-cp").unwrap();
    let client = HttpClient::new();
    let mock = MockLlm::start().await.unwrap();
    // The tutorial's file applied on CP 1; CP 2 publishes the same version and hash.
    let (cp1, cp2) = two_cps_with_tutorial(&dir, &url, &mock).await;
    let root = cp2.get_json(&client, "/").await.unwrap();
    assert_eq!(root["configuration"]["database"], "postgres", "{root}");
    let (v1, hash1) = status(&cp1, &client).await;
    assert_eq!(v1, 1);
    assert_eq!(wait_version(&cp2, &client, v1).await, hash1);

    // One DP on each CP (each with the other as its fallback).
    let dp1 = spawn_dp_to(&dir, "data-plane-1", &[cp1.cluster, cp2.cluster], &[])
        .await
        .unwrap();
    let dp2 = spawn_dp_to(&dir, "data-plane-2", &[cp2.cluster, cp1.cluster], &[])
        .await
        .unwrap();
    for dp in [&dp1, &dp2] {
        dp.wait_ready(&client, SYNC_TIMEOUT).await.unwrap();
        wait_hash(dp, &client, &hash1).await;
    }
    // Each CP lists both DPs (rows shared through the database), each DP on its own CP.
    for cp in [&cp1, &cp2] {
        // Rows of the other CP's DPs arrive through the database within a second or so.
        let what = format!("{} to list two connected DPs on {hash1}", cp.process.name());
        let rows = wait::until(&what, SYNC_TIMEOUT, async || {
            let list = cp.get_json(&client, "/clustering/data-planes").await?;
            let rows: Vec<Value> = list["data"].as_array().cloned().unwrap_or_default();
            let on_hash = rows
                .iter()
                .filter(|r| r["connected"] == true && r["config_hash"] == hash1.as_str())
                .count();
            Ok((on_hash == 2).then_some(rows))
        })
        .await
        .unwrap();
        let ids: std::collections::BTreeSet<&str> =
            rows.iter().filter_map(|r| r["id"].as_str()).collect();
        assert_eq!(ids.len(), 2, "two distinct DPs: {rows:?}");
        // Its /metrics reports both DPs too, as Kong's (rebuilt from the shared rows).
        let metrics = client
            .get(&format!("{}/metrics", cp.admin_url()))
            .await
            .unwrap()
            .text();
        for id in &ids {
            let node = format!("node_id=\"{id}\"");
            let reported = metrics
                .lines()
                .any(|l| l.starts_with("kong_data_plane_config_hash{") && l.contains(&node));
            assert!(
                reported,
                "{} /metrics lacks DP {id}:\n{metrics}",
                cp.process.name()
            );
        }
    }
    assert_connected_to(&dp1, &cp1);
    assert_connected_to(&dp2, &cp2);
    assert_eq!(request(&client, &dp2, "/written-on-cp1").await.status, 404);

    // A write on CP 1 is served by the DP on CP 2.
    add_route(&cp1, &client, "written-on-cp1").await;
    let hash2 = wait_version(&cp2, &client, v1 + 1).await;
    assert_eq!(status(&cp1, &client).await, (v1 + 1, hash2.clone()));
    wait_hash(&dp2, &client, &hash2).await;
    let r = request(&client, &dp2, "/written-on-cp1").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(mock.requests().iter().any(|q| q.path == "/v1/responses"));

    // A write on CP 2 takes the next version on both: one sequence.
    let route = add_route(&cp2, &client, "written-on-cp2").await;
    assert_eq!(route["name"], "written-on-cp2");
    let hash3 = wait_version(&cp1, &client, v1 + 2).await;
    assert_eq!(status(&cp2, &client).await, (v1 + 2, hash3.clone()));
    wait_hash(&dp1, &client, &hash3).await;
    let listed = cp1.get_json(&client, "/routes").await.unwrap();
    let names: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&"written-on-cp1") && names.contains(&"written-on-cp2"),
        "{listed}"
    );

    // CP 1 dies (SIGKILL) under traffic: its DP moves to CP 2 and every request is answered.
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (stop, client, url) = (
            stop.clone(),
            client.clone(),
            dp1.proxy_url("/written-on-cp2"),
        );
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::Relaxed) {
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
    let cp1_admin = cp1.admin_url();
    drop(cp1);
    assert!(client.get(&format!("{cp1_admin}/status")).await.is_err());
    wait::until(
        "data-plane-1 to connect to CP 2",
        SYNC_TIMEOUT,
        async || Ok(connected_to(&dp1, &cp2).then_some(())),
    )
    .await
    .unwrap();
    connected_rows(&cp2, &client, 2).await;
    add_route(&cp2, &client, "after-failover").await;
    let hash4 = wait_version(&cp2, &client, v1 + 3).await;
    wait_hash(&dp1, &client, &hash4).await;
    let r = request(&client, &dp1, "/after-failover").await;
    assert_eq!(r.status, 200, "{}", r.text());
    stop.store(true, Ordering::Relaxed);
    let statuses = traffic.await.unwrap();
    assert!(statuses.len() >= 5, "only {} requests sent", statuses.len());
    assert!(
        statuses.iter().all(|s| *s == 200),
        "requests failed during the failover: {statuses:?}\n{}",
        dp1.process.diagnostics()
    );

    // A CP started later on the same database finds the config there.
    let cp3 = spawn_cp_named(&dir, "control-plane-3", &url, "127.0.0.1:0", &[])
        .await
        .unwrap();
    assert_eq!(status(&cp3, &client).await, (v1 + 3, hash4));
    connected_rows(&cp3, &client, 2).await;
    let rows = pg.psql(&url, "SELECT version FROM config_version").unwrap();
    assert_eq!(rows, (v1 + 3).to_string());
}

/// Admin API writes sent at the same time to two CPs on one database: each gets its own
/// version and none is lost (a CP that has not yet loaded the other's write redoes its own on
/// top; a 409 after repeated races is retried here, as a client would), and both CPs end with
/// every entity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_admin_writes_on_two_cps_form_one_version_sequence() {
    let pg = Postgres::start().unwrap();
    let url = pg.create_database().unwrap();
    let dir = TempDir::new("multi-cp-writes").unwrap();
    let client = HttpClient::new();
    let cps = [
        spawn_cp_named(&dir, "control-plane-1", &url, "127.0.0.1:0", &[])
            .await
            .unwrap(),
        spawn_cp_named(&dir, "control-plane-2", &url, "127.0.0.1:0", &[])
            .await
            .unwrap(),
    ];
    const WRITES: usize = 12;
    let mut tasks = Vec::new();
    for i in 0..WRITES {
        let (client, admin) = (client.clone(), cps[i % 2].admin_url());
        tasks.push(tokio::spawn(async move {
            let body = json!({"name": format!("svc-{i}"), "url": "http://127.0.0.1:9/x"});
            let mut conflicts = 0;
            loop {
                let r = client
                    .post_json(&format!("{admin}/services"), &[], &body)
                    .await
                    .unwrap();
                match r.status.as_u16() {
                    201 => return conflicts,
                    409 => {
                        assert!(r.text().contains("another control plane"), "{}", r.text());
                        conflicts += 1;
                        assert!(conflicts < 100, "svc-{i}: refused {conflicts} times");
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                    s => panic!("svc-{i}: {s} {}", r.text()),
                }
            }
        }));
    }
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.unwrap();
    }
    eprintln!("{WRITES} writes, {conflicts} answered 409 and retried by the client");
    for cp in &cps {
        wait_version(cp, &client, WRITES as u64).await;
        let services = cp.get_json(&client, "/services").await.unwrap();
        assert_eq!(
            services["data"].as_array().unwrap().len(),
            WRITES,
            "{services}"
        );
    }
    assert_eq!(
        pg.psql(&url, "SELECT version FROM config_version").unwrap(),
        WRITES.to_string()
    );
}
