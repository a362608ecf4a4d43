//! The data plane: receives config from the control plane (`sync`), compiles it (`runtime`,
//! `router`, `plugins`), proxies traffic (`proxy`, `llm`) and reports (`metrics`, `status`).

pub mod llm;
pub mod metrics;
pub mod plugins;
pub mod proxy;
pub mod router;
pub mod runtime;
pub mod settings;
pub mod status;
pub mod sync;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;

pub use settings::Settings;

use metrics::{Metrics, MetricsError};
use proxy::forward::{ForwardError, Upstream};
use runtime::Runtime;

#[derive(Debug, thiserror::Error)]
pub enum DpError {
    #[error("mTLS to the control plane (--cluster-cert/--cluster-cert-key) is not implemented yet; start without them")]
    MtlsNotImplemented,
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error(transparent)]
    Upstream(#[from] ForwardError),
    #[error("signal handling: {0}")]
    Signal(std::io::Error),
}

/// What every part of the data plane shares.
pub struct State {
    pub runtime: ArcSwap<Runtime>,
    pub metrics: Metrics,
    pub node_id: String,
    pub cp_connected: AtomicBool,
    pub upstream: Upstream,
}

impl State {
    pub fn new(node_id: String) -> Result<Self, DpError> {
        Ok(State {
            runtime: ArcSwap::from_pointee(Runtime::empty()),
            metrics: Metrics::new(&node_id, env!("CARGO_PKG_VERSION"))?,
            node_id,
            cp_connected: AtomicBool::new(false),
            upstream: Upstream::new()?,
        })
    }
}

async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener, DpError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| DpError::Bind { addr, source })
}

/// Runs the data plane until SIGTERM or SIGINT.
pub async fn run(settings: Settings) -> Result<(), DpError> {
    if settings.cluster_cert.is_some() || settings.cluster_cert_key.is_some() {
        tracing::warn!("mTLS to the control plane is not implemented yet");
        return Err(DpError::MtlsNotImplemented);
    }
    let node_id = settings
        .node_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let state = Arc::new(State::new(node_id.clone())?);

    let proxy = bind(settings.proxy_listen).await?;
    let status = bind(settings.status_listen).await?;
    let proxy_addr = proxy.local_addr().unwrap_or(settings.proxy_listen);
    let status_addr = status.local_addr().unwrap_or(settings.status_listen);
    tracing::info!(node_id = %node_id, version = env!("CARGO_PKG_VERSION"), "data plane starting");
    tracing::info!("proxy listening on {proxy_addr}");
    tracing::info!("status listening on {status_addr}");
    if settings.cache_dir.is_some() {
        tracing::info!(
            "--cache-dir is accepted but the on-disk config cache is not implemented yet"
        );
    }

    let endpoint = settings.control_plane_uri();
    let tasks = [
        tokio::spawn(proxy::serve(proxy, state.clone())),
        tokio::spawn(status::serve(status, state.clone())),
        tokio::spawn(sync::run(state.clone(), endpoint)),
    ];
    let result = shutdown_signal().await;
    tracing::info!("shutting down");
    for t in tasks {
        t.abort();
    }
    result
}

async fn shutdown_signal() -> Result<(), DpError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).map_err(DpError::Signal)?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map_err(DpError::Signal),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map_err(DpError::Signal)
    }
}
