//! The client-facing listener: accepts connections (HTTP/1.1 and h2c on one port), hands each
//! request to `proxy::handle`, and on shutdown stops accepting and lets the connections in
//! flight finish their requests and streams (graceful drain).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::State;

/// Accepts connections forever.
pub async fn serve(listener: TcpListener, state: Arc<State>) {
    let (_never, stop) = watch::channel(false);
    serve_until(listener, state, stop).await;
}

/// Accepts connections until `stop` turns true, then closes the listener and returns once every
/// connection has finished (idle keep-alive connections close at once, requests in flight and
/// their response bodies run to their end). The caller bounds the drain time.
pub async fn serve_until(
    listener: TcpListener,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
) {
    let local = listener.local_addr().ok();
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        if *stop.borrow_and_update() {
            break;
        }
        let (stream, remote) = tokio::select! {
            biased;
            changed = stop.changed() => {
                if changed.is_err() {
                    break;
                }
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "proxy accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().ok().or(local);
        state.metrics.connection_opened();
        let metrics = state.metrics.clone();
        let state = state.clone();
        let svc = service_fn(move |req| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(super::handle(state, req, remote, local).await) }
        });
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), svc)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "proxy connection ended with error");
            }
            metrics.connection_closed();
        });
    }
    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        "proxy stopped accepting; draining connections"
    );
    graceful.shutdown().await;
}
