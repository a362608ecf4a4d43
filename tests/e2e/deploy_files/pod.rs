//! One pod template of deploy/k8s: each container's command line and env checked against
//! `--help`, its ports, probes and Prometheus annotations resolved to the listen flags that serve
//! them, and the DP's grace period against its drain timeout.

use std::collections::BTreeMap;

use serde_yaml::Value;

use super::argv::{self, expect_port, Checked, Invocation};
use super::help::Helps;
use super::k8s::HttpGet;

#[derive(Debug)]
pub struct Container {
    pub place: String,
    pub checked: Checked,
    /// Named container ports → number, plus every number under its own decimal name.
    pub ports: BTreeMap<String, u16>,
}

#[derive(Debug)]
pub struct Workload {
    pub kind: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub containers: Vec<Container>,
}

impl Container {
    /// The listen flag serving port `port` (a name or number).
    pub fn listen_flag(&self, port: &str) -> Option<String> {
        let n = self.ports.get(port)?;
        self.checked
            .listen
            .iter()
            .find(|(_, p)| *p == n)
            .map(|(f, _)| f.clone())
    }
}

pub fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

pub fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

pub fn seq(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

pub fn labels(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_mapping)
        .map(|m| m.iter().map(|(k, v)| (s(k), s(v))).collect())
        .unwrap_or_default()
}

/// `30`, `30s`, `500ms`, `2m` in seconds.
pub fn seconds(v: &str) -> Option<f64> {
    let (n, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: f64 = n.parse().ok()?;
    match unit {
        "" | "s" => Some(n),
        "ms" => Some(n / 1000.0),
        "m" => Some(n * 60.0),
        _ => None,
    }
}

/// The workload `doc` (a Deployment, StatefulSet or DaemonSet); the HTTP paths its probes and
/// annotations GET go to `out`.
pub fn workload(
    place: &str,
    kind: &str,
    name: &str,
    doc: &Value,
    helps: &Helps,
    out: &mut Vec<HttpGet>,
    errors: &mut Vec<String>,
) -> Workload {
    let pod = get(doc, &["spec", "template"]).unwrap_or(&Value::Null);
    let mut containers = Vec::new();
    let annotations = labels(get(pod, &["metadata", "annotations"]));
    for c in seq(get(pod, &["spec", "containers"])) {
        let mut gets = Vec::new();
        let cplace = format!(
            "{place} container {}",
            c.get("name").map(s).unwrap_or_default()
        );
        let argv: Vec<String> = seq(c.get("command"))
            .iter()
            .chain(seq(c.get("args")))
            .map(s)
            .collect();
        let env = seq(c.get("env"))
            .iter()
            .map(|e| {
                (
                    e.get("name").map(s).unwrap_or_default(),
                    e.get("value").map(s),
                )
            })
            .collect();
        let inv = Invocation {
            place: cplace.clone(),
            argv,
            env,
        };
        let Some(checked) = argv::check(&inv, helps, errors) else {
            continue;
        };
        let mut ports = BTreeMap::new();
        for p in seq(c.get("ports")) {
            let n = p.get("containerPort").and_then(Value::as_u64).unwrap_or(0) as u16;
            expect_port(&cplace, "containerPort", n, &checked, errors);
            ports.insert(n.to_string(), n);
            if let Some(pname) = p.get("name") {
                ports.insert(s(pname), n);
            }
        }
        for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
            let Some(http) = get(c, &[probe, "httpGet"]) else {
                continue;
            };
            let port = http.get("port").map(s).unwrap_or_default();
            match ports.get(&port) {
                Some(n) => expect_port(&cplace, probe, *n, &checked, errors),
                None => errors.push(format!(
                    "{cplace}: {probe} port `{port}` is not a container port"
                )),
            }
            let path = http.get("path").map(s).unwrap_or_else(|| "/".into());
            gets.push((format!("{cplace} {probe}"), port, path));
        }
        if checked.command == "data-plane" {
            check_grace(&cplace, pod, c, &checked, errors);
        }
        if let Some(port) = annotations.get("prometheus.io/port") {
            let path = annotations
                .get("prometheus.io/path")
                .cloned()
                .unwrap_or_else(|| "/metrics".into());
            gets.push((
                format!("{cplace} prometheus.io annotations"),
                port.clone(),
                path,
            ));
        }
        let container = Container {
            place: cplace,
            checked,
            ports,
        };
        for (place, port, path) in gets {
            if let Some(listen_flag) = container.listen_flag(&port) {
                out.push(HttpGet {
                    place,
                    command: container.checked.command.clone(),
                    listen_flag,
                    path,
                });
            }
        }
        containers.push(container);
    }
    if let Some(port) = annotations.get("prometheus.io/port") {
        if !containers.iter().any(|c| c.ports.contains_key(port)) {
            errors.push(format!(
                "{place}: annotation prometheus.io/port {port} is not a container port"
            ));
        }
    }
    Workload {
        kind: kind.into(),
        name: name.into(),
        labels: labels(get(pod, &["metadata", "labels"])),
        containers,
    }
}

/// The pod's grace period must outlast the preStop sleep plus the DP's `--drain-timeout`.
fn check_grace(place: &str, pod: &Value, c: &Value, checked: &Checked, errors: &mut Vec<String>) {
    let grace = get(pod, &["spec", "terminationGracePeriodSeconds"])
        .and_then(Value::as_f64)
        .unwrap_or(30.0);
    let pre_stop = seq(get(c, &["lifecycle", "preStop", "exec", "command"]));
    let sleep = match pre_stop {
        [cmd, secs] if s(cmd) == "sleep" => seconds(&s(secs)).unwrap_or(0.0),
        _ => 0.0,
    };
    let drain = checked
        .values
        .get("--drain-timeout")
        .and_then(|d| seconds(d));
    match drain {
        Some(d) if grace > sleep + d => {}
        Some(d) => errors.push(format!(
            "{place}: terminationGracePeriodSeconds {grace} does not cover preStop {sleep}s + --drain-timeout {d}s"
        )),
        None => errors.push(format!("{place}: cannot read --drain-timeout")),
    }
}

#[test]
fn durations_in_seconds() {
    assert_eq!(seconds("30s"), Some(30.0));
    assert_eq!(seconds("45"), Some(45.0));
    assert_eq!(seconds("500ms"), Some(0.5));
    assert_eq!(seconds("2m"), Some(120.0));
    assert_eq!(seconds("1h"), None);
}
