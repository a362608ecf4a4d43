//! Settings: the data plane's command line, each flag also read from its Kong env var.

use std::net::SocketAddr;
use std::path::PathBuf;

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

    /// Directory for the last good config (accepted; not used yet).
    #[arg(long, env = "KONG_PREFIX")]
    pub cache_dir: Option<PathBuf>,

    /// Client certificate for mTLS to the control plane (not implemented yet).
    #[arg(long, env = "KONG_CLUSTER_CERT")]
    pub cluster_cert: Option<PathBuf>,

    /// Key of `--cluster-cert` (not implemented yet).
    #[arg(long, env = "KONG_CLUSTER_CERT_KEY")]
    pub cluster_cert_key: Option<PathBuf>,

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
    }
}
