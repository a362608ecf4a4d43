//! A TCP forwarder that counts the bytes it carries each way: put it between a DP and its CP to
//! measure what the sync link really sends (HTTP/2 framing and compression included).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Bytes carried so far: `down` from the target to the clients, `up` the other way.
#[derive(Debug, Default)]
pub struct Counts {
    pub down: AtomicU64,
    pub up: AtomicU64,
}

#[derive(Debug)]
pub struct Meter {
    pub addr: SocketAddr,
    pub counts: Arc<Counts>,
    task: JoinHandle<()>,
}

impl Meter {
    /// Listens on a free local port and forwards every connection to `target`.
    pub async fn start(target: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(Counts::default());
        let c = counts.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pump(cr, sw, c.clone(), false));
                tokio::spawn(pump(sr, cw, c.clone(), true));
            }
        });
        Ok(Self { addr, counts, task })
    }

    /// Bytes sent from the target towards the clients so far.
    pub fn down(&self) -> u64 {
        self.counts.down.load(Ordering::Relaxed)
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    counts: Arc<Counts>,
    down: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
        let counter = if down { &counts.down } else { &counts.up };
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
    let _ = to.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_both_ways() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = echo.accept().await.unwrap();
            let mut b = [0u8; 5];
            s.read_exact(&mut b).await.unwrap();
            s.write_all(b"hello world").await.unwrap();
        });
        let meter = Meter::start(target).await.unwrap();
        let mut c = TcpStream::connect(meter.addr).await.unwrap();
        c.write_all(b"12345").await.unwrap();
        let mut got = vec![0u8; 11];
        c.read_exact(&mut got).await.unwrap();
        assert_eq!(got, b"hello world");
        assert_eq!(meter.down(), 11);
        assert_eq!(meter.counts.up.load(Ordering::Relaxed), 5);
    }
}
