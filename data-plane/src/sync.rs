//! Sync client: keeps one gRPC stream to the control plane, says hello with the config it holds,
//! hands every snapshot and delta to `apply`, sends back its ACK or NACK and a heartbeat every
//! 10 s. Reconnects forever with jittered backoff, moving to the next control plane in the list
//! after each broken link; traffic keeps the last good config meanwhile.

pub mod apply;
pub mod delta;
pub mod tls;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use proto::schema::hash;
use proto::v1::config_sync_client::ConfigSyncClient;
use proto::v1::{sync_request, sync_response, Heartbeat, Hello, SyncRequest, SyncResponse};
use rand::Rng;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codec::CompressionEncoding;
use tonic::transport::Endpoint;

use crate::State;
pub use apply::Applier;

const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(10);
/// How often the DP tells the CP it is alive (Kong pings every 30 s; we want faster detection).
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// Silence from the CP after which the stream is considered dead.
pub const SILENCE: Duration = Duration::from_secs(30);
/// Largest message accepted from the control plane (the CP's own limit is the same).
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("connect: {}", chain(.0))]
    Connect(#[from] tonic::transport::Error),
    #[error("stream: {0}")]
    Status(#[from] tonic::Status),
    #[error("control plane closed the stream")]
    Closed,
    #[error("nothing heard from the control plane for {0:?}")]
    Silent(Duration),
}

/// `e` and its sources, `: `-separated (tonic's own message is only "transport error").
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        source = s.source();
    }
    out
}

/// Where the control planes are and what this DP tells them about itself.
#[derive(Clone)]
pub struct Link {
    /// Control plane URIs, tried in turn (never empty: settings require one).
    pub endpoints: Vec<String>,
    pub labels: HashMap<String, String>,
    /// Mutual TLS to the CP; plaintext when `None`.
    pub tls: Option<tls::TlsConnector>,
}

/// Runs forever: connect, sync, and on any failure wait and reconnect.
pub async fn run(state: Arc<State>, link: Link, mut applier: Applier) {
    let mut backoff = Backoff::default();
    let mut turn = Rotation::new(link.endpoints.len());
    loop {
        let Some(endpoint) = link.endpoints.get(turn.index()) else {
            tracing::error!("no control plane configured; not syncing");
            return;
        };
        let mut got_config = false;
        let err = session(&state, &link, endpoint, &mut applier, &mut got_config).await;
        set_connected(&state, false);
        if got_config {
            backoff = Backoff::default();
        }
        let wait = backoff.next(rand::rng().random_range(0.5..1.0));
        let next = link.endpoints.get(turn.advance()).unwrap_or(endpoint);
        tracing::warn!(
            control_plane = %endpoint,
            error = %err,
            next = %next,
            "connection to control plane broken (retrying after {} ms)",
            wait.as_millis()
        );
        tokio::time::sleep(wait).await;
    }
}

/// How long to wait before the next connection attempt: exponential from [`BACKOFF_START`] to
/// [`BACKOFF_CAP`], each wait scaled by a random jitter so that DPs cut off together do not
/// all come back at once.
#[derive(Debug)]
struct Backoff {
    step: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            step: BACKOFF_START,
        }
    }
}

impl Backoff {
    /// The wait now (`jitter` in 0.5..1.0 of the current step); the step then doubles.
    fn next(&mut self, jitter: f64) -> Duration {
        let wait = self.step.mul_f64(jitter);
        self.step = (self.step * 2).min(BACKOFF_CAP);
        wait
    }
}

/// Which control plane to dial: the next one in the list after each broken link, wrapping.
#[derive(Debug)]
struct Rotation {
    len: usize,
    at: usize,
}

impl Rotation {
    fn new(len: usize) -> Self {
        Self { len, at: 0 }
    }

    fn index(&self) -> usize {
        self.at
    }

    /// Moves to the next control plane and returns its index.
    fn advance(&mut self) -> usize {
        self.at = (self.at + 1) % self.len.max(1);
        self.at
    }
}

fn set_connected(state: &State, up: bool) {
    state.cp_connected.store(up, Ordering::Relaxed);
    state.metrics.control_plane_connected.set(i64::from(up));
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// The hash and version this DP serves (32 zeros and 0 when none).
fn held(applier: &Applier) -> (String, u64) {
    applier.current().map_or_else(
        || (hash::EMPTY.to_string(), 0),
        |c| (c.config_hash.clone(), applier.version()),
    )
}

async fn connect(
    link: &Link,
    endpoint: &str,
) -> Result<ConfigSyncClient<tonic::transport::Channel>, SyncError> {
    // With TLS the connector does the handshake; tonic itself speaks HTTP/2 over it.
    let uri = match &link.tls {
        Some(_) => endpoint.replacen("https://", "http://", 1),
        None => endpoint.to_string(),
    };
    let endpoint = Endpoint::from_shared(uri)?
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(15))
        .keep_alive_timeout(Duration::from_secs(20))
        .keep_alive_while_idle(true);
    let channel = match &link.tls {
        Some(tls) => endpoint.connect_with_connector(tls.clone()).await?,
        None => endpoint.connect().await?,
    };
    Ok(ConfigSyncClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip))
}

