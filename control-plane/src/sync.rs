//! Snapshot → DPs: the gRPC `ConfigSync` service. Each DP stream says hello, gets the current
//! snapshot unless it already holds it, then every new one; its ACKs and NACKs land in `Nodes`.

pub mod nodes;

use std::pin::Pin;

use futures_util::Stream;
use proto::v1::config_sync_server::ConfigSync;
use proto::v1::{sync_request, sync_response, Hello, SyncRequest, SyncResponse};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::snapshot::Publisher;
use nodes::Nodes;

/// Largest snapshot the CP sends or a DP accepts.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

pub struct SyncService {
    publisher: Publisher,
    nodes: Nodes,
}

impl SyncService {
    pub fn new(publisher: Publisher, nodes: Nodes) -> Self {
        Self { publisher, nodes }
    }
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<SyncResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ConfigSync for SyncService {
    type SyncStream = ResponseStream;

    async fn sync(
        &self,
        request: Request<Streaming<SyncRequest>>,
    ) -> Result<Response<ResponseStream>, Status> {
        let ip = request
            .remote_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let mut inbound = request.into_inner();
        let hello = match inbound.message().await? {
            Some(SyncRequest {
                kind: Some(sync_request::Kind::Hello(h)),
            }) => h,
            _ => {
                return Err(Status::invalid_argument(
                    "the first message on a sync stream must be a hello",
                ))
            }
        };
        if let Err(why) = compatible(&hello.version) {
            tracing::warn!(node_id = %hello.node_id, %ip, version = %hello.version, "refusing data plane: {why}");
            self.nodes.hello(&hello, &ip, "kong_version_incompatible");
            return Err(Status::failed_precondition(why));
        }
        tracing::info!(node_id = %hello.node_id, %ip, hostname = %hello.hostname, "data plane connected");
        self.nodes.hello(&hello, &ip, "unknown");
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(serve_stream(
            hello,
            inbound,
            tx,
            self.publisher.clone(),
            self.nodes.clone(),
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

async fn serve_stream(
    hello: Hello,
    mut inbound: Streaming<SyncRequest>,
    tx: mpsc::Sender<Result<SyncResponse, Status>>,
    publisher: Publisher,
    nodes: Nodes,
) {
    let id = hello.node_id.clone();
    let mut snapshots = publisher.subscribe();
    let mut sent_hash = hello.config_hash.clone();
    loop {
        let snap = snapshots.borrow_and_update().clone();
        // Version 0 means nothing was ever applied: a DP stays unready rather than serve nothing.
        if snap.version > 0 && snap.hash != sent_hash {
            let msg = SyncResponse {
                kind: Some(sync_response::Kind::Snapshot(snap.to_proto())),
            };
            if tx.send(Ok(msg)).await.is_err() {
                break;
            }
            sent_hash = snap.hash.clone();
        }
        tokio::select! {
            changed = snapshots.changed() => if changed.is_err() { break },
            msg = inbound.message() => match msg {
                Ok(Some(SyncRequest { kind: Some(sync_request::Kind::Ack(a)) })) => {
                    tracing::info!(node_id = %id, version = a.version, hash = %a.config_hash, "data plane applied config");
                    nodes.ack(&id, a.version, &a.config_hash);
                }
                Ok(Some(SyncRequest { kind: Some(sync_request::Kind::Nack(n)) })) => {
                    tracing::warn!(node_id = %id, version = n.version, error = %n.error, "data plane refused config");
                    nodes.nack(&id, &n.error);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            },
        }
    }
    tracing::info!(node_id = %id, "data plane disconnected");
    nodes.disconnected(&id);
}

/// Kong's rule: same major version, and the DP's minor no newer than the CP's.
fn compatible(dp_version: &str) -> Result<(), String> {
    let cp = env!("CARGO_PKG_VERSION");
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.split('.');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    let (Some((cmaj, cmin)), Some((dmaj, dmin))) = (parse(cp), parse(dp_version)) else {
        return Err(format!(
            "data plane version '{dp_version}' is not a valid version"
        ));
    };
    if cmaj != dmaj || dmin > cmin {
        return Err(format!(
            "data plane version {dp_version} is incompatible with control plane version {cp}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::compatible;

    #[test]
    fn version_rule_follows_kong() {
        let cp = env!("CARGO_PKG_VERSION");
        assert!(compatible(cp).is_ok());
        assert!(compatible("99.0.0").is_err());
        assert!(compatible("0.999.0").is_err());
        assert!(compatible("garbage").is_err());
    }
}
