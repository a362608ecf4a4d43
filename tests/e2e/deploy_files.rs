//! The deployment files in deploy/ cannot drift from the code: every flag, `KONG_*` env var and
//! port they use is checked against the real binaries' `--help`, the HTTP paths probes and
//! scrapers GET are fetched from a running CP and DP, and every query of the Grafana dashboard
//! runs on a real Prometheus scraping a DP that served AI, MCP and plain traffic.

mod argv;
mod compose;
mod dockerfile;
mod files;
mod help;
mod k8s;
mod monitoring;
mod pod;

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::binaries::workspace_root;
use e2e::prometheus::Prometheus;
use e2e::wait;
use serde_json::json;

use crate::fixture::{tutorial_body, Gateway, SYNC_TIMEOUT};
use help::Helps;

fn fail_on(errors: &[String]) {
    assert!(
        errors.is_empty(),
        "{} problem(s) in deploy/:\n  {}",
        errors.len(),
        errors.join("\n  ")
    );
}

#[test]
fn deploy_files_use_only_flags_env_vars_and_ports_the_binaries_have() {
    let helps = Helps::load();
    let report = files::check_all(&workspace_root(), &helps);
    fail_on(&report.errors);
    // The walk saw the files this test is about, and found what it checks.
    for f in [
        "deploy/Dockerfile",
        "deploy/compose.yaml",
        "deploy/prometheus/prometheus.yml",
        "deploy/k8s/data-plane.yaml",
        "deploy/k8s/control-plane.yaml",
        "deploy/grafana/dashboards/kong-ai-gateway.json",
    ] {
        assert!(
            report.files.iter().any(|r| r == f),
            "{f} not seen: {:?}",
            report.files
        );
    }
    assert!(
        report.script_commands >= 4,
        "quickstart.sh: {}",
        report.script_commands
    );
    let probes: BTreeSet<&str> = report.gets.iter().map(|g| g.path.as_str()).collect();
    assert!(
        probes.contains("/status/ready") && probes.contains("/metrics"),
        "{probes:?}"
    );
    assert!(report.queries.len() >= 10, "{:?}", report.queries);
}

/// The config the dashboard is checked against: an AI route with prices (tokens, cost, MCP
/// items in Responses replies), an `ai-mcp-proxy` route, every prometheus flag.
fn deck_file(mock: &str) -> String {
    format!(
        r#"_format_version: "3.0"
services:
  - name: llm
    url: {mock}/v1/responses
    routes:
      - name: llm-route
        paths: [/llm]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/responses
              logging: {{log_statistics: true}}
              auth: {{header_name: Authorization, header_value: "Bearer sk-deploy"}}
              model: {{provider: openai, name: gpt-4o, options: {{upstream_url: "{mock}/v1/responses", input_cost: 1.0, output_cost: 2.0}}}}
  - name: mcp-tools
    url: {mock}
    routes:
      - name: mcp-route
        paths: [/mcp]
        strip_path: false
        plugins:
          - name: ai-mcp-proxy
            config:
              mode: passthrough-listener
              logging: {{log_statistics: true}}
plugins:
  - name: prometheus
    config:
      status_code_metrics: true
      latency_metrics: true
      bandwidth_metrics: true
      upstream_health_metrics: true
      ai_metrics: true
"#
    )
}

#[tokio::test]
async fn dashboard_queries_and_probe_paths_work_on_real_binaries() {
    let report = files::check_all(&workspace_root(), &Helps::load());
    fail_on(&report.errors);
    let gw = Gateway::start("deploy-files", 1).await;
    let dp = &gw.dps[0];
    let file = gw.dir.path().join("deploy-files.yaml");
    std::fs::write(&file, deck_file(&gw.mock.url(""))).unwrap();
    let out = gw.apply(&file).await;
    assert!(out.success, "apply failed:\n{}", out.describe());
    dp.wait_ready(&gw.client, SYNC_TIMEOUT).await.unwrap();
    for _ in 0..3 {
        let r = gw
            .client
            .post_json(&dp.proxy_url("/llm"), &[], &tutorial_body())
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let rpc = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let r = gw
        .client
        .post_json(&dp.proxy_url("/mcp"), &[], &rpc)
        .await
        .unwrap();
    assert!(
        r.status.as_u16() >= 400,
        "the mock has no MCP server: {} {}",
        r.status,
        r.text()
    );

    // Every path a probe or scraper GETs answers 200 on the binary that serves it.
    for get in &report.gets {
        let addr = match (get.command.as_str(), get.listen_flag.as_str()) {
            ("data-plane", "--status-listen") => dp.status,
            ("data-plane", "--proxy-listen") => dp.proxy,
            ("control-plane serve", "--admin-listen") => gw.cp.admin,
            other => panic!("{}: no running binary serves {other:?}", get.place),
        };
        let r = gw
            .client
            .get(&format!("http://{addr}{}", get.path))
            .await
            .unwrap();
        assert_eq!(
            r.status,
            200,
            "{}: GET {} on {}: {}",
            get.place,
            get.path,
            get.command,
            r.text()
        );
    }

    // Every metric the dashboard names is a family the DP or the CP exports.
    let mut families = BTreeSet::new();
    let mut texts = String::new();
    for url in [
        dp.status_url("/metrics"),
        format!("{}/metrics", gw.cp.admin_url()),
    ] {
        let text = gw.client.get(&url).await.unwrap().text();
        families.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix("# TYPE "))
                .filter_map(|l| l.split_whitespace().next())
                .map(str::to_string),
        );
        texts.push_str(&text);
    }
    let unknown: Vec<String> = report
        .queries
        .iter()
        .flat_map(|q| q.metrics().into_iter().map(move |m| (q, m)))
        .filter(|(_, m)| !families.contains(m))
        .map(|(q, m)| format!("{}: unknown metric `{m}`", q.place))
        .collect();
    assert!(
        unknown.is_empty(),
        "{}\nexported: {families:?}",
        unknown.join("\n")
    );

    // Every dashboard query runs on a real Prometheus and returns series.
    let prom = Prometheus::start(&gw.dir, &[dp.status, gw.cp.admin])
        .await
        .unwrap();
    for q in report.queries.iter().filter(|q| q.promql) {
        let expr = q.promql();
        let what = format!("{}: `{expr}` returns series", q.place);
        let result = wait::until(&what, Duration::from_secs(60), async || {
            Ok((!prom.query(&expr).await?.is_empty()).then_some(()))
        })
        .await;
        if let Err(e) = result {
            panic!("{e:#}\n{}\n--- /metrics ---\n{texts}", prom.diagnostics());
        }
    }
}
