//! The DPs this CP has seen: who they are, what they run, when they were last heard from.
//! Fed by the sync streams; read by `/clustering/data-planes`, `/metrics` and `apply --wait`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use proto::v1;
use serde::Serialize;

/// Kong's `cluster_data_plane_purge_delay` default: a row lives 14 days after it was last seen.
pub const PURGE_DELAY_SECS: u64 = 14 * 24 * 3600;

/// One row of `GET /clustering/data-planes`: Kong's fields, then ours.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub id: String,
    pub ip: String,
    pub hostname: String,
    pub version: String,
    pub sync_status: String,
    pub config_hash: String,
    pub last_seen: u64,
    pub updated_at: u64,
    pub labels: BTreeMap<String, String>,
    pub cert_details: CertDetails,
    pub rpc_capabilities: Vec<String>,
    pub ttl: u64,
    /// Ours: the version the DP last ACKed (or announced in its hello).
    pub config_version: u64,
    /// Ours: whether its sync stream is up.
    pub connected: bool,
    /// Ours: the reason of its last NACK, cleared by the next ACK.
    pub last_error: Option<String>,
    /// Ours: the version that NACK refused.
    pub last_error_version: Option<u64>,
    #[serde(skip)]
    session: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CertDetails {
    pub expiry_timestamp: Option<u64>,
}

#[derive(Clone, Default)]
pub struct Nodes {
    inner: Arc<Mutex<Registry>>,
}

#[derive(Default)]
struct Registry {
    nodes: BTreeMap<String, Node>,
    sessions: u64,
}

impl Nodes {
    /// A DP said hello: its row is (re)written. Returns the session the stream passes back to
    /// `disconnected`, so a stale stream cannot mark a reconnected DP as gone.
    pub fn hello(&self, h: &v1::Hello, ip: &str, sync_status: &str) -> u64 {
        let now = now();
        self.with(|r| {
            r.sessions += 1;
            let node = Node {
                id: h.node_id.clone(),
                ip: ip.to_string(),
                hostname: h.hostname.clone(),
                version: h.version.clone(),
                sync_status: sync_status.to_string(),
                config_hash: h.config_hash.clone(),
                last_seen: now,
                updated_at: now,
                labels: h.labels.clone().into_iter().collect(),
                cert_details: CertDetails::default(),
                rpc_capabilities: Vec::new(),
                ttl: PURGE_DELAY_SECS,
                config_version: h.config_version,
                connected: sync_status != "kong_version_incompatible",
                last_error: None,
                last_error_version: None,
                session: r.sessions,
            };
            r.nodes.insert(node.id.clone(), node);
            r.sessions
        })
    }

    /// A DP refused for its version: listed as `kong_version_incompatible`, with the reason it
    /// was told in `last_error`.
    pub fn incompatible(&self, h: &v1::Hello, ip: &str, why: &str) {
        self.hello(h, ip, "kong_version_incompatible");
        self.update(&h.node_id, |n| {
            n.last_error = Some(why.to_string());
            n.last_error_version = Some(h.config_version);
        });
    }

    pub fn ack(&self, id: &str, version: u64, hash: &str) {
        self.update(id, |n| {
            n.config_version = version;
            n.config_hash = hash.to_string();
            n.sync_status = "normal".into();
            n.last_error = None;
            n.last_error_version = None;
        });
    }

    pub fn nack(&self, id: &str, version: u64, error: &str) {
        self.update(id, |n| {
            n.last_error = Some(error.to_string());
            n.last_error_version = Some(version);
        });
    }

    /// A heartbeat: the DP is alive and serves `hash`.
    pub fn heartbeat(&self, id: &str, version: u64, hash: &str) {
        self.update(id, |n| {
            n.config_hash = hash.to_string();
            n.config_version = version;
        });
    }

    pub fn disconnected(&self, id: &str, session: u64) {
        self.with(|r| {
            if let Some(n) = r.nodes.get_mut(id).filter(|n| n.session == session) {
                n.connected = false;
            }
        });
    }

    /// Every row not yet purged, with its `ttl` as of now.
    pub fn list(&self) -> Vec<Node> {
        let now = now();
        self.with(|r| {
            r.nodes
                .retain(|_, n| now.saturating_sub(n.last_seen) < PURGE_DELAY_SECS);
            r.nodes
                .values()
                .map(|n| Node {
                    ttl: PURGE_DELAY_SECS - now.saturating_sub(n.last_seen),
                    ..n.clone()
                })
                .collect()
        })
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut Node)) {
        let now = now();
        self.with(|r| {
            if let Some(n) = r.nodes.get_mut(id) {
                n.last_seen = now;
                n.updated_at = now;
                f(n);
            }
        });
    }

    fn with<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        let mut guard = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(id: &str) -> v1::Hello {
        v1::Hello {
            node_id: id.into(),
            hostname: "h".into(),
            version: "0.1.0".into(),
            config_hash: proto::schema::hash::EMPTY.into(),
            config_version: 0,
            labels: [("tier".to_string(), "gold".to_string())].into(),
        }
    }

    #[test]
    fn rows_follow_acks_nacks_and_sessions() {
        let nodes = Nodes::default();
        let first = nodes.hello(&hello("a"), "10.0.0.1", "unknown");
        nodes.nack("a", 3, "bad plugin");
        let row = &nodes.list()[0];
        assert_eq!(row.last_error.as_deref(), Some("bad plugin"));
        assert_eq!(row.last_error_version, Some(3));
        assert_eq!(row.labels["tier"], "gold");
        assert!(row.ttl > PURGE_DELAY_SECS - 5);
        nodes.ack("a", 4, "0123456789abcdef0123456789abcdef");
        let row = &nodes.list()[0];
        assert_eq!(
            (row.config_version, row.sync_status.as_str()),
            (4, "normal")
        );
        assert_eq!(row.last_error, None);

        // The DP reconnects; the old stream ending afterwards must not mark it gone.
        let second = nodes.hello(&hello("a"), "10.0.0.1", "unknown");
        nodes.disconnected("a", first);
        assert!(nodes.list()[0].connected);
        nodes.disconnected("a", second);
        assert!(!nodes.list()[0].connected);
    }

    #[test]
    fn an_incompatible_dp_is_listed_with_the_reason() {
        let nodes = Nodes::default();
        nodes.incompatible(&hello("old"), "10.0.0.2", "too new");
        let row = &nodes.list()[0];
        assert_eq!(row.sync_status, "kong_version_incompatible");
        assert_eq!(row.last_error.as_deref(), Some("too new"));
        assert!(!row.connected);
    }

    #[test]
    fn json_has_kongs_fields() {
        let nodes = Nodes::default();
        nodes.hello(&hello("a"), "10.0.0.1", "unknown");
        let v = serde_json::to_value(&nodes.list()[0]).unwrap();
        for key in [
            "id",
            "ip",
            "hostname",
            "version",
            "sync_status",
            "config_hash",
            "last_seen",
            "updated_at",
            "labels",
            "cert_details",
            "ttl",
            "config_version",
            "connected",
            "last_error",
        ] {
            assert!(v.get(key).is_some(), "no {key} in {v}");
        }
        assert!(v.get("session").is_none());
    }
}
