//! Walks deploy/ and sends every file to the check that knows its kind; a file no check knows
//! is an error, so a new deploy file cannot go unchecked.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::compose::{self, Compose};
use super::dockerfile;
use super::help::Helps;
use super::k8s::{self, HttpGet};
use super::monitoring::{self, Query};

/// Everything the static checks found, and what the end-to-end check runs against real binaries.
#[derive(Debug, Default)]
pub struct Report {
    pub errors: Vec<String>,
    /// Files looked at (relative to the repository root).
    pub files: Vec<String>,
    /// Paths that probes and scrapers GET from our binaries.
    pub gets: Vec<HttpGet>,
    /// Dashboard queries.
    pub queries: Vec<Query>,
    /// Command lines of our binaries found in scripts.
    pub script_commands: usize,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn is_yaml(rel: &str) -> bool {
    rel.ends_with(".yaml") || rel.ends_with(".yml")
}

/// `promtool check config` on a Prometheus config (promtool ships with Debian's `prometheus`).
fn promtool(path: &Path, rel: &str, errors: &mut Vec<String>) {
    match Command::new("promtool").arg("check").arg("config").arg(path).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => errors.push(format!(
            "{rel}: promtool check config failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) => errors.push(format!(
            "{rel}: cannot run promtool ({e}); install it with `apt-get install -y prometheus` (tests/run does)"
        )),
    }
}

/// Checks every file under `<root>/deploy`.
pub fn check_all(root: &Path, helps: &Helps) -> Report {
    let deploy = root.join("deploy");
    let mut paths = Vec::new();
    walk(&deploy, &mut paths);
    let mut report = Report::default();
    let rel_of = |p: &Path| p.strip_prefix(root).unwrap().display().to_string();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    let errors = &mut report.errors;

    let compose = match paths.iter().find(|p| rel_of(p) == "deploy/compose.yaml") {
        Some(p) => compose::check(&deploy, "deploy/compose.yaml", &read(p), helps, errors),
        None => {
            errors.push("deploy/compose.yaml is missing".into());
            Compose::default()
        }
    };
    let mut uids = Vec::new();
    for p in &paths {
        let rel = rel_of(p);
        if rel.starts_with("deploy/grafana/provisioning/datasources/") && is_yaml(&rel) {
            uids.extend(monitoring::check_datasources(
                &rel,
                &read(p),
                &compose,
                errors,
            ));
        }
    }
    let mut k8s_files = Vec::new();
    for p in &paths {
        let rel = rel_of(p);
        let text = read(p);
        report.files.push(rel.clone());
        match rel.as_str() {
            "deploy/compose.yaml" | "deploy/Dockerfile.dockerignore" => {}
            "deploy/Dockerfile" => dockerfile::check(root, &rel, &text, helps, errors),
            r if r.ends_with(".sh") => {
                report.script_commands += dockerfile::check_script(r, &text, helps, errors)
            }
            r if r.starts_with("deploy/k8s/") && is_yaml(r) => k8s_files.push((rel.clone(), text)),
            r if r.starts_with("deploy/prometheus/") && is_yaml(r) => {
                promtool(p, r, errors);
                let gets = monitoring::check_prometheus(r, &text, &compose, errors);
                report.gets.extend(gets);
            }
            r if r.starts_with("deploy/grafana/provisioning/datasources/") && is_yaml(r) => {}
            r if r.starts_with("deploy/grafana/provisioning/dashboards/") && is_yaml(r) => {
                monitoring::check_providers(r, &text, &compose, errors)
            }
            r if r.starts_with("deploy/grafana/dashboards/") && r.ends_with(".json") => {
                let queries = monitoring::check_dashboard(r, &text, &uids, errors);
                report.queries.extend(queries);
            }
            r if r.starts_with("deploy/examples/") && is_yaml(r) => {
                if let Err(e) = serde_yaml::from_str::<serde_yaml::Value>(&text) {
                    errors.push(format!("{r}: not YAML: {e}"));
                }
            }
            r => errors.push(format!(
                "{r}: no check knows this file; add one in tests/e2e/deploy_files/files.rs"
            )),
        }
    }
    let k8s = k8s::check(&k8s_files, &deploy, helps, errors);
    report.gets.extend(k8s.gets);
    report
}
