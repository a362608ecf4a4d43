//! Starting the real control plane and data planes, and running `control-plane apply`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::binaries::binary;
use crate::http::HttpClient;
use crate::process::Process;
use crate::tempdir::TempDir;
use crate::wait;

/// How long a freshly started binary may take to log its listening addresses.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct ControlPlane {
    pub admin: SocketAddr,
    pub cluster: SocketAddr,
    pub process: Process,
}

impl ControlPlane {
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin)
    }

    /// `GET` on the Admin API, returning the JSON body of a 200 answer.
    pub async fn get_json(&self, client: &HttpClient, path: &str) -> Result<Value> {
        let url = format!("{}{path}", self.admin_url());
        let response = client.get(&url).await?;
        anyhow::ensure!(
            response.status.is_success(),
            "GET {url}: {} {}",
            response.status,
            response.text()
        );
        response.json()
    }
}

/// Starts `control-plane serve` on port 0 with a SQLite file in `dir`, and waits for `/status`.
pub async fn spawn_cp(dir: &TempDir) -> Result<ControlPlane> {
    spawn_cp_on(dir, "127.0.0.1:0").await
}

/// Like [`spawn_cp`], with the cluster listener on `cluster_listen`.
pub async fn spawn_cp_on(dir: &TempDir, cluster_listen: &str) -> Result<ControlPlane> {
    spawn_cp_with(dir, cluster_listen, &[]).await
}

/// Like [`spawn_cp_on`], with `extra` flags for `serve` (e.g. `--cluster-cert`).
pub async fn spawn_cp_with(
    dir: &TempDir,
    cluster_listen: &str,
    extra: &[&str],
) -> Result<ControlPlane> {
    let db = format!("sqlite://{}", dir.join("kong.db").display());
    spawn_cp_named(dir, "control-plane", &db, cluster_listen, extra).await
}

/// Starts `control-plane serve` named `name` (log in `dir/<name>.log`) on `database_url`
/// (e.g. a PostgreSQL database several CPs share), and waits for `/status`.
pub async fn spawn_cp_named(
    dir: &TempDir,
    name: &str,
    database_url: &str,
    cluster_listen: &str,
    extra: &[&str],
) -> Result<ControlPlane> {
    let mut cmd = Command::new(binary("control-plane")?);
    cmd.arg("serve")
        .arg("--database-url")
        .arg(database_url)
        .args(["--admin-listen", "127.0.0.1:0"])
        .args(["--cluster-listen", cluster_listen])
        .args(extra)
        .env("RUST_LOG", "info");
    let mut process = Process::spawn(name, cmd, &dir.join(format!("{name}.log")))?;
    let admin = process
        .wait_for_address("admin API listening on", STARTUP_TIMEOUT)
        .await?;
    let cluster = process
        .wait_for_address("cluster listening on", STARTUP_TIMEOUT)
        .await?;
    let cp = ControlPlane {
        admin,
        cluster,
        process,
    };
    let client = HttpClient::new();
    let status_url = format!("{}/status", cp.admin_url());
    wait::until(
        "control plane GET /status 200",
        STARTUP_TIMEOUT,
        async || {
            Ok(client
                .get(&status_url)
                .await?
                .status
                .is_success()
                .then_some(()))
        },
    )
    .await
    .with_context(|| cp.process.diagnostics())?;
    Ok(cp)
}

#[derive(Debug)]
pub struct DataPlane {
    pub proxy: SocketAddr,
    pub status: SocketAddr,
    pub process: Process,
}

impl DataPlane {
    pub fn proxy_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.proxy)
    }

    pub fn status_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.status)
    }

    /// Waits until `GET /status/ready` answers 200.
    pub async fn wait_ready(&self, client: &HttpClient, timeout: Duration) -> Result<()> {
        let url = self.status_url("/status/ready");
        let what = format!("{} {url} to answer 200", self.process.name());
        wait::until(&what, timeout, async || {
            let response = client.get(&url).await?;
            anyhow::ensure!(
                response.status.is_success(),
                "{} {}",
                response.status,
                response.text()
            );
            Ok(Some(()))
        })
        .await
        .with_context(|| self.process.diagnostics())
    }

    /// The configuration hash from `GET /status` (`configuration_hash` or `config_hash`).
    pub async fn config_hash(&self, client: &HttpClient) -> Result<String> {
        let status = client.get(&self.status_url("/status")).await?.json()?;
        ["configuration_hash", "config_hash"]
            .iter()
            .find_map(|k| status.get(k).and_then(Value::as_str))
            .map(str::to_string)
            .with_context(|| format!("no configuration_hash in GET /status: {status}"))
    }
}

