//! Proxy workers: the client-facing listeners run on one OS thread per core, each a
//! current-thread tokio runtime with its own `SO_REUSEPORT` listener on every proxy address
//! (`--proxy-listen`, plaintext and `ssl`), as nginx runs its workers. A connection, its
//! requests and the upstream connections they use stay on one thread: no work stealing, no
//! cross-thread wake-ups on the request path. Status, sync and the config cache stay on the
//! main runtime.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{mpsc, oneshot, watch};

use super::listen::{Listen, ProxyListen};
use super::serve::{serve_with, ServeOptions};
use crate::State;

/// Backlog of each worker's listener (nginx's default on Linux is 511; the kernel caps it at
/// `net.core.somaxconn`).
const BACKLOG: u32 = 4096;

/// How many workers to run: one per available core, at least one.
pub fn default_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(1)
}

/// One `--proxy-listen` address, bound once per worker.
#[derive(Debug)]
pub struct BoundAddr {
    pub listen: Listen,
    /// The address the kernel gave (the port chosen when `listen` asked for port 0).
    pub local: SocketAddr,
    listeners: Vec<std::net::TcpListener>,
}

/// Binds every address of `listen`, `count` times each (one per worker). Must be called
/// inside a tokio runtime. Fails naming the address that could not be bound.
pub fn bind_all(
    listen: &ProxyListen,
    count: usize,
) -> Result<Vec<BoundAddr>, (SocketAddr, io::Error)> {
    let mut out = Vec::with_capacity(listen.0.len());
    for l in &listen.0 {
        let listeners =
            bind_with(l.addr, count, l.backlog.unwrap_or(BACKLOG)).map_err(|e| (l.addr, e))?;
        let local = listeners
            .first()
            .and_then(|x| x.local_addr().ok())
            .unwrap_or(l.addr);
        out.push(BoundAddr {
            listen: *l,
            local,
            listeners,
        });
    }
    Ok(out)
}

/// Binds `count` listeners on `addr` with `SO_REUSEPORT` (the kernel spreads new connections
/// over them). With port 0 the first one picks the port and the others take the same. Must be
/// called inside a tokio runtime; the listeners come back detached from it.
fn bind_with(
    addr: SocketAddr,
    count: usize,
    backlog: u32,
) -> io::Result<Vec<std::net::TcpListener>> {
    let mut out: Vec<std::net::TcpListener> = Vec::with_capacity(count.max(1));
    let mut at = addr;
    for _ in 0..count.max(1) {
        let socket = if at.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.set_nodelay(true)?;
        socket.bind(at)?;
        let listener = socket.listen(backlog)?;
        at = listener.local_addr()?;
        out.push(listener.into_std()?);
    }
    Ok(out)
}

/// The running workers.
pub struct Workers {
    done: Vec<oneshot::Receiver<()>>,
    closed: mpsc::UnboundedReceiver<()>,
    /// How many listeners the workers hold in all.
    listeners: usize,
}

/// Starts the workers for `bound`: worker `i` serves the `i`-th listener of every address,
/// with TLS (`tls`) on the `ssl` ones; each serves until `stop` turns true and its connections
/// have drained.
pub fn start_all(
    bound: Vec<BoundAddr>,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: Arc<State>,
    stop: watch::Receiver<bool>,
) -> io::Result<Workers> {
    let mut per_worker: Vec<Vec<WorkerListener>> = Vec::new();
    for b in bound {
        let tls = if b.listen.ssl { tls.clone() } else { None };
        for (i, l) in b.listeners.into_iter().enumerate() {
            if per_worker.len() <= i {
                per_worker.push(Vec::new());
            }
            if let Some(w) = per_worker.get_mut(i) {
                w.push((l, tls.clone()));
            }
        }
    }
    spawn(per_worker, state, stop)
}

/// A listener and, on an `ssl` one, its TLS settings.
type WorkerListener = (std::net::TcpListener, Option<Arc<rustls::ServerConfig>>);

fn spawn(
    per_worker: Vec<Vec<WorkerListener>>,
    state: Arc<State>,
    stop: watch::Receiver<bool>,
) -> io::Result<Workers> {
    let mut done = Vec::with_capacity(per_worker.len());
    let listeners = per_worker.iter().map(Vec::len).sum();
    let (closed_tx, closed) = mpsc::unbounded_channel();
    for (i, set) in per_worker.into_iter().enumerate() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (tx, rx) = oneshot::channel();
        let state = state.clone();
        let stop = stop.clone();
        let closed_tx = closed_tx.clone();
        std::thread::Builder::new()
            .name(format!("proxy-worker-{i}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let mut serving = Vec::with_capacity(set.len());
                    for (std_listener, tls) in set {
                        let opts = ServeOptions {
                            listener_closed: Some(closed_tx.clone()),
                            tls,
                            ..ServeOptions::default()
                        };
                        match TcpListener::from_std(std_listener) {
                            Ok(l) => serving.push(serve_with(l, state.clone(), stop.clone(), opts)),
                            Err(e) => {
                                let _ = closed_tx.send(());
                                tracing::error!(worker = i, error = %e, "proxy worker cannot listen")
                            }
                        }
                    }
                    futures_util::future::join_all(serving).await;
                });
                let _ = tx.send(());
            })?;
        done.push(rx);
    }
    Ok(Workers {
        done,
        closed,
        listeners,
    })
}

impl Workers {
    /// Splits the workers into what tells that every listener is closed (after `stop`) and
    /// what waits for the connections in flight to drain.
    pub fn split(self) -> (ListenersClosed, Drained) {
        (
            ListenersClosed {
                rx: self.closed,
                count: self.listeners,
            },
            Drained { done: self.done },
        )
    }
}

/// Resolves once every worker has closed its listener.
pub struct ListenersClosed {
    rx: mpsc::UnboundedReceiver<()>,
    count: usize,
}

impl ListenersClosed {
    /// Waits for every listener to close (a worker that ended early counts as closed).
    pub async fn wait(mut self) {
        for _ in 0..self.count {
            if self.rx.recv().await.is_none() {
                return;
            }
        }
    }
}

/// Resolves once every worker has drained its connections.
pub struct Drained {
    done: Vec<oneshot::Receiver<()>>,
}

impl Drained {
    /// Waits until every worker has stopped accepting and drained its connections.
    pub async fn join(self) {
        for rx in self.done {
            let _ = rx.await;
        }
    }
}
