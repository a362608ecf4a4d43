//! deploy/k8s/*.yaml (several documents per file): containers checked against `--help`, and the
//! references between objects followed: Service → pods and ports, probe and annotation ports,
//! ServiceMonitor → Service ports, HPA → workload, the DPs' control plane address → a Service,
//! the grace period against the DP's drain timeout.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_yaml::Value;

use super::help::{port_of, Helps};
use super::pod::{get, labels, s, seq, workload, Workload};

#[derive(Debug)]
struct Service {
    place: String,
    name: String,
    labels: BTreeMap<String, String>,
    selector: BTreeMap<String, String>,
    /// (name, port, targetPort as written)
    ports: Vec<(String, u16, String)>,
}

/// An HTTP path a probe or scraper GETs from one of our binaries.
#[derive(Debug, Clone)]
pub struct HttpGet {
    pub place: String,
    /// `data-plane`, `control-plane serve`.
    pub command: String,
    /// The listen flag of the port, e.g. `--status-listen`.
    pub listen_flag: String,
    pub path: String,
}

/// What the end-to-end check needs: every HTTP path the manifests GET.
#[derive(Debug, Default)]
pub struct K8s {
    pub gets: Vec<HttpGet>,
}

fn matches(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn pods_of<'a>(svc: &Service, workloads: &'a [Workload]) -> Vec<&'a Workload> {
    workloads
        .iter()
        .filter(|w| matches(&svc.selector, &w.labels))
        .collect()
}

/// Parses every document of every file, then checks them together.
pub fn check(
    files: &[(String, String)],
    deploy: &Path,
    helps: &Helps,
    errors: &mut Vec<String>,
) -> K8s {
    let mut docs = Vec::new();
    for (rel, text) in files {
        for (i, de) in serde_yaml::Deserializer::from_str(text).enumerate() {
            match Value::deserialize(de) {
                Ok(Value::Null) => {}
                Ok(v) => docs.push((rel.clone(), v)),
                Err(e) => errors.push(format!("{rel}: document {i} is not YAML: {e}")),
            }
        }
    }
    let mut out = K8s::default();
    let mut workloads = Vec::new();
    let mut services = Vec::new();
    for (rel, doc) in &docs {
        let kind = doc.get("kind").map(s).unwrap_or_default();
        let name = get(doc, &["metadata", "name"]).map(s).unwrap_or_default();
        let place = format!("{rel}: {kind} {name}");
        match kind.as_str() {
            "Deployment" | "StatefulSet" | "DaemonSet" => workloads.push(workload(
                &place,
                &kind,
                &name,
                doc,
                helps,
                &mut out.gets,
                errors,
            )),
            "Service" => services.push(Service {
                place,
                name,
                labels: labels(get(doc, &["metadata", "labels"])),
                selector: labels(get(doc, &["spec", "selector"])),
                ports: seq(get(doc, &["spec", "ports"]))
                    .iter()
                    .map(|p| {
                        let port = p.get("port").and_then(Value::as_u64).unwrap_or(0) as u16;
                        let target = p
                            .get("targetPort")
                            .map(s)
                            .unwrap_or_else(|| port.to_string());
                        (p.get("name").map(s).unwrap_or_default(), port, target)
                    })
                    .collect(),
            }),
            "Kustomization" => {
                for r in seq(doc.get("resources")) {
                    let dir = Path::new(rel).parent().unwrap_or(Path::new(""));
                    let file = deploy
                        .join(dir.strip_prefix("deploy").unwrap_or(dir))
                        .join(s(r));
                    if !file.exists() {
                        errors.push(format!("{place}: resource `{}` does not exist", s(r)));
                    }
                }
            }
            _ => {}
        }
    }
    for svc in &services {
        let pods = pods_of(svc, &workloads);
        if pods.is_empty() {
            errors.push(format!(
                "{}: selector {:?} matches no pod template",
                svc.place, svc.selector
            ));
        }
        for (pname, _, target) in &svc.ports {
            for w in &pods {
                if !w.containers.iter().any(|c| c.ports.contains_key(target)) {
                    errors.push(format!(
                        "{}: port {pname} targetPort `{target}` is not a container port of {} {}",
                        svc.place, w.kind, w.name
                    ));
                }
            }
        }
    }
    for (rel, doc) in &docs {
        let kind = doc.get("kind").map(s).unwrap_or_default();
        let name = get(doc, &["metadata", "name"]).map(s).unwrap_or_default();
        let place = format!("{rel}: {kind} {name}");
        match kind.as_str() {
            "ServiceMonitor" => {
                let selector = labels(get(doc, &["spec", "selector", "matchLabels"]));
                let selected: Vec<&Service> = services
                    .iter()
                    .filter(|s| matches(&selector, &s.labels))
                    .collect();
                if selected.is_empty() {
                    errors.push(format!("{place}: selector {selector:?} matches no Service"));
                }
                for ep in seq(get(doc, &["spec", "endpoints"])) {
                    let port = ep.get("port").map(s).unwrap_or_default();
                    let path = ep.get("path").map(s).unwrap_or_else(|| "/metrics".into());
                    for svc in &selected {
                        let Some((_, _, target)) = svc.ports.iter().find(|(n, _, _)| *n == port)
                        else {
                            errors.push(format!(
                                "{place}: endpoint port `{port}` is not a port name of Service {}",
                                svc.name
                            ));
                            continue;
                        };
                        for c in pods_of(svc, &workloads).iter().flat_map(|w| &w.containers) {
                            if let Some(listen_flag) = c.listen_flag(target) {
                                out.gets.push(HttpGet {
                                    place: place.clone(),
                                    command: c.checked.command.clone(),
                                    listen_flag,
                                    path: path.clone(),
                                });
                            }
                        }
                    }
                }
            }
            "HorizontalPodAutoscaler" => {
                let target = get(doc, &["spec", "scaleTargetRef", "name"])
                    .map(s)
                    .unwrap_or_default();
                let tkind = get(doc, &["spec", "scaleTargetRef", "kind"])
                    .map(s)
                    .unwrap_or_default();
                if !workloads
                    .iter()
                    .any(|w| w.name == target && w.kind == tkind)
                {
                    errors.push(format!(
                        "{place}: scaleTargetRef {tkind} {target} does not exist"
                    ));
                }
            }
            _ => {}
        }
    }
    check_control_plane_addresses(&workloads, &services, errors);
    out
}

