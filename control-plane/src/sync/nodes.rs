//! The DPs this CP has seen: who they are, what they run, when they were last heard from.
//! Fed by the sync streams; read by `/clustering/data-planes` and `/metrics`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use proto::v1;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub id: String,
    pub ip: String,
    pub hostname: String,
    pub version: String,
    pub sync_status: String,
    pub config_hash: String,
    pub config_version: u64,
    pub last_seen: u64,
    pub labels: BTreeMap<String, String>,
    pub connected: bool,
    pub last_error: Option<String>,
}

#[derive(Clone, Default)]
pub struct Nodes {
    inner: Arc<Mutex<BTreeMap<String, Node>>>,
}

impl Nodes {
    pub fn hello(&self, h: &v1::Hello, ip: &str, sync_status: &str) {
        let node = Node {
            id: h.node_id.clone(),
            ip: ip.to_string(),
            hostname: h.hostname.clone(),
            version: h.version.clone(),
            sync_status: sync_status.to_string(),
            config_hash: h.config_hash.clone(),
            config_version: h.config_version,
            last_seen: now(),
            labels: h.labels.clone().into_iter().collect(),
            connected: true,
            last_error: None,
        };
        self.with(|m| {
            m.insert(node.id.clone(), node);
        });
    }

    pub fn ack(&self, id: &str, version: u64, hash: &str) {
        self.update(id, |n| {
            n.config_version = version;
            n.config_hash = hash.to_string();
            n.sync_status = "normal".into();
            n.last_error = None;
        });
    }

    pub fn nack(&self, id: &str, error: &str) {
        self.update(id, |n| n.last_error = Some(error.to_string()));
    }

    pub fn disconnected(&self, id: &str) {
        self.update(id, |n| n.connected = false);
    }

    pub fn list(&self) -> Vec<Node> {
        self.with(|m| m.values().cloned().collect())
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut Node)) {
        self.with(|m| {
            if let Some(n) = m.get_mut(id) {
                n.last_seen = now();
                f(n);
            }
        });
    }

    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<String, Node>) -> R) -> R {
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
