//! Who runs what: `apply --wait` returns once every DP serves the new version (and names a DP
//! that does not answer, which the CP counts as gone after 30 s of silence), and the CP's
//! `/clustering/data-planes`, the DPs' `/status` and both `/metrics` pages say which config
//! each DP runs.

use std::time::Duration;

use e2e::cluster::{self, spawn_cp, spawn_dp, spawn_dp_with, ControlPlane, DataPlane};
use e2e::http::HttpClient;
use e2e::mock_llm::MockLlm;
use e2e::tempdir::TempDir;
use e2e::wait;
use serde_json::Value;

use crate::fixture::{example_file, API_KEY};

/// Waits until the CP lists `n` connected DPs; returns the rows.
pub async fn connected_rows(cp: &ControlPlane, client: &HttpClient, n: usize) -> Vec<Value> {
    wait::until(
        &format!("{n} connected data planes"),
        Duration::from_secs(20),
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

/// `config version N (hash H)` from apply's output.
fn applied(stdout: &str) -> (u64, String) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("config version "))
        .unwrap_or_else(|| panic!("no `config version` line in:\n{stdout}"));
    let mut words = line.split_whitespace().skip(2);
    let version = words.next().unwrap().parse().unwrap();
    let hash = words.nth(1).unwrap().trim_end_matches(')').to_string();
    (version, hash)
}

async fn apply_wait(cp: &ControlPlane, mock: &MockLlm, wait: &str) -> cluster::CliOutput {
    let upstream = mock.url("/v1/responses");
    let env = [
        ("DECK_OPENAI_API_KEY", API_KEY),
        ("DECK_OPENAI_UPSTREAM_URL", upstream.as_str()),
    ];
    cluster::apply_with(&cp.admin_url(), &[&example_file()], &[wait], &env)
        .await
        .unwrap()
}

fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_wait_returns_once_both_dps_serve_it_and_everyone_says_so() {
    let dir = TempDir::new("apply-wait").unwrap();
    let client = HttpClient::new();
    let mock = MockLlm::start().await.unwrap();
    let cp = spawn_cp(&dir).await.unwrap();
    let labelled = ["--cluster-dp-labels", "region:eu-west,tier:gold"];
    let dps: Vec<DataPlane> = vec![
        spawn_dp_with(&dir, "data-plane-0", cp.cluster, &labelled)
            .await
            .unwrap(),
        spawn_dp(&dir, "data-plane-1", cp.cluster).await.unwrap(),
    ];
    connected_rows(&cp, &client, 2).await;

    let out = apply_wait(&cp, &mock, "--wait=30").await;
    assert!(out.success, "{}", out.describe());
    let (version, hash) = applied(&out.stdout);
    let rows = connected_rows(&cp, &client, 2).await;
    for row in &rows {
        let id = row["id"].as_str().unwrap();
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("no line for {id}:\n{}", out.describe()));
        assert!(
            line.contains(&format!("applied version {version} in ")) && line.ends_with(" ms"),
            "{line}"
        );
        for key in [
            "ip",
            "hostname",
            "version",
            "last_seen",
            "updated_at",
            "ttl",
        ] {
            assert!(!row[key].is_null(), "no {key} in {row}");
        }
        assert_eq!(row["sync_status"], "normal", "{row}");
        assert_eq!(row["config_hash"], hash.as_str(), "{row}");
        assert_eq!(row["config_version"], version, "{row}");
        assert!(row["cert_details"].is_object(), "{row}");
    }
    let labelled_rows: Vec<&Value> = rows
        .iter()
        .filter(|r| r["labels"]["region"] == "eu-west")
        .collect();
    assert_eq!(labelled_rows.len(), 1, "{rows:?}");
    assert_eq!(labelled_rows[0]["labels"]["tier"], "gold");

    // --wait returned, so both DPs already serve the new config: no polling here.
    for dp in &dps {
        let status = client
            .get(&dp.status_url("/status"))
            .await
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(status["configuration_hash"], hash.as_str(), "{status}");
        assert_eq!(status["config_version"], version, "{status}");
        assert!(status["config_loaded_at"].as_u64().is_some(), "{status}");
        let ready = client.get(&dp.status_url("/status/ready")).await.unwrap();
        assert_eq!(ready.status, 200);
        let m = client.get(&dp.status_url("/metrics")).await.unwrap().text();
        assert_eq!(
            metric_value(&m, "kong_control_plane_connected"),
            Some(1.0),
            "{m}"
        );
        assert_eq!(
            metric_value(&m, "kong_data_plane_config_version"),
            Some(version as f64),
            "{m}"
        );
        let info = format!("kong_data_plane_config_hash_info{{hash=\"{hash}\"}}");
        assert_eq!(metric_value(&m, &info), Some(1.0), "{m}");
        let bytes = metric_value(
            &m,
            "kong_data_plane_sync_received_bytes_total{message=\"snapshot\"}",
        );
        assert!(bytes.is_some_and(|b| b > 100.0), "{m}");
    }
    let cp_metrics = client
        .get(&format!("{}/metrics", cp.admin_url()))
        .await
        .unwrap()
        .text();
    let hash_value = u128::from_str_radix(&hash, 16).unwrap() as f64;
    let hashes: Vec<f64> = cp_metrics
        .lines()
        .filter(|l| l.starts_with("kong_data_plane_config_hash{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    assert_eq!(hashes.len(), 2, "{cp_metrics}");
    assert!(
        hashes
            .iter()
            .all(|h| (h - hash_value).abs() <= hash_value * 1e-9),
        "{cp_metrics}"
    );
    // Each DP's last contact, Unix seconds: within the last minute.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let seen: Vec<f64> = cp_metrics
        .lines()
        .filter(|l| l.starts_with("kong_data_plane_last_seen{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    assert_eq!(seen.len(), 2, "{cp_metrics}");
    assert!(seen.iter().all(|s| (now - s).abs() < 60.0), "{cp_metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_wait_names_a_dp_that_does_not_answer() {
    let dir = TempDir::new("apply-wait-silent").unwrap();
    let client = HttpClient::new();
    let mock = MockLlm::start().await.unwrap();
    let cp = spawn_cp(&dir).await.unwrap();
    let awake = spawn_dp(&dir, "data-plane-0", cp.cluster).await.unwrap();
    let frozen = spawn_dp(&dir, "data-plane-1", cp.cluster).await.unwrap();
    connected_rows(&cp, &client, 2).await;
    // Freeze one DP (this test's own child, by pid): its stream stays open but nothing answers.
    let stop = std::process::Command::new("kill")
        .args(["-STOP", &frozen.process.pid().to_string()])
        .status()
        .unwrap();
    assert!(stop.success());

    let out = apply_wait(&cp, &mock, "--wait=3").await;
    assert!(!out.success, "{}", out.describe());
    assert!(
        out.stderr.contains("did not answer within 3 s"),
        "{}",
        out.describe()
    );
    let rows = connected_rows(&cp, &client, 2).await;
    let awake_id = rows
        .iter()
        .find(|r| r["config_version"].as_u64() > Some(0))
        .map(|r| r["id"].as_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        out.stdout
            .contains(&format!("({awake_id}) applied version")),
        "{}",
        out.describe()
    );
    awake
        .wait_ready(&client, Duration::from_secs(5))
        .await
        .unwrap();

    // Still frozen: after 30 s of silence the CP counts it as gone; the awake one stays.
    wait::until(
        "the CP to mark the frozen DP disconnected",
        Duration::from_secs(50),
        async || {
            let list = cp.get_json(&client, "/clustering/data-planes").await?;
            let rows = list["data"].as_array().cloned().unwrap_or_default();
            let gone = rows.iter().filter(|r| r["connected"] == false).count();
            let up = rows.iter().filter(|r| r["connected"] == true).count();
            Ok((gone == 1 && up == 1).then_some(()))
        },
    )
    .await
    .unwrap();
    // Heartbeats flow both ways: the awake DP sends one every 10 s, more than 30 s have passed,
    // and the CP answers each with its own, which the DP counts.
    let series = "kong_data_plane_sync_received_bytes_total{message=\"heartbeat\"}";
    let beats = crate::sync_converge::metric(&awake, &client, series).await;
    assert!(beats > 0.0, "no heartbeat from the CP");
    let _ = std::process::Command::new("kill")
        .args(["-CONT", &frozen.process.pid().to_string()])
        .status();
}

/// Kong's version rule (same major, DP minor ≤ CP minor): a DP claiming a newer minor is
/// refused with the reason, and the CP lists it as incompatible, in its node list and metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incompatible_dp_is_told_why_and_listed_as_such() {
    let dir = TempDir::new("sync-incompatible").unwrap();
    let client = HttpClient::new();
    let cp = spawn_cp(&dir).await.unwrap();
    let cluster = cp.cluster.to_string();
    let refused = e2e::fake_dp::FakeDp::connect_as(&cluster, "newer-dp", "0.99.0").await;
    let why = refused
        .err()
        .expect("the CP must refuse a newer minor version")
        .to_string();
    assert!(
        why.contains("data plane version 0.99.0 is incompatible with control plane version"),
        "{why}"
    );
    let rows = cp
        .get_json(&client, "/clustering/data-planes")
        .await
        .unwrap();
    let row = rows["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "newer-dp")
        .unwrap_or_else(|| panic!("no row for the refused DP: {rows}"))
        .clone();
    assert_eq!(row["sync_status"], "kong_version_incompatible", "{row}");
    assert_eq!(row["version"], "0.99.0", "{row}");
    let told = row["last_error"].as_str().unwrap_or_default();
    assert!(
        told.contains("is incompatible with control plane version"),
        "{row}"
    );
    let metrics = client
        .get(&format!("{}/metrics", cp.admin_url()))
        .await
        .unwrap()
        .text();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("kong_data_plane_version_compatible{") && l.contains("newer-dp"))
        .unwrap_or_else(|| panic!("no compatibility series for the DP:\n{metrics}"));
    assert!(line.ends_with(" 0"), "{line}");
    // A DP of the CP's own version is accepted.
    let same = e2e::fake_dp::FakeDp::connect(&cluster, "same-dp").await;
    assert!(same.is_ok(), "{:?}", same.err());
}
