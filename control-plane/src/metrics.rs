//! Every CP metric family, defined here and nowhere else: Kong's `kong_data_plane_*` gauges,
//! rebuilt on each scrape from the rows of `GET /clustering/data-planes` (as Kong rebuilds
//! them from `clustering_data_planes`): with several CPs on one PostgreSQL, every CP reports
//! every DP, not only those connected to it.

use prometheus::{Encoder, GaugeVec, Opts, Registry, TextEncoder};
use serde_json::Value;

/// Renders the CP's metrics in the Prometheus text format from the data-plane rows.
pub fn render(nodes: &[Value]) -> String {
    let registry = Registry::new();
    let labels = ["node_id", "hostname", "ip"];
    let last_seen = gauge(
        &registry,
        "kong_data_plane_last_seen",
        "Last time data plane contacted control plane",
        &labels,
    );
    let hash = gauge(
        &registry,
        "kong_data_plane_config_hash",
        "Config hash numeric value of the data plane",
        &labels,
    );
    let compatible = gauge(
        &registry,
        "kong_data_plane_version_compatible",
        "Version compatible status of the data plane, 0 is incompatible",
        &["node_id", "hostname", "ip", "kong_version"],
    );
    for n in nodes {
        let text = |key: &str| n[key].as_str().unwrap_or_default();
        let l = [text("id"), text("hostname"), text("ip")];
        if let Some(g) = &last_seen {
            let seen = n["last_seen"].as_f64().unwrap_or_default();
            g.with_label_values(&l).set(seen);
        }
        if let Some(g) = &hash {
            g.with_label_values(&l).set(hash_value(text("config_hash")));
        }
        if let Some(g) = &compatible {
            let status = text("sync_status");
            let ok = !status.ends_with("incompatible") || status == "filter_set_incompatible";
            g.with_label_values(&[l[0], l[1], l[2], text("version")])
                .set(if ok { 1.0 } else { 0.0 });
        }
    }
    let mut out = Vec::new();
    if TextEncoder::new()
        .encode(&registry.gather(), &mut out)
        .is_err()
    {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> Option<GaugeVec> {
    let g = GaugeVec::new(Opts::new(name, help), labels).ok()?;
    registry.register(Box::new(g.clone())).ok()?;
    Some(g)
}

/// Kong exports the hash as `tonumber("0x"..hash)`: a float.
fn hash_value(hash: &str) -> f64 {
    u128::from_str_radix(hash, 16)
        .map(|v| v as f64)
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::nodes::Nodes;

    #[test]
    fn renders_data_plane_gauges() {
        let nodes = Nodes::default();
        nodes.hello(
            &proto::v1::Hello {
                node_id: "n1".into(),
                hostname: "h".into(),
                version: "0.1.0".into(),
                ..Default::default()
            },
            "127.0.0.1",
            "unknown",
        );
        nodes.ack("n1", 3, "00000000000000000000000000000010");
        let rows: Vec<Value> = nodes
            .list()
            .iter()
            .map(|n| serde_json::to_value(n).unwrap())
            .collect();
        let text = render(&rows);
        assert!(
            text.contains(
                r#"kong_data_plane_config_hash{hostname="h",ip="127.0.0.1",node_id="n1"} 16"#
            ),
            "{text}"
        );
        assert!(
            text.contains("kong_data_plane_version_compatible{"),
            "{text}"
        );
    }
}
