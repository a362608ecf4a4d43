//! Snapshot → DPs: the gRPC `ConfigSync` service. Each DP stream says hello and is checked for
//! version compatibility here; `stream` then keeps it in step; its state lands in `Nodes`.

pub mod delta;
pub mod history;
pub mod nodes;
pub mod stream;
pub mod tls;

use std::pin::Pin;

use futures_util::Stream;
use proto::v1::config_sync_server::ConfigSync;
use proto::v1::{sync_request, SyncRequest, SyncResponse};
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
    deltas: delta::Shared,
    history: history::Shared,
}

impl SyncService {
    /// Starts following the publisher's snapshots into the version history (from a runtime).
    pub fn new(publisher: Publisher, nodes: Nodes) -> Self {
        let history = history::Shared::default();
        history::follow(publisher.subscribe(), history.clone());
        Self {
            publisher,
            nodes,
            deltas: delta::Shared::default(),
            history,
        }
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
            self.nodes.incompatible(&hello, &ip, &why);
            return Err(Status::failed_precondition(why));
        }
        tracing::info!(node_id = %hello.node_id, %ip, hostname = %hello.hostname, "data plane connected");
        // A DP that already serves the current config is in sync: nothing will be sent to it,
        // so no ACK would ever mark it so.
        let current = self.publisher.current();
        let in_sync = current.version > 0 && current.hash == hello.config_hash;
        let session = self
            .nodes
            .hello(&hello, &ip, if in_sync { "normal" } else { "unknown" });
        let (tx, rx) = mpsc::channel(4);
        let link = stream::DpStream {
            id: hello.node_id.clone(),
            session,
            tx,
            nodes: self.nodes.clone(),
            deltas: self.deltas.clone(),
            history: self.history.clone(),
        };
        tokio::spawn(link.run(hello, inbound, self.publisher.clone()));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
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
