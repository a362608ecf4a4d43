//! Proxy workers: the client-facing listener runs on one OS thread per core, each a
//! current-thread tokio runtime with its own `SO_REUSEPORT` listener on the proxy address (as
//! nginx runs its workers). A connection, its requests and the upstream connections they use
//! stay on one thread: no work stealing, no cross-thread wake-ups on the request path. Status,
//! sync and the config cache stay on the main runtime.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{mpsc, oneshot, watch};

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

/// Binds `count` listeners on `addr` with `SO_REUSEPORT` (the kernel spreads new connections
/// over them). With port 0 the first one picks the port and the others take the same. Must be
/// called inside a tokio runtime; the listeners come back detached from it.
pub fn bind(addr: SocketAddr, count: usize) -> io::Result<Vec<std::net::TcpListener>> {
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
        let listener = socket.listen(BACKLOG)?;
        at = listener.local_addr()?;
        out.push(listener.into_std()?);
    }
    Ok(out)
}

/// The running workers.
pub struct Workers {
    done: Vec<oneshot::Receiver<()>>,
    closed: mpsc::UnboundedReceiver<()>,
}

/// Starts one worker thread per listener; each serves until `stop` turns true and its
/// connections have drained.
pub fn start(
    listeners: Vec<std::net::TcpListener>,
    state: Arc<State>,
    stop: watch::Receiver<bool>,
) -> io::Result<Workers> {
    let mut done = Vec::with_capacity(listeners.len());
    let (closed_tx, closed) = mpsc::unbounded_channel();
    for (i, std_listener) in listeners.into_iter().enumerate() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (tx, rx) = oneshot::channel();
        let state = state.clone();
        let stop = stop.clone();
        let opts = ServeOptions {
            listener_closed: Some(closed_tx.clone()),
            ..ServeOptions::default()
        };
        std::thread::Builder::new()
            .name(format!("proxy-worker-{i}"))
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(std_listener) {
                        Ok(l) => serve_with(l, state, stop, opts).await,
                        Err(e) => {
                            tracing::error!(worker = i, error = %e, "proxy worker cannot listen")
                        }
                    }
                });
                let _ = tx.send(());
            })?;
        done.push(rx);
    }
    Ok(Workers { done, closed })
}

impl Workers {
    /// Splits the workers into what tells that every listener is closed (after `stop`) and
    /// what waits for the connections in flight to drain.
    pub fn split(self) -> (ListenersClosed, Drained) {
        let count = self.done.len();
        (
            ListenersClosed {
                rx: self.closed,
                count,
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
