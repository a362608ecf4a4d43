//! A config that reaches a DP but cannot be compiled there is refused (NACK) with the reason;
//! the DP keeps serving the config it had; `/clustering/data-planes` and `apply --wait` name the
//! reason; the next good config is applied and ACKed.
//!
//! A CP refuses such a config itself (it checks with the same `proto::schema` rules the DP
//! compiles with, header regexes included), so the one way it reaches a DP is a write this CP
//! never checked: another control plane sharing the database — one of an older or newer version
//! during a rolling upgrade — or a hand edit or restore of the database. The test makes that
//! write with `psql` on the PostgreSQL database the CP runs on; the CP hears it
//! (LISTEN/NOTIFY), loads it and publishes it as it would any other CP's write.

use std::path::Path;

use e2e::cluster::{self, spawn_cp_named, spawn_dp, CliOutput, ControlPlane, DataPlane};
use e2e::http::HttpClient;
use e2e::mock_llm::MockLlm;
use e2e::postgres::Postgres;
use e2e::tempdir::TempDir;
use e2e::wait;
use serde_json::{json, Value};

use crate::fixture::{tutorial_body, SYNC_TIMEOUT};
use crate::sync_status::connected_rows;

/// A header regex the router cannot compile (an unclosed group).
const BAD_REGEX: &str = "~*(unclosed";

/// One service on the mock with route `/good`, plus one route per extra path.
fn config(upstream: &str, extra: &[&str]) -> Value {
    let mut routes = vec![json!({"name": "good", "paths": ["/good"]})];
    for (i, path) in extra.iter().enumerate() {
        routes.push(json!({"name": format!("extra-{i}"), "paths": [path]}));
    }
    json!({
        "_format_version": "3.0",
        "services": [{"name": "mock", "url": upstream, "routes": routes}],
    })
}

/// Writes route `name` on `path`, matching header `x-version` with `BAD_REGEX`, straight into
/// the CP's database with a new config version, as another control plane's commit would.
fn write_unchecked_route(pg: &Postgres, db: &str, service: &str, name: &str, path: &str) {
    let id = "7e0b1c3a-0000-4000-8000-00000000bad1";
    let body = json!({
        "id": id,
        "name": name,
        "service": {"id": service},
        "paths": [path],
        "headers": {"x-version": [BAD_REGEX]},
    });
    let sql = format!(
        "INSERT INTO entities (kind, id, name, body, created_at, updated_at) \
         VALUES ('routes', '{id}', '{name}', '{body}', 0, 0); \
         UPDATE config_version SET version = version + 1; \
         SELECT pg_notify('kong_config_version', version::text) FROM config_version;"
    );
    pg.psql(db, &sql).unwrap();
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
    let pg = Postgres::start().unwrap();
    let db = pg.create_database().unwrap();
    let cp = spawn_cp_named(&dir, "control-plane", &db, "127.0.0.1:0", &[])
        .await
        .unwrap();
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

    // The CP itself refuses the route, naming the reason, and stores nothing.
    let service = cp.get_json(&client, "/services/mock").await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = client
        .post_json(
            &format!("{}/routes", cp.admin_url()),
            &[],
            &json!({"name": "bad", "paths": ["/bad"], "service": {"id": service},
                    "headers": {"x-version": [BAD_REGEX]}}),
        )
        .await
        .unwrap();
    assert_eq!(refused.status.as_u16(), 400, "{}", refused.text());
    assert!(
        refused.text().contains("unclosed group"),
        "{}",
        refused.text()
    );

    // Written past the CP's checks: published, and refused by the DP.
    write_unchecked_route(&pg, &db, &service, "bad", "/bad");
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

    // An apply that keeps the unchecked route (select_tags leaves untagged entities alone) makes
    // a version the DP refuses too, and `apply --wait` says why.
    let tagged = json!({
        "_format_version": "3.0",
        "_info": {"select_tags": ["team-a"]},
        "services": [{"name": "tagged", "url": upstream,
                      "routes": [{"name": "tagged", "paths": ["/tagged"]}]}],
    });
    let tagged = dir.write("tagged.json", &tagged.to_string()).unwrap();
    let out = apply_wait(&cp, &tagged).await;
    assert!(!out.success, "apply --wait must fail: {}", out.describe());
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("refused") && text.contains("unclosed"),
        "apply --wait names the DP's reason: {}",
        out.describe()
    );
    assert_eq!(dp.config_hash(&client).await.unwrap(), good_hash);

    // A later good config (it replaces everything, the unchecked route too) is applied and
    // ACKed; the NACK is cleared.
    let fixed = dir
        .write("fixed.json", &config(&upstream, &["/later"]).to_string())
        .unwrap();
    let out = apply_wait(&cp, &fixed).await;
    assert!(out.success, "{}", out.describe());
    assert!(out.stdout.contains("applied version"), "{}", out.describe());
    assert_eq!(status_of(&dp, &client, "/later").await, 200);
    assert_eq!(status_of(&dp, &client, "/good").await, 200);
    assert_eq!(status_of(&dp, &client, "/bad").await, 404);
    let log = dp.process.log_text();
    assert!(
        !log.contains("asking for a full snapshot"),
        "the CP sent the next change as a delta from the config the DP kept:\n{log}"
    );
    let rows = connected_rows(&cp, &client, 1).await;
    assert!(rows[0]["last_error"].is_null(), "{}", rows[0]);
    assert_eq!(rows[0]["sync_status"], "normal", "{}", rows[0]);
}
