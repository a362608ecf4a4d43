//! The decK-style CLI against a running control plane: `dump` writes a file that `apply` takes
//! back with nothing to change, `diff` shows a field-level change without making it, and an
//! Admin API write is visible to `apply --dry-run` (what `diff` runs) and undone by `apply`.
//! Run on SQLite and on PostgreSQL.

use e2e::cluster::{self, control_plane_cli};
use serde_json::json;

use crate::fixture::{summary_count, Gateway};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dump_diff_and_apply_round_trip() {
    dump_diff_and_apply(Gateway::start("deck-cli", 0).await).await;
}

/// The same, the CP storing into PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dump_diff_and_apply_round_trip_on_postgres() {
    dump_diff_and_apply(Gateway::start_on("deck-cli-pg", 0, true).await).await;
}

async fn dump_diff_and_apply(gw: Gateway) {
    gw.apply_example().await;
    let admin = gw.cp.admin_url();

    // dump → apply: nothing to change.
    let dumped = gw.dir.path().join("dump.yaml");
    let out = control_plane_cli(&[
        "dump",
        "--admin-url",
        &admin,
        "-o",
        dumped.to_str().unwrap(),
    ])
    .await
    .unwrap();
    assert!(out.success, "{}", out.describe());
    let text = std::fs::read_to_string(&dumped).unwrap();
    assert!(
        text.contains("example-clean-service") && text.contains("ai-proxy-advanced"),
        "{text}"
    );
    let again = cluster::apply(&admin, &[&dumped], &[]).await.unwrap();
    assert!(again.success, "{}", again.describe());
    for field in ["Created", "Updated", "Deleted"] {
        assert_eq!(
            summary_count(&again.stdout, field),
            Some(0),
            "{field}:\n{}",
            again.describe()
        );
    }

    // An Admin API write: `diff` of the example shows it, field by field, and changes nothing.
    let client = &gw.client;
    let url = format!("{admin}/services/example-clean-service");
    let body = serde_json::to_vec(&json!({"retries": 9})).unwrap();
    let resp = client
        .send(
            hyper::Method::PATCH,
            &url,
            &[("content-type", "application/json")],
            body,
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let env = gw.deck_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let example = crate::fixture::example_file();
    let diff = cluster::apply_with(&admin, &[&example], &["--dry-run"], &env)
        .await
        .unwrap();
    assert!(diff.success, "{}", diff.describe());
    assert!(
        diff.stdout
            .contains("updating service example-clean-service"),
        "{}",
        diff.describe()
    );
    assert!(
        diff.stdout.contains("-  \"retries\": 9") && diff.stdout.contains("+  \"retries\": 5"),
        "{}",
        diff.describe()
    );
    assert!(
        !diff.stdout.contains("sk-test"),
        "the API key must be masked:\n{}",
        diff.stdout
    );
    let svc = gw
        .cp
        .get_json(client, "/services/example-clean-service")
        .await
        .unwrap();
    assert_eq!(svc["retries"], 9, "a dry run changes nothing");

    // apply puts the file's value back.
    let fixed = gw.apply(&example).await;
    assert_eq!(
        summary_count(&fixed.stdout, "Updated"),
        Some(1),
        "{}",
        fixed.describe()
    );
    let svc = gw
        .cp
        .get_json(client, "/services/example-clean-service")
        .await
        .unwrap();
    assert_eq!(svc["retries"], 5);

    // On PostgreSQL the config really is in the database.
    if let Some((pg, url)) = &gw.postgres {
        let sql =
            "SELECT body FROM entities WHERE kind = 'services' AND name = 'example-clean-service'";
        let body: serde_json::Value = serde_json::from_str(&pg.psql(url, sql).unwrap()).unwrap();
        assert_eq!(body["retries"], 5, "{body}");
    }
}

/// basic-auth passwords are stored as digests: `dump` writes them with `_transform: false`, so
/// restoring the dump on a new CP keeps the digests instead of hashing them again, and the
/// restored credentials are the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dump_restores_basic_auth_digests_on_a_new_control_plane() {
    let dir = e2e::tempdir::TempDir::new("deck-basic-auth").unwrap();
    let first = cluster::spawn_cp(&dir).await.unwrap();
    let client = e2e::http::HttpClient::new();
    let admin = first.admin_url();
    let post = |path: &str, body: serde_json::Value| {
        let url = format!("{admin}{path}");
        let client = &client;
        async move { client.post_json(&url, &[], &body).await.unwrap() }
    };
    let made = post("/consumers", json!({"username": "alice"})).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let made = post(
        "/consumers/alice/basic-auth",
        json!({"username": "alice", "password": "s3cret"}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let digest = made.json().unwrap()["password"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(digest, "s3cret", "the password is stored hashed");

    let dumped = dir.join("dump.yaml");
    let out = control_plane_cli(&[
        "dump",
        "--admin-url",
        &admin,
        "-o",
        dumped.to_str().unwrap(),
    ])
    .await
    .unwrap();
    assert!(out.success, "{}", out.describe());
    let text = std::fs::read_to_string(&dumped).unwrap();
    assert!(text.contains("_transform: false"), "{text}");

    let other = e2e::tempdir::TempDir::new("deck-basic-auth-2").unwrap();
    let second = cluster::spawn_cp(&other).await.unwrap();
    let restored = cluster::apply(&second.admin_url(), &[&dumped], &[])
        .await
        .unwrap();
    assert!(restored.success, "{}", restored.describe());
    let creds = second.get_json(&client, "/basic-auths").await.unwrap();
    assert_eq!(creds["data"][0]["password"], json!(digest), "{creds}");
    // And applying the dump again to the first CP changes nothing.
    let again = cluster::apply(&admin, &[&dumped], &[]).await.unwrap();
    assert_eq!(
        summary_count(&again.stdout, "Updated"),
        Some(0),
        "{}",
        again.describe()
    );
}
