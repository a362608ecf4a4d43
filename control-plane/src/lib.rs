//! Kong-compatible control plane: decK files and Admin API calls in, validated and stored in
//! SQLite or PostgreSQL, published as versioned snapshots to data planes over gRPC.

pub mod admin;
pub mod cli;
pub mod cluster_events;
pub mod cluster_nodes;
pub mod declarative;
pub mod diff;
pub mod metrics;
pub mod settings;
pub mod snapshot;
pub mod store;
pub mod sync;

use std::net::SocketAddr;
use std::time::Instant;

use proto::v1::config_sync_server::ConfigSyncServer;
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;

use settings::ServeArgs;
use snapshot::Publisher;
use store::{Store, StoreError};
use sync::{nodes::Nodes, SyncService, MAX_MESSAGE_BYTES};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("admin API server failed: {0}")]
    Admin(std::io::Error),
    #[error("cluster server failed: {0}")]
    Cluster(#[from] tonic::transport::Error),
    #[error(transparent)]
    Tls(#[from] sync::tls::TlsError),
}

/// Runs the control plane until SIGINT or SIGTERM.
pub async fn serve(args: ServeArgs) -> Result<(), ServeError> {
    let tls = sync::tls::server_config(
        args.cluster_cert.as_deref(),
        args.cluster_cert_key.as_deref(),
        args.cluster_mtls,
        args.cluster_ca_cert.as_deref(),
        &args.cluster_allowed_common_names,
    )?;
    match &tls {
        Some(_) => tracing::info!(mode = ?args.cluster_mtls, "cluster link: mutual TLS"),
        None => tracing::warn!(
            "no cluster certificate configured: the link to data planes is plaintext"
        ),
    }
    let store = Store::open(&args.database_url).await?;
    let publisher = Publisher::new(store.clone()).await?;
    let current = publisher.current();
    tracing::info!(version = current.version, hash = %current.hash, backend = store.backend(), "config loaded from the database");
    let write_lock = std::sync::Arc::new(tokio::sync::Mutex::new(()));
    tokio::spawn(cluster_events::run(
        store.clone(),
        publisher.clone(),
        write_lock.clone(),
    ));
    let nodes = Nodes::default();
    let node_id = uuid::Uuid::new_v4();
    tokio::spawn(cluster_nodes::run(
        store.clone(),
        nodes.clone(),
        node_id.to_string(),
    ));

    let admin = bind(&args.admin_listen).await?;
    let cluster = bind(&args.cluster_listen).await?;
    let admin_addr = local(&admin);
    let cluster_addr = local(&cluster);
    tracing::info!("admin API listening on {admin_addr}");
    tracing::info!("cluster listening on {cluster_addr}");

    let state = admin::AppState {
        store,
        publisher: publisher.clone(),
        nodes: nodes.clone(),
        node_id,
        started: Instant::now(),
        write_lock,
        reuse: Default::default(),
    };
    let app = admin::router(state);
    let admin_task = axum::serve(admin, app).with_graceful_shutdown(shutdown());
    let sync = ConfigSyncServer::new(SyncService::new(publisher, nodes))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip);
    let router = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(15)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)))
        .add_service(sync);
    let cluster_task = async move {
        match tls {
            Some(config) => {
                let incoming = sync::tls::incoming(cluster, config);
                router
                    .serve_with_incoming_shutdown(incoming, shutdown())
                    .await
            }
            None => {
                let incoming = tokio_stream::wrappers::TcpListenerStream::new(cluster);
                router
                    .serve_with_incoming_shutdown(incoming, shutdown())
                    .await
            }
        }
    };
    let (a, c) = tokio::join!(admin_task, cluster_task);
    a.map_err(ServeError::Admin)?;
    c?;
    tracing::info!("control plane stopped");
    Ok(())
}

async fn bind(addr: &str) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Listen {
            addr: addr.to_string(),
            source,
        })
}

fn local(l: &TcpListener) -> SocketAddr {
    l.local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