/// Starts `data-plane` (named `name`, cache in `dir/<name>-cache`) against `control_plane`.
pub async fn spawn_dp(dir: &TempDir, name: &str, control_plane: SocketAddr) -> Result<DataPlane> {
    spawn_dp_with(dir, name, control_plane, &[]).await
}

/// Like [`spawn_dp`], with `extra` flags (e.g. `--cluster-dp-labels`).
pub async fn spawn_dp_with(
    dir: &TempDir,
    name: &str,
    control_plane: SocketAddr,
    extra: &[&str],
) -> Result<DataPlane> {
    spawn_dp_to(dir, name, &[control_plane], extra).await
}

/// Like [`spawn_dp_with`], against several control planes (`--control-plane a,b`): the DP
/// talks to the first and moves to the next when its link breaks.
pub async fn spawn_dp_to(
    dir: &TempDir,
    name: &str,
    control_planes: &[SocketAddr],
    extra: &[&str],
) -> Result<DataPlane> {
    spawn_dp_env(dir, name, control_planes, extra, &[]).await
}

/// Like [`spawn_dp_to`], with `env` added to the DP's environment (e.g. the variables its
/// `{vault://env/…}` references name).
pub async fn spawn_dp_env(
    dir: &TempDir,
    name: &str,
    control_planes: &[SocketAddr],
    extra: &[&str],
    env: &[(&str, &str)],
) -> Result<DataPlane> {
    let cache = dir.join(format!("{name}-cache"));
    std::fs::create_dir_all(&cache)?;
    let list: Vec<String> = control_planes.iter().map(ToString::to_string).collect();
    let mut cmd = Command::new(binary("data-plane")?);
    cmd.arg("--control-plane")
        .arg(list.join(","))
        .args(["--proxy-listen", "127.0.0.1:0"])
        .args(["--status-listen", "127.0.0.1:0"])
        .arg("--cache-dir")
        .arg(&cache)
        .args(extra)
        .envs(env.iter().copied())
        .env("RUST_LOG", "info");
    let mut process = Process::spawn(name, cmd, &dir.join(format!("{name}.log")))?;
    let proxy = process
        .wait_for_address("proxy listening on", STARTUP_TIMEOUT)
        .await?;
    let status = process
        .wait_for_address("status listening on", STARTUP_TIMEOUT)
        .await?;
    Ok(DataPlane {
        proxy,
        status,
        process,
    })
}

/// The result of one `control-plane` CLI run.
#[derive(Debug)]
pub struct CliOutput {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// Both streams, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "exit code {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `control-plane apply FILES --admin-url URL` with exactly the `DECK_` variables in `env`.
pub async fn apply(admin_url: &str, files: &[&Path], env: &[(&str, &str)]) -> Result<CliOutput> {
    apply_with(admin_url, files, &[], env).await
}

/// Like [`apply`], with `extra` flags (e.g. `--wait=10`).
pub async fn apply_with(
    admin_url: &str,
    files: &[&Path],
    extra: &[&str],
    env: &[(&str, &str)],
) -> Result<CliOutput> {
    let mut args = vec!["apply".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend(["--admin-url".to_string(), admin_url.to_string()]);
    args.extend(extra.iter().map(|a| a.to_string()));
    run_cli(&args, env).await
}

/// Runs `control-plane ARGS` (any subcommand, e.g. `cert`) with no `DECK_` variables.
pub async fn control_plane_cli(args: &[&str]) -> Result<CliOutput> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    run_cli(&args, &[]).await
}

/// Runs `control-plane validate FILES` (offline) with exactly the `DECK_` variables in `env`.
pub async fn validate(files: &[&Path], env: &[(&str, &str)]) -> Result<CliOutput> {
    let mut args = vec!["validate".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    run_cli(&args, env).await
}

async fn run_cli(args: &[String], env: &[(&str, &str)]) -> Result<CliOutput> {
    let mut cmd = tokio::process::Command::new(binary("control-plane")?);
    cmd.args(args).env("NO_COLOR", "1").kill_on_drop(true);
    // Hermetic: no DECK_ variable leaks in from the caller's environment.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DECK_") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().copied());
    let output = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .with_context(|| format!("control-plane {args:?} did not finish within 60s"))?
        .with_context(|| format!("running control-plane {args:?}"))?;
    Ok(CliOutput {
        success: output.status.success(),
        code: output.status.code(),
        stdout: crate::logs::strip_ansi(&String::from_utf8_lossy(&output.stdout)),
        stderr: crate::logs::strip_ansi(&String::from_utf8_lossy(&output.stderr)),
    })
}
