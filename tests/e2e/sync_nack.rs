//! A config the CP accepts but a DP cannot compile (a route header regex that does not parse:
//! the CP checks path regexes, the DP's router compiles header ones too): the DP NACKs it with
//! the reason and keeps serving the config it had; `/clustering/data-planes` and
//! `apply --wait` name the reason; the next good config is applied and ACKed.

use std::path::Path;

use e2e::cluster::{self, spawn_cp, spawn_dp, CliOutput, ControlPlane, DataPlane};
use e2e::http::HttpClient;
use e2e::mock_llm::MockLlm;
use e2e::tempdir::TempDir;
use e2e::wait;
use serde_json::{json, Value};

use crate::fixture::{tutorial_body, SYNC_TIMEOUT};
use crate::sync_status::connected_rows;

/// The regex the DP cannot compile (an unclosed group).
const BAD_REGEX: &str = "~*(unclosed";

/// One service on the mock with route `/good`, plus one route per `(path, header regex)`.
fn config(upstream: &str, extra: &[(&str, Option<&str>)]) -> Value {
    let mut routes = vec![json!({"name": "good", "paths": ["/good"]})];
    for (i, (path, regex)) in extra.iter().enumerate() {
        let mut r = json!({"name": format!("extra-{i}"), "paths": [path]});
        if let Some(re) = regex {
            r["headers"] = json!({"x-version": [re]});
        }
        routes.push(r);
    }
    json!({
        "_format_version": "3.0",
        "services": [{"name": "mock", "url": upstream, "routes": routes}],
    })
}

async fn apply_wait(cp: &ControlPlane, file: &Path) -> CliOutput {
    cluster::apply_with(&cp.admin_url(), &[file], &["--wait=15"], &[])
        .await
        .unwrap()
}

async fn status_of(dp: &DataPlane, client: &HttpClient, path: &str) -> u16 {
    let url = dp.proxy_url(path);
    let mut body = tutorial_body();
    body["model"] = json!("gpt-4o");
    let r = client.post_json(&url, &[], &body).await.unwrap();
    r.status.as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dp_refuses_a_config_it_cannot_compile_keeps_the_old_one_and_takes_the_next() {
    let dir = TempDir::new("sync-nack").unwrap();
    let client = HttpClient::new();
    let mock = MockLlm::start().await.unwrap();
    let upstream = mock.url("/v1/responses");
    let cp = spawn_cp(&dir).await.unwrap();
    let dp = spawn_dp(&dir, "data-plane-0", cp.cluster).await.unwrap();
    connected_rows(&cp, &client, 1).await;

    let good = dir
        .write("good.json", &config(&upstream, &[]).to_string())
        .unwrap();
    let out = apply_wait(&cp, &good).await;
    assert!(out.success, "{}", out.describe());
    dp.wait_ready(&client, SYNC_TIMEOUT).await.unwrap();
    let good_hash = dp.config_hash(&client).await.unwrap();
    assert_eq!(status_of(&dp, &client, "/good").await, 200);

    // Accepted by the CP, refused by the DP.
    let bad = dir
        .write(
            "bad.json",
            &config(&upstream, &[("/bad", Some(BAD_REGEX))]).to_string(),
        )
        .unwrap();
    let out = apply_wait(&cp, &bad).await;
    assert!(!out.success, "apply --wait must fail: {}", out.describe());
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("refused") && text.contains("unclosed"),
        "apply --wait names the DP's reason: {}",
        out.describe()
    );
    let row = wait::until(
        "the NACK in /clustering/data-planes",
        SYNC_TIMEOUT,
        async || {
            let rows = connected_rows(&cp, &client, 1).await;
            Ok(rows[0]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("unclosed"))
                .then(|| rows[0].clone()))
        },
    )
    .await
    .unwrap();
    assert_eq!(row["config_hash"], good_hash.as_str(), "{row}");
    assert_eq!(dp.config_hash(&client).await.unwrap(), good_hash);
    assert_eq!(
        status_of(&dp, &client, "/good").await,
        200,
        "old config serves"
    );
    assert_eq!(
        status_of(&dp, &client, "/bad").await,
        404,
        "refused route absent"
    );
    assert!(
        dp.process.log_text().contains("configuration refused"),
        "{}",
        dp.process.diagnostics()
    );

    // A later good config is applied and ACKed; the NACK is cleared.
    let fixed = dir
        .write(
            "fixed.json",
            &config(&upstream, &[("/later", None)]).to_string(),
        )
        .unwrap();
    let out = apply_wait(&cp, &fixed).await;
    assert!(out.success, "{}", out.describe());
    assert!(out.stdout.contains("applied version"), "{}", out.describe());
    assert_eq!(status_of(&dp, &client, "/later").await, 200);
    assert_eq!(status_of(&dp, &client, "/good").await, 200);
    let log = dp.process.log_text();
    assert!(
        !log.contains("asking for a full snapshot"),
        "the CP sent the next change as a delta from the config the DP kept:\n{log}"
    );
    let rows = connected_rows(&cp, &client, 1).await;
    assert!(rows[0]["last_error"].is_null(), "{}", rows[0]);
    assert_eq!(rows[0]["sync_status"], "normal", "{}", rows[0]);
}
