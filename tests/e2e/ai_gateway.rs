//! End-to-end AI gateway beyond the tutorial, with the real binaries and the mock upstream:
//! `ai-proxy-advanced` fail-over when a target answers 500 or times out, MCP items of
//! Responses API replies counted in `kong_ai_llm_mcp_calls_total` (streamed or not), the
//! TTFT/TPOT histograms, and the official OpenAI Python SDK against the DP (pytest).

use std::time::{Duration, Instant};

use serde_json::json;

use e2e::prometheus::Prometheus;
use e2e::wait;

use crate::fixture::{Gateway, SYNC_TIMEOUT};

/// The decK file of these tests, pointing at the mock at `mock` (`http://127.0.0.1:PORT`).
fn deck_file(mock: &str) -> String {
    format!(
        r#"_format_version: "3.0"
services:
  - name: ai-e2e
    url: http://127.0.0.1:9/
    routes:
      - name: failover-500
        paths: [/failover/500]
        plugins:
          - name: ai-proxy-advanced
            config:
              balancer:
                algorithm: priority
                failover_criteria: [error, timeout, http_500, non_idempotent]
              targets:
                - route_type: llm/v1/chat
                  weight: 100
                  logging: {{log_statistics: true}}
                  model: {{provider: openai, name: primary, options: {{upstream_url: "{mock}/status/500/v1/chat/completions"}}}}
                - route_type: llm/v1/chat
                  weight: 10
                  logging: {{log_statistics: true}}
                  model: {{provider: openai, name: backup, options: {{upstream_url: "{mock}/v1/chat/completions"}}}}
      - name: failover-timeout
        paths: [/failover/timeout]
        plugins:
          - name: ai-proxy-advanced
            config:
              balancer:
                algorithm: priority
                read_timeout: 500
                failover_criteria: [timeout, non_idempotent]
              targets:
                - route_type: llm/v1/chat
                  weight: 100
                  model: {{provider: openai, name: primary, options: {{upstream_url: "{mock}/delay/5000/v1/chat/completions"}}}}
                - route_type: llm/v1/chat
                  weight: 10
                  model: {{provider: openai, name: backup, options: {{upstream_url: "{mock}/v1/chat/completions"}}}}
      - name: sdk-chat
        paths: [/sdk/chat/completions]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/chat
              logging: {{log_statistics: true}}
              auth: {{header_name: Authorization, header_value: "Bearer sk-gateway"}}
              model: {{provider: openai, name: gpt-4o-mini, options: {{upstream_url: "{mock}/v1/chat/completions", input_cost: 1.0, output_cost: 2.0}}}}
      - name: sdk-embeddings
        paths: [/sdk/embeddings]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/embeddings
              logging: {{log_statistics: true}}
              auth: {{header_name: Authorization, header_value: "Bearer sk-gateway"}}
              model: {{provider: openai, name: text-embedding-3-small, options: {{upstream_url: "{mock}/v1/embeddings"}}}}
      - name: sdk-completions
        paths: [/sdk/completions]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/completions
              logging: {{log_statistics: true}}
              auth: {{header_name: Authorization, header_value: "Bearer sk-gateway"}}
              model: {{provider: openai, name: gpt-3.5-turbo-instruct, options: {{upstream_url: "{mock}/v1/completions"}}}}
      - name: sdk-alias
        paths: [/alias/chat/completions]
        plugins:
          - name: ai-proxy-advanced
            config:
              targets:
                - route_type: llm/v1/chat
                  logging: {{log_statistics: true}}
                  model: {{provider: openai, name: gpt-4o, model_alias: "@openai/gpt-4o", options: {{upstream_url: "{mock}/v1/chat/completions"}}}}
                - route_type: llm/v1/chat
                  logging: {{log_statistics: true}}
                  model: {{provider: openai, name: gpt-4o-mini, model_alias: "@openai/small", options: {{upstream_url: "{mock}/v1/chat/completions"}}}}
      - name: sdk-responses
        paths: [/sdk/responses]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/responses
              logging: {{log_statistics: true}}
              auth: {{header_name: Authorization, header_value: "Bearer sk-gateway"}}
              model: {{provider: openai, name: gpt-4o, options: {{upstream_url: "{mock}/v1/responses"}}}}
plugins:
  - name: prometheus
    config:
      ai_metrics: true
"#
    )
}

async fn gateway(label: &str) -> Gateway {
    let gw = Gateway::start(label, 1).await;
    let path = gw.dir.path().join("ai-e2e.yaml");
    let mock = gw.mock.url("");
    std::fs::write(&path, deck_file(&mock)).unwrap();
    let out = gw.apply(&path).await;
    assert!(out.success, "apply failed:\n{}", out.describe());
    gw.dps[0]
        .wait_ready(&gw.client, SYNC_TIMEOUT)
        .await
        .unwrap();
    gw
}

fn chat_body() -> serde_json::Value {
    json!({"messages": [{"role": "user", "content": "hello"}]})
}

