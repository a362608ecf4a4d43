//! PostgreSQL goes away under two running CPs and comes back: the DPs keep serving the last
//! config throughout, each CP says so on `/status/ready` (503) and refuses writes with a clear
//! error instead of hanging, and once the database is back the CPs take writes again and
//! carry them to the DPs of both (the LISTEN connection is re-established).

use std::time::{Duration, Instant};

use e2e::cluster::{spawn_dp_to, ControlPlane};
use e2e::http::HttpClient;
use e2e::mock_llm::MockLlm;
use e2e::postgres::Postgres;
use e2e::tempdir::TempDir;
use e2e::wait;
use serde_json::json;

use crate::fixture::SYNC_TIMEOUT;
use crate::multi_cp::{add_route, request, status, two_cps_with_tutorial, wait_hash, wait_version};

/// An Admin API write must be answered (not hang) while the database is down: the CP waits
/// Kong's `pg_timeout` (5 s) for a connection; the rest is slack for a loaded machine.
const WRITE_ANSWER_BOUND: Duration = Duration::from_secs(20);

/// Waits until `cp`'s `/status/ready` answers `code`.
async fn wait_ready_status(cp: &ControlPlane, client: &HttpClient, code: u16) {
    let what = format!("{} /status/ready to answer {code}", cp.process.name());
    let url = format!("{}/status/ready", cp.admin_url());
    wait::until(&what, SYNC_TIMEOUT, async || {
        let r = client.get(&url).await?;
        Ok((r.status.as_u16() == code).then_some(()))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e:#}\n{}", cp.process.diagnostics()))
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cps_ride_out_a_database_outage_and_dps_keep_serving() {
    let pg = Postgres::start().unwrap();
    let url = pg.create_database().unwrap();
    let dir = TempDir::new("pg-outage").unwrap();
    let client = HttpClient::new();
    let mock = MockLlm::start().await.unwrap();
    let (cp1, cp2) = two_cps_with_tutorial(&dir, &url, &mock).await;
    add_route(&cp1, &client, "before-outage").await;
    let (v, hash) = status(&cp1, &client).await;
    assert_eq!(wait_version(&cp2, &client, v).await, hash);
    let dp = spawn_dp_to(&dir, "data-plane", &[cp2.cluster, cp1.cluster], &[])
        .await
        .unwrap();
    dp.wait_ready(&client, SYNC_TIMEOUT).await.unwrap();
    wait_hash(&dp, &client, &hash).await;

    // The database goes away.
    pg.stop().unwrap();
    for cp in [&cp1, &cp2] {
        wait_ready_status(cp, &client, 503).await;
        let ready = client
            .get(&format!("{}/status/ready", cp.admin_url()))
            .await
            .unwrap();
        assert_eq!(
            ready.json().unwrap(),
            json!({"message": "failed to connect to database"})
        );
    }
    // A write is refused with a clear error, within a bound, and nothing changes.
    let started = Instant::now();
    let refused = client
        .post_json(
            &format!("{}/services/example-clean-service/routes", cp1.admin_url()),
            &[],
            &json!({"name": "during-outage", "paths": ["/during-outage"]}),
        )
        .await
        .unwrap();
    assert!(
        started.elapsed() < WRITE_ANSWER_BOUND,
        "the write took {:?}",
        started.elapsed()
    );
    assert_eq!(refused.status, 503, "{}", refused.text());
    let message = refused.json().unwrap()["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.starts_with("failed to connect to database"),
        "{message}"
    );
    assert_eq!(status(&cp1, &client).await, (v, hash.clone()));
    // The DP serves the last config all along.
    for _ in 0..5 {
        let r = request(&client, &dp, "/before-outage").await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(dp.config_hash(&client).await.unwrap(), hash);

    // The database is back: both CPs recover, a write on CP 1 reaches the DP on CP 2.
    pg.restart().unwrap();
    for cp in [&cp1, &cp2] {
        wait_ready_status(cp, &client, 200).await;
    }
    add_route(&cp1, &client, "after-outage").await;
    let hash2 = wait_version(&cp2, &client, v + 1).await;
    wait_hash(&dp, &client, &hash2).await;
    let r = request(&client, &dp, "/after-outage").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(request(&client, &dp, "/during-outage").await.status, 404);
}
