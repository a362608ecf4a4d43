//! A running gateway for a test: mock upstream, control plane, data planes, the tutorial's
//! example file applied, and the tutorial's request.

use std::path::PathBuf;
use std::time::Duration;

use e2e::binaries::repo_file;
use e2e::cluster::{self, CliOutput, ControlPlane, DataPlane};
use e2e::http::{HttpClient, Response};
use e2e::mock_llm::MockLlm;
use e2e::postgres::Postgres;
use e2e::tempdir::TempDir;
use serde_json::{json, Value};

/// The API key the tests give the gateway for the upstream.
pub const API_KEY: &str = "sk-test-e2e-0123456789abcdef";
/// The consumer's key from the example file.
pub const CONSUMER_KEY: &str = "hello_world";
/// The two targets of the example file.
pub const MODELS: [&str; 2] = ["gpt-4", "gpt-4o"];
/// How long data planes may take to receive a config.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// Field order is drop order: processes stop before their directory goes.
pub struct Gateway {
    pub dps: Vec<DataPlane>,
    pub cp: ControlPlane,
    /// The CP's database server and URL when it runs on PostgreSQL (stopped after the CP).
    pub postgres: Option<(Postgres, String)>,
    pub mock: MockLlm,
    pub client: HttpClient,
    pub dir: TempDir,
}

pub fn example_file() -> PathBuf {
    repo_file("deploy/examples/kong.yaml")
}

impl Gateway {
    /// Mock + CP + `n` DPs, nothing applied yet.
    pub async fn start(label: &str, n: usize) -> Gateway {
        Self::start_on(label, n, false).await
    }

    /// Like [`Gateway::start`], the CP on a fresh PostgreSQL server when `postgres`.
    pub async fn start_on(label: &str, n: usize, postgres: bool) -> Gateway {
        let dir = TempDir::new(label).unwrap();
        let mock = MockLlm::start().await.unwrap();
        let (cp, postgres) = if postgres {
            let pg = Postgres::start().unwrap();
            let url = pg.create_database().unwrap();
            let cp = cluster::spawn_cp_named(&dir, "control-plane", &url, "127.0.0.1:0", &[])
                .await
                .unwrap();
            (cp, Some((pg, url)))
        } else {
            (cluster::spawn_cp(&dir).await.unwrap(), None)
        };
        let mut dps = Vec::new();
        for i in 0..n {
            dps.push(
                cluster::spawn_dp(&dir, &format!("data-plane-{i}"), cp.cluster)
                    .await
                    .unwrap(),
            );
        }
        Gateway {
            dps,
            cp,
            postgres,
            mock,
            client: HttpClient::new(),
            dir,
        }
    }

    /// The `DECK_` variables that point the example at the mock.
    pub fn deck_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DECK_OPENAI_API_KEY", API_KEY.to_string()),
            ("DECK_OPENAI_UPSTREAM_URL", self.mock.url("/v1/responses")),
        ]
    }

    /// `control-plane apply` of `file` with [`Gateway::deck_env`].
    pub async fn apply(&self, file: &std::path::Path) -> CliOutput {
        let env = self.deck_env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        cluster::apply(&self.cp.admin_url(), &[file], &env)
            .await
            .unwrap()
    }

    /// Applies the example file, asserts success, and waits for every DP to be ready.
    pub async fn apply_example(&self) -> CliOutput {
        let out = self.apply(&example_file()).await;
        assert!(
            out.success,
            "apply of the example failed:\n{}",
            out.describe()
        );
        for dp in &self.dps {
            dp.wait_ready(&self.client, SYNC_TIMEOUT).await.unwrap();
        }
        out
    }

    /// The tutorial's request against `dp`, with `apikey` when given and `model` when given.
    pub async fn tutorial_request(
        &self,
        dp: &DataPlane,
        apikey: Option<&str>,
        model: Option<&str>,
    ) -> Response {
        let mut body = tutorial_body();
        if let Some(model) = model {
            body["model"] = json!(model);
        }
        let mut headers = vec![("accept", "application/json")];
        if let Some(key) = apikey {
            headers.push(("apikey", key));
        }
        let url = dp.proxy_url("/anything/v1/responses");
        self.client.post_json(&url, &headers, &body).await.unwrap()
    }
}

/// The body of the tutorial's loop, `$GITHUB_PAT` filled in.
pub fn tutorial_body() -> Value {
    json!({
        "tools": [
            {
                "type": "mcp",
                "server_label": "gitmcp",
                "server_url": "https://api.githubcopilot.com/mcp/x/repos",
                "require_approval": "never",
                "headers": {
                    "Authorization": "Bearer github_pat_e2e_test"
                }
            }
        ],
        "input": "tools available with github mcp"
    })
}

/// Asserts a Kong error body: `{"message": expected}`, plus at most Kong's `request_id`.
pub fn assert_kong_message(response: &Response, expected: &str) {
    let body = response.json().unwrap();
    assert_eq!(body["message"], expected, "body: {body}");
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert!(
        keys.iter().all(|k| *k == "message" || *k == "request_id"),
        "unexpected fields in Kong error body: {body}"
    );
}

/// The number after `label:` in apply's `Summary:` block.
pub fn summary_count(stdout: &str, label: &str) -> Option<u64> {
    stdout.lines().find_map(|line| {
        let rest = line
            .trim()
            .strip_prefix(label)?
            .trim_start()
            .strip_prefix(':')?;
        rest.trim().parse().ok()
    })
}

#[test]
fn summary_counts_are_read() {
    let out = "creating service a\nSummary:\n  Created: 7\n  Updated: 0\n  Deleted: 0\n";
    assert_eq!(summary_count(out, "Created"), Some(7));
    assert_eq!(summary_count(out, "Deleted"), Some(0));
    assert_eq!(summary_count(out, "Nope"), None);
}
