//! Simulated data planes for load on the CP's sync server: each opens one real `Sync` stream,
//! says hello and ACKs every snapshot or delta at once (no compiling), recording the last
//! version it received. Many of them cost one task each.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Result;
use proto::v1::config_sync_client::ConfigSyncClient;
use proto::v1::{sync_request, sync_response, Ack, Hello, SyncRequest};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codec::CompressionEncoding;

/// One simulated DP; its stream ends when this is dropped.
pub struct FakeDp {
    /// The last config version received (0 before any).
    pub version: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl FakeDp {
    /// Connects to the CP's cluster address `cluster` (`host:port`) as node `id`.
    pub async fn connect(cluster: &str, id: &str) -> Result<Self> {
        Self::connect_as(cluster, id, env!("CARGO_PKG_VERSION")).await
    }

    /// Like [`FakeDp::connect`], saying it runs `version` (e.g. one the CP must refuse); the
    /// CP's refusal comes back as the error.
    pub async fn connect_as(cluster: &str, id: &str, version: &str) -> Result<Self> {
        let mut client = ConfigSyncClient::connect(format!("http://{cluster}"))
            .await?
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(256 * 1024 * 1024);
        let (tx, rx) = mpsc::channel(8);
        tx.send(SyncRequest {
            kind: Some(sync_request::Kind::Hello(Hello {
                node_id: id.to_string(),
                hostname: format!("fake-{id}"),
                version: version.into(),
                config_hash: "00000000000000000000000000000000".into(),
                ..Default::default()
            })),
        })
        .await?;
        let mut inbound = client.sync(ReceiverStream::new(rx)).await?.into_inner();
        let version = Arc::new(AtomicU64::new(0));
        let seen = version.clone();
        let task = tokio::spawn(async move {
            while let Ok(Some(msg)) = inbound.message().await {
                let (v, hash) = match msg.kind {
                    Some(sync_response::Kind::Snapshot(s)) => (s.version, s.config_hash),
                    Some(sync_response::Kind::Delta(d)) => (d.version, d.config_hash),
                    _ => continue,
                };
                seen.store(v, Ordering::Relaxed);
                let ack = SyncRequest {
                    kind: Some(sync_request::Kind::Ack(Ack {
                        version: v,
                        config_hash: hash,
                    })),
                };
                if tx.send(ack).await.is_err() {
                    break;
                }
            }
        });
        Ok(Self { version, task })
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }
}

impl Drop for FakeDp {
    fn drop(&mut self) {
        self.task.abort();
    }
}
