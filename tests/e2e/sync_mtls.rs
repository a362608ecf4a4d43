//! Mutual TLS between the planes: in `shared` mode a DP with the CP's certificate syncs and one
//! with another certificate or none is refused; in `pki` mode one signed by the CA syncs and another is
//! refused, and with `--cluster-allowed-common-names` a CA-signed certificate with another common
//! name is refused too. A refused DP stays unready, and the CP logs who tried (address, and the
//! subject of the certificate it presented).

use std::time::Duration;

use e2e::cluster::{control_plane_cli, spawn_cp_with, spawn_dp_with};
use e2e::http::HttpClient;
use e2e::tempdir::TempDir;
use e2e::wait;
use serde_json::json;

use crate::fixture::SYNC_TIMEOUT;
use crate::sync_status::connected_rows;

/// `control-plane cert` into `dir`; returns (cert, key) paths as strings.
async fn pair(dir: &TempDir, name: &str) -> (String, String) {
    let cert = dir.join(format!("{name}.crt")).display().to_string();
    let key = dir.join(format!("{name}.key")).display().to_string();
    let out = control_plane_cli(&["cert", "--cert", &cert, "--key", &key])
        .await
        .unwrap();
    assert!(out.success, "{}", out.describe());
    (cert, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_mode_accepts_the_same_certificate_and_refuses_another() {
    let dir = TempDir::new("mtls").unwrap();
    let client = HttpClient::new();
    let (cert, key) = pair(&dir, "cluster").await;
    let (other_cert, other_key) = pair(&dir, "intruder").await;
    let tls = ["--cluster-cert", &cert, "--cluster-cert-key", &key];
    let cp = spawn_cp_with(&dir, "127.0.0.1:0", &tls).await.unwrap();
    assert!(cp.process.log_text().contains("cluster link: mutual TLS"));
    assert!(!cp.process.log_text().contains("plaintext"));

    let good = spawn_dp_with(&dir, "data-plane-good", cp.cluster, &tls)
        .await
        .unwrap();
    let bad_tls = [
        "--cluster-cert",
        &other_cert,
        "--cluster-cert-key",
        &other_key,
    ];
    let bad = spawn_dp_with(&dir, "data-plane-bad", cp.cluster, &bad_tls)
        .await
        .unwrap();
    connected_rows(&cp, &client, 1).await;
    let doc = json!({
        "_format_version": "3.0",
        "services": [{"name": "s", "url": "http://127.0.0.1:9/", "routes": [{"name": "r", "paths": ["/r"]}]}],
    });
    let r = client
        .post_json(&format!("{}/config", cp.admin_url()), &[], &doc)
        .await
        .unwrap();
    assert!(r.status.is_success(), "{}", r.text());
    good.wait_ready(&client, SYNC_TIMEOUT).await.unwrap();

    wait::until(
        "the CP to log the refused DP",
        Duration::from_secs(20),
        async || {
            Ok(cp
                .process
                .log_text()
                .contains("refused data plane connection from 127.0.0.1")
                .then_some(()))
        },
    )
    .await
    .unwrap();
    let ready = client.get(&bad.status_url("/status/ready")).await.unwrap();
    assert_eq!(ready.status, 503, "{}", ready.text());

    // Plaintext only without certificates: a DP without any is refused by this CP too.
    let plain = spawn_dp_with(&dir, "data-plane-plain", cp.cluster, &[])
        .await
        .unwrap();
    wait::until(
        "the CP to log the plaintext DP",
        Duration::from_secs(20),
        async || {
            Ok(cp
                .process
                .log_text()
                .contains("(not TLS: a data plane without --cluster-cert?)")
                .then_some(()))
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:#}\n{}", cp.process.diagnostics()))
    .unwrap();
    let ready = client
        .get(&plain.status_url("/status/ready"))
        .await
        .unwrap();
    assert_eq!(ready.status, 503, "{}", ready.text());
    connected_rows(&cp, &client, 1).await;
    // The DP turns ready once it applied the config; its ACK reaches the CP just after.
    let list = wait::until(
        "the one DP row to say sync_status normal",
        SYNC_TIMEOUT,
        async || {
            let list = cp.get_json(&client, "/clustering/data-planes").await?;
            Ok((list["data"][0]["sync_status"] == "normal").then_some(list))
        },
    )
    .await
    .unwrap();
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["data"][0]["connected"], true, "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pki_mode_accepts_a_certificate_the_ca_signed_and_refuses_another() {
    let dir = TempDir::new("mtls-pki").unwrap();
    let client = HttpClient::new();
    // The self-signed certificate doubles as the CA (it signed itself).
    let (ca, ca_key) = pair(&dir, "ca").await;
    let (other, other_key) = pair(&dir, "other").await;
    let pki = ["--cluster-mtls", "pki", "--cluster-ca-cert", &ca];
    let server = [
        &["--cluster-cert", &ca, "--cluster-cert-key", &ca_key][..],
        &pki,
    ]
    .concat();
    let cp = spawn_cp_with(&dir, "127.0.0.1:0", &server).await.unwrap();
    let name = ["--cluster-server-name", "kong_clustering"];
    let signed = [&server[..], &name].concat();
    let unsigned = [
        &["--cluster-cert", &other, "--cluster-cert-key", &other_key][..],
        &pki,
        &name,
    ]
    .concat();
    let _good = spawn_dp_with(&dir, "data-plane-good", cp.cluster, &signed)
        .await
        .unwrap();
    let _bad = spawn_dp_with(&dir, "data-plane-bad", cp.cluster, &unsigned)
        .await
        .unwrap();
    connected_rows(&cp, &client, 1).await;
    wait::until(
        "the CP to log the refused DP",
        Duration::from_secs(20),
        async || {
            Ok(cp
                .process
                .log_text()
                .lines()
                .any(|l| {
                    l.contains("refused data plane connection from 127.0.0.1")
                        && l.contains("(certificate CN=kong_clustering)")
                        && l.contains("invalid peer certificate")
                })
                .then_some(()))
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:#}\n{}", cp.process.diagnostics()))
    .unwrap();
    let list = cp
        .get_json(&client, "/clustering/data-planes")
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "{list}");
}

/// `control-plane cert --common-name NAME` into `dir`; returns (cert, key) paths as strings.
async fn pair_named(dir: &TempDir, name: &str) -> (String, String) {
    let cert = dir.join(format!("{name}.crt")).display().to_string();
    let key = dir.join(format!("{name}.key")).display().to_string();
    let args = [
        "cert",
        "--cert",
        &cert,
        "--key",
        &key,
        "--common-name",
        name,
    ];
    let out = control_plane_cli(&args).await.unwrap();
    assert!(out.success, "{}", out.describe());
    (cert, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pki_mode_with_allowed_common_names_refuses_other_names() {
    let dir = TempDir::new("mtls-cn").unwrap();
    let client = HttpClient::new();
    let (ca, ca_key) = pair(&dir, "ca").await;
    let (allowed, allowed_key) = pair_named(&dir, "dp-allowed").await;
    let (other, other_key) = pair_named(&dir, "dp-other").await;
    // One CA file trusting all three self-signed certificates: only the names decide.
    let bundle = [&ca, &allowed, &other]
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect::<String>();
    let bundle = dir.write("bundle.crt", &bundle).unwrap();
    let bundle = bundle.display().to_string();
    let pki = ["--cluster-mtls", "pki", "--cluster-ca-cert", &bundle];
    let server = [
        &["--cluster-cert", &ca, "--cluster-cert-key", &ca_key][..],
        &pki,
        &["--cluster-allowed-common-names", "dp-allowed,dp-spare"],
    ]
    .concat();
    let cp = spawn_cp_with(&dir, "127.0.0.1:0", &server).await.unwrap();
    let name = ["--cluster-server-name", "kong_clustering"];
    let dp_args = |cert: &str, key: &str| -> Vec<String> {
        [
            &["--cluster-cert", cert, "--cluster-cert-key", key][..],
            &pki,
            &name,
        ]
        .concat()
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let good_args = dp_args(&allowed, &allowed_key);
    let good_args: Vec<&str> = good_args.iter().map(String::as_str).collect();
    let bad_args = dp_args(&other, &other_key);
    let bad_args: Vec<&str> = bad_args.iter().map(String::as_str).collect();
    let _good = spawn_dp_with(&dir, "data-plane-allowed", cp.cluster, &good_args)
        .await
        .unwrap();
    let _bad = spawn_dp_with(&dir, "data-plane-other", cp.cluster, &bad_args)
        .await
        .unwrap();
    let rows = connected_rows(&cp, &client, 1).await;
    assert!(
        rows[0]["hostname"].is_string(),
        "the allowed DP is listed: {}",
        rows[0]
    );
    wait::until(
        "the CP to log the refused common name",
        Duration::from_secs(20),
        async || {
            Ok(cp
                .process
                .log_text()
                .lines()
                .any(|l| {
                    l.contains("refused data plane connection from 127.0.0.1")
                        && l.contains("(certificate CN=dp-other)")
                        && l.contains("'dp-other' is not in --cluster-allowed-common-names")
                })
                .then_some(()))
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:#}\n{}", cp.process.diagnostics()))
    .unwrap();
    let list = cp
        .get_json(&client, "/clustering/data-planes")
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "{list}");
}