async fn session(
    state: &Arc<State>,
    link: &Link,
    endpoint: &str,
    applier: &mut Applier,
    got_config: &mut bool,
) -> SyncError {
    let mut client = match connect(link, endpoint).await {
        Ok(c) => c,
        Err(e) => return e,
    };
    let (tx, rx) = mpsc::channel(8);
    let (config_hash, config_version) = held(applier);
    let hello = SyncRequest {
        kind: Some(sync_request::Kind::Hello(Hello {
            node_id: state.node_id.clone(),
            hostname: hostname(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            config_hash,
            config_version,
            labels: link.labels.clone(),
        })),
    };
    if tx.send(hello).await.is_err() {
        return SyncError::Closed;
    }
    let mut inbound = match client.sync(ReceiverStream::new(rx)).await {
        Ok(r) => r.into_inner(),
        Err(e) => return e.into(),
    };
    set_connected(state, true);
    tracing::info!(control_plane = %endpoint, "connected to control plane");
    let mut beat = tokio::time::interval(HEARTBEAT);
    beat.tick().await;
    let mut last_heard = Instant::now();
    loop {
        let answer = tokio::select! {
            msg = inbound.message() => match msg {
                Ok(Some(m)) => {
                    last_heard = Instant::now();
                    match handle(state, applier, m) {
                        Some(a) => {
                            *got_config = true;
                            a
                        }
                        None => continue,
                    }
                }
                Ok(None) => return SyncError::Closed,
                Err(e) => return e.into(),
            },
            _ = beat.tick() => {
                if last_heard.elapsed() > SILENCE {
                    return SyncError::Silent(SILENCE);
                }
                let (config_hash, config_version) = held(applier);
                SyncRequest {
                    kind: Some(sync_request::Kind::Heartbeat(Heartbeat { config_hash, config_version })),
                }
            }
        };
        if tx.send(answer).await.is_err() {
            return SyncError::Closed;
        }
    }
}

/// Runs the CPU-heavy compile of a config so that the proxy's tasks on this worker thread move
/// to others meanwhile (on a multi-threaded runtime; directly otherwise).
fn off_runtime<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// One message from the CP; returns the answer to send, if any.
fn handle(state: &State, applier: &mut Applier, msg: SyncResponse) -> Option<SyncRequest> {
    let bytes = msg.encoded_len() as u64;
    let kind = msg.kind?;
    let label = match &kind {
        sync_response::Kind::Snapshot(_) => "snapshot",
        sync_response::Kind::Delta(_) => "delta",
        sync_response::Kind::Heartbeat(_) => "heartbeat",
    };
    // Counted on arrival, so the bytes show before the config they carry is served.
    state
        .metrics
        .sync_bytes
        .with_label_values(&[label])
        .inc_by(bytes);
    match kind {
        sync_response::Kind::Snapshot(s) => Some(off_runtime(|| applier.snapshot(s))),
        sync_response::Kind::Delta(d) => Some(off_runtime(|| applier.delta(d))),
        sync_response::Kind::Heartbeat(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter() {
        let mut b = Backoff::default();
        let steps: Vec<Duration> = (0..10).map(|_| b.next(1.0)).collect();
        assert_eq!(steps[0], BACKOFF_START);
        assert_eq!(steps[1], BACKOFF_START * 2);
        assert_eq!(steps[9], BACKOFF_CAP);
        assert!(steps.windows(2).all(|w| w[0] <= w[1]));
        let mut b = Backoff::default();
        assert_eq!(b.next(0.5), BACKOFF_START / 2);
        // The jitter run() draws keeps every wait between half and all of its step.
        let mut b = Backoff::default();
        let mut waits = Vec::new();
        for _ in 0..20 {
            let step = b.step;
            let wait = b.next(rand::rng().random_range(0.5..1.0));
            assert!(wait >= step / 2 && wait < step, "{wait:?} for {step:?}");
            waits.push(wait);
        }
        // From the 7th on the step is at its cap: only the jitter varies the waits.
        let mut capped = waits[7..].to_vec();
        capped.dedup();
        assert!(capped.len() > 1, "no jitter: {waits:?}");
    }

    #[test]
    fn rotation_moves_to_the_next_control_plane_and_wraps() {
        let mut r = Rotation::new(3);
        assert_eq!(r.index(), 0);
        assert_eq!(r.advance(), 1);
        assert_eq!(r.advance(), 2);
        assert_eq!(r.advance(), 0);
        let mut one = Rotation::new(1);
        assert_eq!(one.advance(), 0);
        assert_eq!(one.advance(), 0);
    }
}
