//! End-to-end `ai-mcp-proxy` with the official MCP Python SDK (PyPI `mcp`): an SDK server
//! (tests/python/mcp_server.py) behind two real DP replicas, and an SDK client
//! (tests/python/test_mcp_sdk.py) whose requests alternate between the replicas within one
//! session; then the `kong_ai_mcp_*` metrics on each replica.

use std::process::Command;
use std::time::Duration;

use e2e::binaries::repo_file;
use e2e::ports::free_port;
use e2e::process::Process;

use crate::fixture::{Gateway, SYNC_TIMEOUT};

/// The Python interpreter with `mcp` and `pytest` importable (tests/run installs them).
fn python() -> String {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import mcp.server.mcpserver, pytest"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{python} cannot import mcp (v2) and pytest: run tests/run, or `pip install 'mcp>=2,<3' pytest`"
    );
    python
}

#[tokio::test]
async fn mcp_python_sdk_session_across_two_replicas() {
    let python = python();
    let gw = Gateway::start("mcp-sdk", 2).await;
    let port = free_port().unwrap();
    let mut cmd = Command::new(&python);
    cmd.arg(repo_file("tests/python/mcp_server.py"))
        .arg(port.to_string());
    let mut server =
        Process::spawn("mcp-server", cmd, &gw.dir.path().join("mcp-server.log")).unwrap();
    let addr = server
        .wait_for_address("mcp server listening on", Duration::from_secs(30))
        .await
        .unwrap();

    let file = gw.dir.path().join("mcp.yaml");
    std::fs::write(
        &file,
        format!(
            r#"_format_version: "3.0"
services:
  - name: mcp-tools
    url: http://{addr}
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
    config: {{}}
"#
        ),
    )
    .unwrap();
    let out = gw.apply(&file).await;
    assert!(out.success, "apply failed:\n{}", out.describe());
    for dp in &gw.dps {
        dp.wait_ready(&gw.client, SYNC_TIMEOUT).await.unwrap();
    }
    let urls: Vec<String> = gw.dps.iter().map(|dp| dp.proxy_url("/mcp")).collect();
    let out = tokio::process::Command::new(&python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--junit-xml",
        ])
        .arg(gw.dir.path().join("pytest-mcp.xml"))
        .arg(repo_file("tests/python/test_mcp_sdk.py"))
        .env("MCP_GATEWAY_URLS", urls.join(","))
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "pytest failed ({:?}):\n{}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.diagnostics()
    );
    let xml = std::fs::read_to_string(gw.dir.path().join("pytest-mcp.xml")).unwrap();
    assert!(
        xml.contains("tests=\"1\"") && xml.contains("skipped=\"0\""),
        "{xml}"
    );

    // Each replica served part of the session and counted what it served.
    let mut calls = 0;
    for dp in &gw.dps {
        let text = gw
            .client
            .get(&dp.status_url("/metrics"))
            .await
            .unwrap()
            .text();
        assert!(
            text.contains("kong_ai_mcp_latency_ms_count{service=\"mcp-tools\",route=\"mcp-route\""),
            "{text}"
        );
        calls += text
            .lines()
            .filter(|l| {
                l.starts_with("kong_ai_mcp_latency_ms_count") && l.contains("method=\"tools/call\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum::<u64>();
    }
    assert_eq!(calls, 2, "two tools/call requests in all");
    // fail_tool answered `isError: true`: one "Tool error" on whichever replica served it.
    let mut tool_errors = 0;
    for dp in &gw.dps {
        let text = gw
            .client
            .get(&dp.status_url("/metrics"))
            .await
            .unwrap()
            .text();
        tool_errors += text
            .lines()
            .filter(|l| {
                l.starts_with("kong_ai_mcp_error_total{")
                    && l.contains("type=\"Tool error\",method=\"tools/call\"")
                    && l.contains("tool_name=\"fail_tool\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum::<u64>();
    }
    assert_eq!(tool_errors, 1);
}