#[tokio::test]
async fn failover_when_a_target_answers_500_or_times_out() {
    let gw = gateway("ai-failover").await;
    let dp = &gw.dps[0];
    let headers = [("accept", "application/json")];

    let r = gw
        .client
        .post_json(&dp.proxy_url("/failover/500"), &headers, &chat_body())
        .await
        .unwrap();
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    assert_eq!(r.json().unwrap()["model"], "backup");
    assert_eq!(r.header("x-kong-llm-model"), Some("openai/backup"));
    let paths: Vec<String> = gw.mock.requests().iter().map(|q| q.path.clone()).collect();
    assert_eq!(
        paths,
        ["/status/500/v1/chat/completions", "/v1/chat/completions"]
    );

    let t = Instant::now();
    let r = gw
        .client
        .post_json(&dp.proxy_url("/failover/timeout"), &headers, &chat_body())
        .await
        .unwrap();
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    assert_eq!(r.json().unwrap()["model"], "backup");
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
}

#[tokio::test]
async fn mcp_items_are_counted_streamed_or_not() {
    let gw = gateway("ai-mcp").await;
    let dp = &gw.dps[0];
    let body = |stream: bool| {
        json!({"input": "use the tools", "stream": stream, "tools": [{
            "type": "mcp", "server_label": "gitmcp", "server_url": "https://example.invalid/mcp",
            "require_approval": "never", "allowed_tools": ["search_repositories", "fail_tool"]}]})
    };
    for stream in [false, true] {
        let r = gw
            .client
            .post_json(&dp.proxy_url("/sdk/responses"), &[], &body(stream))
            .await
            .unwrap();
        assert_eq!(r.status.as_u16(), 200, "{}", r.text());
        assert!(r.text().contains("mcp_call"), "{}", r.text());
    }
    let series = |tool: &str, kind: &str, status: &str| {
        format!("kong_ai_llm_mcp_calls_total{{ai_provider=\"openai\",ai_model=\"gpt-4o\",server_label=\"gitmcp\",tool=\"{tool}\",type=\"{kind}\",status=\"{status}\",workspace=\"default\"}} 2\n")
    };
    let want = [
        series("", "mcp_list_tools", "completed"),
        series("search_repositories", "mcp_call", "completed"),
        series("fail_tool", "mcp_call", "failed"),
    ];
    // The log phase runs when the body ends: poll briefly.
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let text = gw
            .client
            .get(&dp.status_url("/metrics"))
            .await
            .unwrap()
            .text();
        if want.iter().all(|w| text.contains(w.as_str())) || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for w in &want {
        assert!(text.contains(w.as_str()), "missing {w}\n{text}");
    }
    assert!(
        text.contains(
            "kong_ai_llm_ttft_latency_ms_count{ai_provider=\"openai\",ai_model=\"gpt-4o\""
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "kong_ai_llm_tpot_latency_ms_count{ai_provider=\"openai\",ai_model=\"gpt-4o\""
        ),
        "{text}"
    );

    // A real Prometheus scrapes the new families.
    let prom = Prometheus::start(&gw.dir, &[dp.status]).await.unwrap();
    let exprs = [
        (
            "sum(kong_ai_llm_mcp_calls_total{type=\"mcp_call\",status=\"failed\"})",
            2.0,
        ),
        (
            "sum(kong_ai_llm_mcp_calls_total{server_label=\"gitmcp\"})",
            6.0,
        ),
        (
            "sum(kong_ai_llm_ttft_latency_ms_count{ai_model=\"gpt-4o\"})",
            2.0,
        ),
        (
            "sum(kong_ai_llm_tpot_latency_ms_count{ai_model=\"gpt-4o\"})",
            2.0,
        ),
    ];
    for (expr, want) in exprs {
        let r = wait::until(expr, Duration::from_secs(60), async || {
            let got = prom.scalar(expr).await?;
            anyhow::ensure!(got == Some(want), "got {got:?}, want {want}");
            Ok(Some(()))
        })
        .await;
        if let Err(e) = r {
            panic!("{e:#}\n{}", prom.diagnostics());
        }
    }
}

/// The Python interpreter with `openai` and `pytest` importable (tests/run installs them).
fn python() -> String {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import openai, pytest"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{python} cannot import openai and pytest: run tests/run, or `pip install openai pytest`"
    );
    python
}

#[tokio::test]
async fn official_openai_python_sdk() {
    let python = python();
    let gw = gateway("ai-python-sdk").await;
    let base = gw.dps[0].proxy_url("/sdk");
    let dir = e2e::binaries::repo_file("tests/python/test_openai_sdk.py");
    let out = tokio::process::Command::new(python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--junit-xml",
        ])
        .arg(gw.dir.path().join("pytest.xml"))
        .arg(&dir)
        .env("AI_GATEWAY_BASE_URL", &base)
        .env("AI_GATEWAY_ALIAS_URL", gw.dps[0].proxy_url("/alias"))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pytest failed ({:?}):\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    // All eight tests ran (none skipped: pytest exit code 5 or skips would hide a broken setup).
    let xml = std::fs::read_to_string(gw.dir.path().join("pytest.xml")).unwrap();
    assert!(xml.contains("tests=\"8\""), "{xml}");
    assert!(xml.contains("skipped=\"0\""), "{xml}");
}
