//! deploy/prometheus and deploy/grafana: scrape targets are compose services on ports our
//! binaries listen on, Grafana's datasource and dashboard folder match compose, and the
//! dashboard's queries are collected (with their metric names) for the check against a real DP.

use std::collections::BTreeSet;

use regex::Regex;
use serde_json::Value as Json;
use serde_yaml::Value;

use super::argv::expect_port;
use super::compose::Compose;
use super::help::port_of;
use super::k8s::HttpGet;

fn s(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_default()
}

fn yaml(rel: &str, text: &str, errors: &mut Vec<String>) -> Value {
    serde_yaml::from_str(text).unwrap_or_else(|e| {
        errors.push(format!("{rel}: not YAML: {e}"));
        Value::Null
    })
}

fn items(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_sequence).into_iter().flatten()
}

/// The scrape targets of a Prometheus config; the paths they GET on our binaries.
pub fn check_prometheus(
    rel: &str,
    text: &str,
    compose: &Compose,
    errors: &mut Vec<String>,
) -> Vec<HttpGet> {
    let doc = yaml(rel, text, errors);
    let mut gets = Vec::new();
    for job in items(doc.get("scrape_configs")) {
        let name = job.get("job_name").map(s).unwrap_or_default();
        let path = job
            .get("metrics_path")
            .map(s)
            .unwrap_or_else(|| "/metrics".into());
        let targets = items(job.get("static_configs")).flat_map(|c| items(c.get("targets")));
        for target in targets.map(s) {
            let place = format!("{rel}: job {name} target {target}");
            let host = target.split(':').next().unwrap_or("");
            let Some(service) = compose.services.get(host) else {
                errors.push(format!(
                    "{place}: `{host}` is not a service of deploy/compose.yaml"
                ));
                continue;
            };
            let (Some(checked), Some(port)) = (service, port_of(&target)) else {
                continue;
            };
            expect_port(&place, "scrape", port, checked, errors);
            if let Some((flag, _)) = checked.listen.iter().find(|(_, p)| **p == port) {
                gets.push(HttpGet {
                    place,
                    command: checked.command.clone(),
                    listen_flag: flag.clone(),
                    path: path.clone(),
                });
            }
        }
    }
    gets
}

/// Grafana datasources: their uids, each URL pointing at a compose service.
pub fn check_datasources(
    rel: &str,
    text: &str,
    compose: &Compose,
    errors: &mut Vec<String>,
) -> Vec<String> {
    let doc = yaml(rel, text, errors);
    let mut uids = Vec::new();
    for ds in items(doc.get("datasources")) {
        let url = ds.get("url").map(s).unwrap_or_default();
        let host = url
            .split("://")
            .last()
            .unwrap_or("")
            .split([':', '/'])
            .next()
            .unwrap_or("");
        if !compose.services.contains_key(host) {
            errors.push(format!(
                "{rel}: datasource url `{url}`: `{host}` is not a service of deploy/compose.yaml"
            ));
        }
        uids.push(ds.get("uid").map(s).unwrap_or_default());
    }
    uids
}

/// Grafana dashboard providers: each path is where compose mounts a folder of dashboards.
pub fn check_providers(rel: &str, text: &str, compose: &Compose, errors: &mut Vec<String>) {
    let doc = yaml(rel, text, errors);
    for p in items(doc.get("providers")) {
        let path = p
            .get("options")
            .and_then(|o| o.get("path"))
            .map(s)
            .unwrap_or_default();
        if !compose.mounts.iter().any(|(_, dst)| *dst == path) {
            errors.push(format!(
                "{rel}: provider path `{path}` is not mounted by deploy/compose.yaml"
            ));
        }
    }
}

/// One query of a dashboard panel.
#[derive(Debug, Clone)]
pub struct Query {
    pub place: String,
    pub expr: String,
    /// False for Grafana-only syntax (a variable's `label_values(…)`): names checked, not run.
    pub promql: bool,
}

impl Query {
    /// The expression with Grafana's variables replaced, as Prometheus receives it.
    pub fn promql(&self) -> String {
        self.expr
            .replace("$__rate_interval", "1m")
            .replace("$__range", "5m")
            .replace("$instance", ".*")
    }

    /// The `kong_*` series names it reads, without histogram suffixes.
    pub fn metrics(&self) -> BTreeSet<String> {
        let re = Regex::new(r"\bkong_[a-z0-9_]+").unwrap();
        re.find_iter(&self.expr)
            .map(|m| {
                let n = m.as_str();
                ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|suf| n.strip_suffix(suf))
                    .unwrap_or(n)
                    .to_string()
            })
            .collect()
    }
}

/// A dashboard's queries; datasource uids must be provisioned ones; no unknown variables.
pub fn check_dashboard(
    rel: &str,
    text: &str,
    uids: &[String],
    errors: &mut Vec<String>,
) -> Vec<Query> {
    let doc: Json = match serde_json::from_str(text) {
        Ok(d) => d,
        Err(e) => {
            errors.push(format!("{rel}: not JSON: {e}"));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    let panels = doc["panels"].as_array().cloned().unwrap_or_default();
    for panel in panels
        .iter()
        .flat_map(|p| std::iter::once(p).chain(p["panels"].as_array().into_iter().flatten()))
    {
        let title = panel["title"].as_str().unwrap_or("");
        for ds in std::iter::once(&panel["datasource"]).chain(
            panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| &t["datasource"]),
        ) {
            if let Some(uid) = ds["uid"].as_str() {
                if !uids.iter().any(|u| u == uid) {
                    errors.push(format!("{rel}: panel `{title}`: datasource uid `{uid}` is not provisioned ({uids:?})"));
                }
            }
        }
        for t in panel["targets"].as_array().into_iter().flatten() {
            let q = Query {
                place: format!(
                    "{rel}: panel `{title}` query {}",
                    t["refId"].as_str().unwrap_or("?")
                ),
                expr: t["expr"].as_str().unwrap_or("").to_string(),
                promql: true,
            };
            if q.promql().contains('$') {
                errors.push(format!(
                    "{}: unknown Grafana variable in `{}`",
                    q.place, q.expr
                ));
            }
            out.push(q);
        }
    }
    if out.is_empty() {
        errors.push(format!("{rel}: no queries"));
    }
    for var in doc["templating"]["list"].as_array().into_iter().flatten() {
        let expr = var["query"]["query"]
            .as_str()
            .or(var["query"].as_str())
            .unwrap_or("");
        out.push(Query {
            place: format!("{rel}: variable `{}`", var["name"].as_str().unwrap_or("?")),
            expr: expr.to_string(),
            promql: false,
        });
    }
    out
}

#[test]
fn queries_name_their_metrics() {
    let q = Query {
        place: "p".into(),
        expr: r#"histogram_quantile(0.9, sum by (le) (rate(kong_request_latency_ms_bucket{instance=~"$instance"}[$__rate_interval]))) + kong_ai_llm_requests_total"#.into(),
        promql: true,
    };
    assert_eq!(
        q.metrics().into_iter().collect::<Vec<_>>(),
        ["kong_ai_llm_requests_total", "kong_request_latency_ms"]
    );
    assert!(!q.promql().contains('$'));
}
