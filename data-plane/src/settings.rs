//! Settings: the data plane's command line, each flag also read from its Kong env var.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "data-plane",
    version,
    about = "Kong-compatible AI gateway data plane"
)]
pub struct Settings {
    /// Control plane cluster address, e.g. `127.0.0.1:8005` (with or without `http://`).
    #[arg(long, env = "KONG_CLUSTER_CONTROL_PLANE")]
    pub control_plane: String,

    /// Where the proxy listens.
    #[arg(long, env = "KONG_PROXY_LISTEN", default_value = "0.0.0.0:8000")]
    pub proxy_listen: SocketAddr,

    /// Where the status API (/status, /status/ready, /metrics) listens.
    #[arg(long, env = "KONG_STATUS_LISTEN", default_value = "0.0.0.0:8100")]
    pub status_listen: SocketAddr,

    /// Directory for the last good config (`config.cache`), served at start when the control
    /// plane cannot be reached.
    #[arg(long, env = "KONG_PREFIX")]
    pub cache_dir: Option<PathBuf>,

    /// Certificate (PEM) for mutual TLS with the control plane; without it, plaintext.
    #[arg(long, env = "KONG_CLUSTER_CERT")]
    pub cluster_cert: Option<PathBuf>,

    /// Key (PEM) of `--cluster-cert`.
    #[arg(long, env = "KONG_CLUSTER_CERT_KEY")]
    pub cluster_cert_key: Option<PathBuf>,

    /// CA (PEM) that signs the control plane's certificate (`--cluster-mtls pki`).
    #[arg(long, env = "KONG_CLUSTER_CA_CERT")]
    pub cluster_ca_cert: Option<PathBuf>,

    /// `shared`: the control plane presents this DP's own `--cluster-cert`; `pki`: a
    /// certificate signed by `--cluster-ca-cert` for `--cluster-server-name`.
    #[arg(long, env = "KONG_CLUSTER_MTLS", value_enum, default_value = "shared")]
    pub cluster_mtls: MtlsMode,

    /// Name expected in the control plane's certificate and sent as SNI (`pki` mode; default:
    /// the host of `--control-plane`). `shared` mode always uses `kong_clustering`.
    #[arg(long, env = "KONG_CLUSTER_SERVER_NAME")]
    pub cluster_server_name: Option<String>,

    /// Labels sent to the control plane, `key:value,key2:value2` (Kong's `cluster_dp_labels`).
    #[arg(long, env = "KONG_CLUSTER_DP_LABELS", value_parser = parse_labels, default_value = "")]
    pub cluster_dp_labels: Labels,

    /// On SIGTERM, how long requests and streams in flight may take to finish (`30`, `30s`,
    /// `500ms`, `2m`); the process exits when they are done or this time is up.
    #[arg(long, env = "KONG_DRAIN_TIMEOUT", value_parser = parse_duration, default_value = "30s")]
    pub drain_timeout: Duration,

    /// This node's id; a random UUID v4 when unset.
    #[arg(long, env = "KONG_NODE_ID")]
    pub node_id: Option<String>,

    /// Log filter, RUST_LOG style (e.g. `info`, `data_plane=debug`).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log_level: String,
}

impl Settings {
    /// The control plane as a URI tonic accepts.
    pub fn control_plane_uri(&self) -> String {
        let cp = self.control_plane.trim();
        if cp.starts_with("http://") || cp.starts_with("https://") {
            cp.to_string()
        } else {
            format!("http://{cp}")
        }
    }
}

/// `N` or `Ns` seconds, `Nms` milliseconds, `Nm` minutes.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (n, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = n.parse().map_err(|_| format!("'{s}' is not a duration"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => Err(format!("'{s}': unit must be ms, s or m")),
    }
}

/// Kong's `cluster_mtls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MtlsMode {
    Shared,
    Pki,
}

/// `--cluster-dp-labels`, parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels(pub HashMap<String, String>);

fn parse_labels(s: &str) -> Result<Labels, String> {
    let mut out = HashMap::new();
    for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once(':')
            .ok_or_else(|| format!("label '{pair}' is not key:value"))?;
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() {
            return Err(format!("label '{pair}' has an empty key"));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(Labels(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_scheme() {
        let s =
            Settings::try_parse_from(["data-plane", "--control-plane", "127.0.0.1:8005"]).unwrap();
        assert_eq!(s.control_plane_uri(), "http://127.0.0.1:8005");
        assert_eq!(s.proxy_listen.port(), 8000);
        assert_eq!(s.status_listen.port(), 8100);
        let s = Settings::try_parse_from(["data-plane", "--control-plane", "http://cp:1"]).unwrap();
        assert_eq!(s.control_plane_uri(), "http://cp:1");
        assert!(s.cluster_dp_labels.0.is_empty());
    }

    #[test]
    fn drain_timeout_units() {
        let s = Settings::try_parse_from(["data-plane", "--control-plane", "cp:1"]).unwrap();
        assert_eq!(s.drain_timeout, Duration::from_secs(30));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("5h").is_err());
    }

    #[test]
    fn labels_are_parsed_and_checked() {
        let s = Settings::try_parse_from([
            "data-plane",
            "--control-plane",
            "cp:1",
            "--cluster-dp-labels",
            "deployment:eu-1, tier:gold",
        ])
        .unwrap();
        assert_eq!(s.cluster_dp_labels.0["deployment"], "eu-1");
        assert_eq!(s.cluster_dp_labels.0["tier"], "gold");
        assert!(parse_labels("novalue").is_err());
        assert!(parse_labels(":x").is_err());
    }
}