/// Every DP's `--control-plane` is `<Service>:<port>` of a Service in these files.
fn check_control_plane_addresses(
    workloads: &[Workload],
    services: &[Service],
    errors: &mut Vec<String>,
) {
    for c in workloads.iter().flat_map(|w| &w.containers) {
        let Some(cp) = c.checked.values.get("--control-plane") else {
            continue;
        };
        for addr in cp.split(',') {
            let host = addr
                .split("://")
                .last()
                .unwrap_or(addr)
                .split(['.', ':'])
                .next()
                .unwrap_or("");
            let port = port_of(addr).unwrap_or(0);
            if !services
                .iter()
                .any(|s| s.name == host && s.ports.iter().any(|(_, p, _)| *p == port))
            {
                errors.push(format!(
                    "{}: --control-plane `{addr}` is not a Service port in deploy/k8s",
                    c.place
                ));
            }
        }
    }
}

#[test]
fn a_short_grace_period_and_a_bad_probe_port_are_named() {
    let yaml = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: dp}
spec:
  template:
    metadata: {labels: {app: dp}}
    spec:
      terminationGracePeriodSeconds: 20
      containers:
        - name: data-plane
          command: [data-plane]
          args: [--control-plane, cp:8005]
          ports: [{name: status, containerPort: 8100}]
          readinessProbe: {httpGet: {path: /status/ready, port: nope}}
---
apiVersion: v1
kind: Service
metadata: {name: cp}
spec: {selector: {app: cp}, ports: [{name: cluster, port: 8005}]}
"#;
    let mut helps = super::argv::fake_helps();
    let dp = helps.by_command.get_mut("data-plane").unwrap();
    dp.flags.insert("--drain-timeout".into());
    dp.defaults.insert("--drain-timeout".into(), "30s".into());
    let mut errors = Vec::new();
    check(
        &[("deploy/k8s/x.yaml".into(), yaml.into())],
        Path::new("/nonexistent"),
        &helps,
        &mut errors,
    );
    let has = |needle: &str| errors.iter().any(|e| e.contains(needle));
    assert!(
        has("terminationGracePeriodSeconds 20 does not cover preStop 0s + --drain-timeout 30s"),
        "{errors:?}"
    );
    assert!(
        has("readinessProbe port `nope` is not a container port"),
        "{errors:?}"
    );
    assert!(has("Service cp: selector"), "{errors:?}");
    assert!(!has("--control-plane `cp:8005`"), "{errors:?}");
}
