//! A real Prometheus server scraping the data planes' status ports every second, and instant
//! queries against its HTTP API.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::http::HttpClient;
use crate::ports::free_port;
use crate::process::Process;
use crate::tempdir::TempDir;
use crate::wait;

/// One element of an instant-vector result: its labels and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map(String::as_str).unwrap_or("")
    }
}

#[derive(Debug)]
pub struct Prometheus {
    pub addr: SocketAddr,
    process: Process,
    client: HttpClient,
}

/// The `prometheus` executable on `PATH`, or an error saying how to install it.
pub fn find_prometheus() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("prometheus"))
        .find(|p| p.is_file())
        .context(
            "`prometheus` is not on PATH; the Prometheus tests need a real server. Install it with \
             `apt-get install -y prometheus` (tests/run does this for you)",
        )
}

/// The scrape config: job `kong`, every second, one target per data-plane status port.
pub fn config_yaml(targets: &[SocketAddr]) -> String {
    let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: 'kong'\n    scrape_interval: 1s\n    metrics_path: /metrics\n    static_configs:\n      - targets: [{}]\n",
        list.join(", ")
    )
}

impl Prometheus {
    /// Starts Prometheus on a free port (never 9090) with its data under `dir`.
    pub async fn start(dir: &TempDir, targets: &[SocketAddr]) -> Result<Self> {
        let exe = find_prometheus()?;
        let config = dir.write("prometheus.yml", &config_yaml(targets))?;
        let port = free_port()?;
        let mut cmd = Command::new(exe);
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prometheus-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"));
        let process = Process::spawn("prometheus", cmd, &dir.join("prometheus.log"))?;
        let prometheus = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            process,
            client: HttpClient::new(),
        };
        let ready = format!("http://{}/-/ready", prometheus.addr);
        wait::until("prometheus /-/ready", Duration::from_secs(60), async || {
            Ok(prometheus
                .client
                .get(&ready)
                .await?
                .status
                .is_success()
                .then_some(()))
        })
        .await
        .with_context(|| prometheus.process.diagnostics())?;
        Ok(prometheus)
    }

    pub fn diagnostics(&self) -> String {
        self.process.diagnostics()
    }

    /// Runs the instant query `expr` and returns its vector result.
    pub async fn query(&self, expr: &str) -> Result<Vec<Sample>> {
        let url = format!(
            "http://{}/api/v1/query?query={}",
            self.addr,
            percent_encode(expr)
        );
        let response = self.client.get(&url).await?;
        let parsed: QueryResponse = serde_json::from_slice(&response.body)
            .with_context(|| format!("GET {url}: {} {}", response.status, response.text()))?;
        if parsed.status != "success" {
            bail!("query {expr}: {}", response.text());
        }
        parsed
            .data
            .result
            .into_iter()
            .map(|r| {
                let value = r.value.1.parse::<f64>().with_context(|| {
                    format!("query {expr}: value {:?} is not a number", r.value.1)
                })?;
                Ok(Sample {
                    labels: r.metric,
                    value,
                })
            })
            .collect()
    }

    /// The single value of a query that returns at most one sample (`None` when empty).
    pub async fn scalar(&self, expr: &str) -> Result<Option<f64>> {
        let samples = self.query(expr).await?;
        match samples.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.value)),
            many => bail!("query {expr} returned {} samples: {many:?}", many.len()),
        }
    }
}

#[derive(Deserialize)]
struct QueryResponse {
    status: String,
    data: QueryData,
}

#[derive(Deserialize)]
struct QueryData {
    result: Vec<QueryResult>,
}

#[derive(Deserialize)]
struct QueryResult {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_promql() {
        assert_eq!(
            percent_encode(r#"sum(x{a="b"})"#),
            "sum%28x%7Ba%3D%22b%22%7D%29"
        );
    }

    #[test]
    fn config_lists_every_target() {
        let yaml = config_yaml(&[
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
        ]);
        assert!(yaml.contains("job_name: 'kong'"));
        assert!(yaml.contains("targets: ['127.0.0.1:1', '127.0.0.1:2']"));
        assert!(yaml.contains("scrape_interval: 1s"));
    }
}
