//! deploy/compose.yaml: each service that runs our image is checked like a container (flags, env
//! vars, published and exposed ports, healthcheck port, the control plane address of the DPs);
//! bind-mounted paths must exist.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde_yaml::Value;

use super::argv::{self, expect_port, Checked, Invocation};
use super::help::{port_of, Helps};
use super::pod::seconds;

/// What the other files need to know about the compose project.
#[derive(Debug, Default)]
pub struct Compose {
    /// Service name → what our binary listens on (`None` for other images).
    pub services: BTreeMap<String, Option<Checked>>,
    /// Bind mounts: host path relative to deploy/ → container path.
    pub mounts: Vec<(String, String)>,
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(items) => items.iter().map(scalar).collect(),
        Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => serde_yaml::to_string(other).unwrap_or_default(),
    }
}

fn environment(v: &Value) -> BTreeMap<String, Option<String>> {
    match v {
        Value::Mapping(m) => m
            .iter()
            .map(|(k, v)| (scalar(k), (!v.is_null()).then(|| scalar(v))))
            .collect(),
        Value::Sequence(items) => items
            .iter()
            .map(|i| match scalar(i).split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (scalar(i), None),
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The container port of a `ports:` entry (`8000`, `8010:8000`, `127.0.0.1:8010:8000/tcp`).
fn container_port(entry: &str) -> Option<u16> {
    entry.split('/').next()?.rsplit(':').next()?.parse().ok()
}

pub fn check(
    deploy: &Path,
    rel: &str,
    text: &str,
    helps: &Helps,
    errors: &mut Vec<String>,
) -> Compose {
    let mut doc: Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            errors.push(format!("{rel}: not YAML: {e}"));
            return Compose::default();
        }
    };
    if let Err(e) = doc.apply_merge() {
        errors.push(format!("{rel}: bad `<<` merge: {e}"));
    }
    let mut out = Compose::default();
    let Some(services) = doc.get("services").and_then(Value::as_mapping) else {
        errors.push(format!("{rel}: no `services`"));
        return out;
    };
    let dev_tcp = Regex::new(r"/dev/tcp/[^/\s]+/(\d+)").unwrap();
    for (name, svc) in services {
        let name = scalar(name);
        let place = format!("{rel}: service {name}");
        let inv = Invocation {
            place: place.clone(),
            argv: svc.get("command").map(strings).unwrap_or_default(),
            env: svc.get("environment").map(environment).unwrap_or_default(),
        };
        let checked = argv::check(&inv, helps, errors);
        for vol in svc.get("volumes").map(strings).unwrap_or_default() {
            let mut parts = vol.split(':');
            let (Some(src), Some(dst)) = (parts.next(), parts.next()) else {
                continue;
            };
            if src.starts_with('.') {
                if !deploy.join(src).exists() {
                    errors.push(format!(
                        "{place}: mounted path `{src}` does not exist in deploy/"
                    ));
                }
                out.mounts
                    .push((src.trim_start_matches("./").to_string(), dst.to_string()));
            }
        }
        if let Some(checked) = &checked {
            let published = svc.get("ports").map(strings).unwrap_or_default();
            let exposed = svc.get("expose").map(strings).unwrap_or_default();
            for entry in published.iter().chain(&exposed) {
                match container_port(entry) {
                    Some(p) => expect_port(&place, &format!("`{entry}`"), p, checked, errors),
                    None => errors.push(format!("{place}: cannot read port `{entry}`")),
                }
            }
            let health = svc
                .get("healthcheck")
                .and_then(|h| h.get("test"))
                .map(strings)
                .unwrap_or_default()
                .join(" ");
            for c in dev_tcp.captures_iter(&health) {
                if let Ok(p) = c[1].parse() {
                    expect_port(&place, "healthcheck", p, checked, errors);
                }
            }
            if checked.command == "data-plane" {
                check_stop_grace(&place, svc, checked, errors);
            }
        }
        out.services.insert(name, checked);
    }
    check_control_plane_addresses(rel, &out, errors);
    out
}

/// A DP's `stop_grace_period` (compose's default is 10 s) must outlast its `--drain-timeout`.
fn check_stop_grace(place: &str, svc: &Value, checked: &Checked, errors: &mut Vec<String>) {
    let grace = svc
        .get("stop_grace_period")
        .map(scalar)
        .unwrap_or_else(|| "10s".into());
    let drain = checked
        .values
        .get("--drain-timeout")
        .and_then(|d| seconds(d));
    let show = |v: Option<f64>| v.map_or_else(|| "?".to_string(), |v| format!("{v} s"));
    match (seconds(&grace), drain) {
        (Some(g), Some(d)) if g > d => {}
        (g, d) => errors.push(format!(
            "{place}: stop_grace_period {grace} ({}) does not outlast --drain-timeout ({})",
            show(g),
            show(d)
        )),
    }
}

/// Every DP's `--control-plane` names a compose service that listens on that port.
fn check_control_plane_addresses(rel: &str, compose: &Compose, errors: &mut Vec<String>) {
    for (name, checked) in &compose.services {
        let Some(cp) = checked
            .as_ref()
            .and_then(|c| c.values.get("--control-plane"))
        else {
            continue;
        };
        for addr in cp.split(',') {
            let host = addr
                .split("://")
                .last()
                .unwrap_or(addr)
                .split(':')
                .next()
                .unwrap_or("");
            let target = compose.services.get(host).and_then(Option::as_ref);
            match (target, port_of(addr)) {
                (Some(t), Some(port)) => expect_port(
                    &format!("{rel}: service {name} --control-plane {addr} → {host}"),
                    "cluster",
                    port,
                    t,
                    errors,
                ),
                _ => errors.push(format!(
                    "{rel}: service {name}: --control-plane `{addr}` is not a service of ours with a port"
                )),
            }
        }
    }
}

#[test]
fn compose_ports_are_read() {
    assert_eq!(container_port("127.0.0.1:8101:8100"), Some(8100));
    assert_eq!(container_port("8005"), Some(8005));
    assert_eq!(container_port("8010:8000/tcp"), Some(8000));
    let env = environment(&serde_yaml::from_str("[A=1, B]").unwrap());
    assert_eq!(env["A"].as_deref(), Some("1"));
    assert_eq!(env["B"], None);
}

#[test]
fn a_bogus_flag_in_compose_is_named() {
    let helps = argv::fake_helps();
    let yaml = "services:\n  dp:\n    command: [data-plane, --control-plane, cp:8005, --bogus-flag, x]\n    ports: [\"8101:9999\"]\n";
    let mut errors = Vec::new();
    check(
        Path::new("/nonexistent"),
        "deploy/compose.yaml",
        yaml,
        &helps,
        &mut errors,
    );
    assert!(
        errors.iter().any(|e| e == "deploy/compose.yaml: service dp: unknown flag `--bogus-flag` (not in `data-plane --help`)"),
        "{errors:?}"
    );
    assert!(errors.iter().any(|e| e.contains("port 9999")), "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("--control-plane `cp:8005`")),
        "{errors:?}"
    );
}
