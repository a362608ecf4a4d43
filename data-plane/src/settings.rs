//! Settings: the data plane's command line, each flag also read from its Kong env var.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::proxy::listen::ProxyListen;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "data-plane",
    version,
    about = "Kong-compatible AI gateway data plane"
)]
pub struct Settings {
    /// Control plane cluster address, e.g. `127.0.0.1:8005` (with or without `http://`). Several
    /// control planes: comma-separated (`cp1:8005,cp2:8005`) and/or the flag repeated; the data
    /// plane talks to one at a time and moves to the next when its link breaks.
    #[arg(long, env = "KONG_CLUSTER_CONTROL_PLANE", value_delimiter = ',', value_parser = parse_address, required = true)]
    pub control_plane: Vec<String>,

    /// Where the proxy listens, in Kong's format: comma-separated `address:port [flags]`, e.g.
    /// `0.0.0.0:8000, 0.0.0.0:8443 ssl`. `ssl` terminates client TLS there (certificate chosen
    /// by SNI from the config's `snis`, else `--ssl-cert`); `http2`, `reuseport`, `deferred`,
    /// `bind` and `backlog=N` are accepted.
    #[arg(
        long,
        env = "KONG_PROXY_LISTEN",
        default_value = "0.0.0.0:8000",
        overrides_with = "proxy_listen"
    )]
    pub proxy_listen: ProxyListen,

    /// Default certificate (PEM file, or PEM text) of the `ssl` proxy listeners, served when no
    /// `snis` entity matches the client's SNI (Kong's `ssl_cert`). Without it a self-signed
    /// certificate is generated at start.
    #[arg(long, env = "KONG_SSL_CERT", requires = "ssl_cert_key")]
    pub ssl_cert: Option<String>,

    /// Key (PEM file, or PEM text) of `--ssl-cert` (Kong's `ssl_cert_key`).
    #[arg(long, env = "KONG_SSL_CERT_KEY", requires = "ssl_cert")]
    pub ssl_cert_key: Option<String>,

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
    /// the host of the `--control-plane` being dialled). `shared` mode always uses `kong_clustering`.
    #[arg(long, env = "KONG_CLUSTER_SERVER_NAME")]
    pub cluster_server_name: Option<String>,

    /// Labels sent to the control plane, `key:value,key2:value2` (Kong's `cluster_dp_labels`).
    #[arg(long, env = "KONG_CLUSTER_DP_LABELS", value_parser = parse_labels, default_value = "")]
    pub cluster_dp_labels: Labels,

    /// On SIGTERM, how long requests and streams in flight may take to finish (`30`, `30s`,
    /// `500ms`, `2m`); the process exits when they are done or this time is up.
    #[arg(long, env = "KONG_DRAIN_TIMEOUT", value_parser = parse_duration, default_value = "30s")]
    pub drain_timeout: Duration,

    /// CA certificates that upstream TLS certificates are verified against (Kong's
    /// `lua_ssl_trusted_certificate`): comma-separated `system` (the system's CA bundle),
    /// `bundled` (the webpki roots built in) and/or paths to PEM files.
    #[arg(
        long,
        env = "KONG_LUA_SSL_TRUSTED_CERTIFICATE",
        default_value = "system"
    )]
    pub lua_ssl_trusted_certificate: String,

    /// This node's id; a random UUID v4 when unset.
    #[arg(long, env = "KONG_NODE_ID")]
    pub node_id: Option<String>,

    /// Log filter, RUST_LOG style (e.g. `info`, `data_plane=debug`).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log_level: String,
}

impl Settings {
    /// The control planes, in the order given, as URIs tonic accepts (duplicates dropped).
    pub fn control_plane_uris(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(self.control_plane.len());
        for cp in &self.control_plane {
            let uri = if cp.starts_with("http://") || cp.starts_with("https://") {
                cp.clone()
            } else {
                format!("http://{cp}")
            };
            if !out.contains(&uri) {
                out.push(uri);
            }
        }
        out
    }
}

/// One `--control-plane` address: trimmed, not empty, no spaces inside.
fn parse_address(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty control plane address (check for a stray comma)".into());
    }
    if s.contains(char::is_whitespace) {
        return Err(format!("control plane address '{s}' contains a space"));
    }
    Ok(s.to_string())
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
        assert_eq!(s.control_plane_uris(), vec!["http://127.0.0.1:8005"]);
        assert_eq!(s.proxy_listen.0.len(), 1);
        assert_eq!(s.proxy_listen.0[0].addr.port(), 8000);
        assert!(!s.proxy_listen.0[0].ssl);
        assert!(s.ssl_cert.is_none());
        assert_eq!(s.status_listen.port(), 8100);
        let s = Settings::try_parse_from(["data-plane", "--control-plane", "http://cp:1"]).unwrap();
        assert_eq!(s.control_plane_uris(), vec!["http://cp:1"]);
        assert!(s.cluster_dp_labels.0.is_empty());
    }

    #[test]
    fn several_control_planes_by_comma_or_repeated_flag() {
        let s = Settings::try_parse_from([
            "data-plane",
            "--control-plane",
            "cp1:8005, https://cp2:8005",
            "--control-plane",
            "cp3:8005",
            "--control-plane",
            "cp1:8005",
        ])
        .unwrap();
        assert_eq!(
            s.control_plane_uris(),
            vec!["http://cp1:8005", "https://cp2:8005", "http://cp3:8005"]
        );
        let err = Settings::try_parse_from(["data-plane", "--control-plane", "cp1:1,,cp2:2"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("empty control plane address"), "{err}");
        assert!(Settings::try_parse_from(["data-plane"]).is_err());
    }

    #[test]
    fn proxy_listen_takes_kong_flags_and_refuses_unknown_ones() {
        let s = Settings::try_parse_from([
            "data-plane",
            "--control-plane",
            "cp:1",
            "--proxy-listen",
            "0.0.0.0:8000, 0.0.0.0:8443 ssl http2",
            "--ssl-cert",
            "/c.pem",
            "--ssl-cert-key",
            "/k.pem",
        ])
        .unwrap();
        assert_eq!(s.proxy_listen.0.len(), 2);
        assert!(s.proxy_listen.0[1].ssl);
        assert_eq!(s.ssl_cert.as_deref(), Some("/c.pem"));
        assert_eq!(s.ssl_cert_key.as_deref(), Some("/k.pem"));
        // Given twice (a wrapper's default, then the user's): the last one holds.
        let s = Settings::try_parse_from([
            "data-plane",
            "--control-plane",
            "cp:1",
            "--proxy-listen",
            "127.0.0.1:0",
            "--proxy-listen",
            "127.0.0.1:8443 ssl",
        ])
        .unwrap();
        assert_eq!(s.proxy_listen.0.len(), 1);
        assert!(s.proxy_listen.0[0].ssl);
        let err = Settings::try_parse_from([
            "data-plane",
            "--control-plane",
            "cp:1",
            "--proxy-listen",
            "0.0.0.0:8443 ssl quic",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown flag 'quic'"), "{err}");
        let err = Settings::try_parse_from([
            "data-plane",
            "--control-plane",
            "cp:1",
            "--ssl-cert",
            "/c.pem",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("ssl-cert-key"), "{err}");
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
