//! The data plane: receives config from the control plane (`sync`), compiles it (`runtime`,
//! `router`, `plugins`), proxies traffic (`proxy`, `llm`) and reports (`metrics`, `status`).

pub mod cache;
pub mod llm;
pub mod metrics;
pub mod plugins;
pub mod proxy;
pub mod router;
pub mod runtime;
pub mod settings;
pub mod status;
pub mod sync;
pub mod upstream;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;

pub use settings::Settings;

use metrics::{Metrics, MetricsError};
use proxy::forward::{ForwardError, Upstream};
use runtime::Runtime;

/// How long the drain waits for the proxy workers to close their listeners (each does at its
/// next turn of the event loop, so this bound is only reached by a stuck worker).
const LISTENER_CLOSE_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum DpError {
    #[error(transparent)]
    Tls(#[from] sync::tls::TlsError),
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
    #[error(transparent)]
    ServerTls(#[from] proxy::server_tls::ServerTlsSetupError),
}

/// What every part of the data plane shares.
pub struct State {
    pub runtime: ArcSwap<Runtime>,
    pub metrics: Metrics,
    pub node_id: String,
    pub cp_connected: AtomicBool,
    /// Set on SIGTERM: `/status/ready` answers 503 while connections drain.
    pub draining: AtomicBool,
    pub upstream: Upstream,
}

impl State {
    pub fn new(node_id: String) -> Result<Self, DpError> {
        Self::trusting(node_id, "system")
    }

    /// A state whose upstream TLS trusts the CA certificates `trusted` names (Kong's
    /// `lua_ssl_trusted_certificate`).
    pub fn trusting(node_id: String, trusted: &str) -> Result<Self, DpError> {
        Ok(State {
            runtime: ArcSwap::from_pointee(Runtime::empty()),
            metrics: Metrics::new(&node_id, env!("CARGO_PKG_VERSION"))?,
            node_id,
            cp_connected: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            upstream: Upstream::trusting(trusted)?,
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
    let tls = sync::tls::connector(&settings)?;
    if tls.is_none() {
        tracing::warn!(
            "no cluster certificate configured: the link to the control plane is plaintext"
        );
    }
    let node_id = settings
        .node_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let state = Arc::new(State::trusting(
        node_id.clone(),
        &settings.lua_ssl_trusted_certificate,
    )?);

    let server_tls = match settings.proxy_listen.ssl() {
        Some(_) => {
            let default = proxy::server_tls::default_cert(
                settings.ssl_cert.as_deref(),
                settings.ssl_cert_key.as_deref(),
            )?;
            if settings.ssl_cert.is_none() {
                tracing::info!("no --ssl-cert given: ssl listeners default to a generated self-signed certificate");
            }
            Some(proxy::server_tls::server_config(state.clone(), default)?)
        }
        None => None,
    };
    let proxy = proxy::workers::bind_all(&settings.proxy_listen, proxy::workers::default_count())
        .map_err(|(addr, source)| DpError::Bind { addr, source })?;
    let status = bind(settings.status_listen).await?;
    let proxy_addr = proxy
        .first()
        .map(|b| b.local)
        .unwrap_or(std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    let status_addr = status.local_addr().unwrap_or(settings.status_listen);
    tracing::info!(node_id = %node_id, version = env!("CARGO_PKG_VERSION"), "data plane starting");
    for b in &proxy {
        let tls = if b.listen.ssl { " ssl" } else { "" };
        tracing::info!("proxy listening on {}{tls}", b.local);
    }
    tracing::info!("status listening on {status_addr}");
    let applier = cache::start(state.clone(), settings.cache_dir.as_deref());
    let link = sync::Link {
        endpoints: settings.control_plane_uris(),
        labels: settings.cluster_dp_labels.0.clone(),
        tls,
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers =
        proxy::workers::start_all(proxy, server_tls, state.clone(), stopped).map_err(|source| {
            DpError::Bind {
                addr: proxy_addr,
                source,
            }
        })?;
    let (listeners_closed, drained) = workers.split();
    let proxy_task = tokio::spawn(drained.join());
    let tasks = [
        tokio::spawn(status::serve(status, state.clone())),
        tokio::spawn(sync::run(state.clone(), link, applier)),
    ];
    let result = shutdown_signal().await;
    drain(
        &state,
        &stop,
        listeners_closed,
        proxy_task,
        settings.drain_timeout,
    )
    .await;
    tracing::info!("shutting down");
    for t in tasks {
        t.abort();
    }
    result
}

/// What a Kubernetes rolling restart needs: the proxy stops accepting, `/status/ready` turns
/// 503 (once no listener is left, so a 503 means a new connection is refused), and requests
/// and streams in flight finish, for at most `timeout`.
async fn drain(
    state: &State,
    stop: &tokio::sync::watch::Sender<bool>,
    listeners_closed: proxy::workers::ListenersClosed,
    proxy: tokio::task::JoinHandle<()>,
    timeout: Duration,
) {
    let _ = stop.send(true);
    if tokio::time::timeout(LISTENER_CLOSE_WAIT, listeners_closed.wait())
        .await
        .is_err()
    {
        tracing::warn!("a proxy worker did not close its listener in time");
    }
    state.draining.store(true, Ordering::Relaxed);
    tracing::info!(timeout_secs = timeout.as_secs_f64(), "draining");
    match tokio::time::timeout(timeout, proxy).await {
        Ok(_) => tracing::info!("drained: no request in flight"),
        Err(_) => tracing::warn!("drain timeout reached; closing the connections still open"),
    }
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
