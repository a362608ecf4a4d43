//! The client-facing listener: accepts connections (HTTP/1.1 and h2c on one port, a plaintext
//! connection served by our HTTP/1.1 loop `h1_server`, which hands h2c and the rest it does
//! not serve to hyper; on an `ssl` listener TLS first, with h2 or http/1.1 by ALPN through
//! hyper, the handshake in the connection's own task so a slow one holds up no other), hands
//! each request to `proxy::handle`, and on shutdown stops accepting and lets the connections
//! in flight finish their requests and streams (graceful drain). Slow clients: a request head
//! not received within `header_read_timeout` closes that connection (nginx's
//! `client_header_timeout`), without touching the others; the same bound applies to an idle
//! keep-alive connection waiting for its next request (nginx's default `keepalive_timeout` is
//! 75 s). A request body that stalls longer than `body_read_timeout` between two chunks ends
//! its request as 408 (logged and counted) and closes the connection without a response, as
//! nginx's `client_body_timeout` does.

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::State;

/// nginx's default `client_header_timeout` (Kong does not change it).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Connection settings of the proxy listener.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// A client that has not sent a whole request head within this time loses its connection.
    pub header_read_timeout: Duration,
    /// A request body with no new data for this long fails its request (see `body::ClientBody`).
    pub body_read_timeout: Duration,
    /// Told once the listener is closed, before the connections in flight drain: from then
    /// on a new connection is refused.
    pub listener_closed: Option<tokio::sync::mpsc::UnboundedSender<()>>,
    /// Set on an `ssl` listener: clients speak TLS (`proxy::server_tls::server_config`). A
    /// handshake not done within `header_read_timeout` closes the connection.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: HEADER_READ_TIMEOUT,
            body_read_timeout: super::body::BODY_READ_TIMEOUT,
            listener_closed: None,
            tls: None,
        }
    }
}

/// Accepts connections forever.
pub async fn serve(listener: TcpListener, state: Arc<State>) {
    let (_never, stop) = watch::channel(false);
    serve_until(listener, state, stop).await;
}

/// The HTTP/1.1 + h2c connection builder with the proxy's settings.
fn builder(opts: &ServeOptions) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    builder
}

/// Accepts connections until `stop` turns true, then closes the listener and returns once every
/// connection has finished (idle keep-alive connections close at once, requests in flight and
/// their response bodies run to their end). The caller bounds the drain time.
pub async fn serve_until(listener: TcpListener, state: Arc<State>, stop: watch::Receiver<bool>) {
    serve_with(listener, state, stop, ServeOptions::default()).await;
}

/// `serve_until` with explicit connection settings.
pub async fn serve_with(
    listener: TcpListener,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
    opts: ServeOptions,
) {
    let local = listener.local_addr().ok();
    let graceful = GracefulShutdown::new();
    let builder = builder(&opts);
    let plain = Arc::new(super::h1_server::Listener {
        state: state.clone(),
        builder: builder.clone(),
        header_read_timeout: opts.header_read_timeout,
        stop: stop.clone(),
    });
    let acceptor = opts.tls.clone().map(tokio_rustls::TlsAcceptor::from);
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
        if let Some(acceptor) = &acceptor {
            let tls = TlsConn {
                acceptor: acceptor.clone(),
                builder: builder.clone(),
                watcher: graceful.watcher(),
                handshake_timeout: opts.header_read_timeout,
                body_read_timeout: opts.body_read_timeout,
            };
            tokio::spawn(tls.serve(stream, remote, local, state.clone()));
            continue;
        }
        let metrics = state.metrics.clone();
        let peer = Arc::new(
            super::Peer::new(remote, local).with_body_read_timeout(opts.body_read_timeout),
        );
        // Held until the connection ends: the drain below waits for it.
        let watcher = graceful.watcher();
        let plain = plain.clone();
        tokio::spawn(async move {
            super::h1_server::serve(stream, peer, plain).await;
            drop(watcher);
            metrics.connection_closed();
        });
    }
    drop(listener);
    if let Some(closed) = &opts.listener_closed {
        let _ = closed.send(());
    }
    tracing::info!(
        connections = graceful.count(),
        "proxy stopped accepting; draining connections"
    );
    graceful.shutdown().await;
}

/// One request of a connection, plaintext or TLS: `proxy::handle`'s answer, or the error that
/// closes the connection without one for a request nginx terminates.
pub(super) async fn respond(
    state: Arc<State>,
    req: http::Request<hyper::body::Incoming>,
    peer: Arc<super::Peer>,
) -> Result<http::Response<super::body::ProxyBody>, super::body::Terminate> {
    let req = req.map(http_body_util::Either::Left);
    let resp = super::handle(state, req, &peer, false).await;
    match resp.extensions().get::<super::body::Terminate>() {
        Some(t) => Err(*t),
        None => Ok(resp),
    }
}

/// What a TLS connection's task needs: the handshake, then the same HTTP serving as plaintext.
struct TlsConn {
    acceptor: tokio_rustls::TlsAcceptor,
    builder: auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    handshake_timeout: Duration,
    body_read_timeout: Duration,
}

impl TlsConn {
    /// Handshakes (bounded by `header_read_timeout`), then serves the connection's requests with
    /// the SNI and `https` known to the router.
    async fn serve(
        self,
        stream: tokio::net::TcpStream,
        remote: std::net::SocketAddr,
        local: Option<std::net::SocketAddr>,
        state: Arc<State>,
    ) {
        let TlsConn {
            acceptor,
            builder,
            watcher,
            handshake_timeout,
            body_read_timeout,
        } = self;
        let metrics = state.metrics.clone();
        let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, %remote, "TLS handshake failed");
                metrics.connection_closed();
                return;
            }
            Err(_) => {
                tracing::debug!(%remote, "TLS handshake timed out");
                metrics.connection_closed();
                return;
            }
        };
        let sni = tls.get_ref().1.server_name().map(str::to_string);
        let peer = Arc::new(
            super::Peer::new(remote, local)
                .with_body_read_timeout(body_read_timeout)
                .with_tls(sni.as_deref()),
        );
        let svc = service_fn(move |req| respond(state.clone(), req, peer.clone()));
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), svc);
        if let Err(e) = watcher.watch(conn).await {
            tracing::debug!(error = %e, "proxy TLS connection ended with error");
        }
        metrics.connection_closed();
    }
}
