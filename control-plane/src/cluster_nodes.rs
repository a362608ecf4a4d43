//! Node registry → database → `GET /clustering/data-planes`, when several CPs share one
//! PostgreSQL: each CP writes its DPs' rows (those that changed, every second) and a heartbeat,
//! and lists the rows of all CPs, its own in-memory rows taking precedence for its DPs. Kong
//! keeps these rows in `clustering_data_planes` for the same reason. Nothing runs on SQLite.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::store::{NodeRow, Store};
use crate::sync::nodes::{Node, Nodes, PURGE_DELAY_SECS};

/// How often a CP writes its DPs' changed rows and its heartbeat.
pub const FLUSH: Duration = Duration::from_secs(1);
/// A CP whose heartbeat is older than this is taken for dead: its DPs show disconnected.
pub const CP_ALIVE: Duration = Duration::from_secs(10);

/// Writes this CP's rows until the process exits.
pub async fn run(store: Store, nodes: Nodes, cp_id: String) {
    if !store.shares_nodes() {
        return;
    }
    // The body last written per DP, so unchanged rows are not written again.
    let mut written: HashMap<String, String> = HashMap::new();
    let mut tick = tokio::time::interval(FLUSH);
    loop {
        tick.tick().await;
        let mut rows = Vec::new();
        for n in nodes.list() {
            let Some(row) = to_row(n) else { continue };
            if written.get(&row.id) != Some(&row.body) {
                rows.push(row);
            }
        }
        let now = now();
        let purge_before = now - PURGE_DELAY_SECS as i64;
        match store.save_nodes(&cp_id, now, &rows, purge_before).await {
            Ok(()) => {
                for r in rows {
                    written.insert(r.id, r.body);
                }
            }
            Err(e) => tracing::warn!("cannot store the data plane rows: {e}"),
        }
    }
}

/// The rows of `GET /clustering/data-planes`: this CP's DPs, plus (PostgreSQL) those of the
/// other CPs on the database.
pub async fn list(store: &Store, nodes: &Nodes, cp_id: &str) -> Vec<Value> {
    let local = nodes.list();
    if !store.shares_nodes() {
        return local.iter().filter_map(to_value).collect();
    }
    let now = now();
    let shared = match store.load_nodes(now - CP_ALIVE.as_secs() as i64).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!("cannot read the data plane rows of other control planes: {e}");
            Vec::new()
        }
    };
    let mut by_id: BTreeMap<String, (String, Value)> = BTreeMap::new();
    for row in shared {
        let Ok(mut v) = serde_json::from_str::<Value>(&row.body) else {
            continue;
        };
        let last_seen = v["last_seen"].as_i64().unwrap_or(0);
        let ttl = (PURGE_DELAY_SECS as i64 - (now - last_seen)).max(0);
        v["connected"] = Value::Bool(row.connected);
        v["ttl"] = Value::from(ttl);
        let id = v["id"].as_str().unwrap_or_default().to_string();
        by_id.insert(id, (row.cp_id, v));
    }
    for n in &local {
        let mine = match by_id.get(&n.id) {
            None => true,
            Some((owner, _)) => owner == cp_id || n.connected,
        };
        if let (true, Some(v)) = (mine, to_value(n)) {
            by_id.insert(n.id.clone(), (cp_id.to_string(), v));
        }
    }
    by_id.into_values().map(|(_, v)| v).collect()
}

fn to_row(mut n: Node) -> Option<NodeRow> {
    // `ttl` is computed when read; leaving it in would make every row differ every second.
    n.ttl = 0;
    Some(NodeRow {
        id: n.id.clone(),
        connected: n.connected,
        last_seen: n.last_seen as i64,
        body: serde_json::to_string(&n).ok()?,
    })
}

fn to_value(n: &Node) -> Option<Value> {
    serde_json::to_value(n).ok()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
