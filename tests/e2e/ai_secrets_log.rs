//! An AI provider key kept out of the control plane: the decK file names it
//! `{vault://env/…}`, the DP resolves it from its own environment, the upstream gets the real
//! key, the CP stores only the reference. The same requests (one streamed) are logged by
//! file-log with Kong's `ai.proxy` fields (meta, usage, cost, payload) and no secret at all;
//! Responses API replies with MCP items log them under `ai.proxy.mcp`, streamed or not.

use std::time::Duration;

use serde_json::{json, Value};

use e2e::cluster;

use crate::fixture::{Gateway, SYNC_TIMEOUT};

/// As in Kong, a reference is the whole value: the variable holds the header's full value.
const DP_KEY: &str = "sk-only-in-the-dp-environment";
const CLIENT_KEY: &str = "sk-client-secret-never-logged";

fn deck_file(mock: &str, log: &str, mcp_log: &str) -> String {
    format!(
        r#"_format_version: "3.0"
services:
  - name: ai-vault
    url: http://127.0.0.1:9/
    routes:
      - name: vault-chat
        paths: [/vault/chat]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/chat
              logging: {{log_statistics: true, log_payloads: true}}
              auth: {{header_name: Authorization, header_value: "{{vault://env/h6-e2e-openai-key}}"}}
              model: {{provider: openai, name: gpt-4o-mini, options: {{upstream_url: "{mock}/v1/chat/completions", input_cost: 10.0, output_cost: 20.0}}}}
          - name: file-log
            config: {{path: "{log}"}}
      - name: vault-responses
        paths: [/vault/responses]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/responses
              logging: {{log_statistics: true}}
              auth: {{header_name: Authorization, header_value: "{{vault://env/h6-e2e-openai-key}}"}}
              model: {{provider: openai, name: gpt-4o, options: {{upstream_url: "{mock}/v1/responses"}}}}
          - name: file-log
            config: {{path: "{mcp_log}"}}
plugins:
  - name: prometheus
    config: {{ai_metrics: true}}
"#
    )
}

/// The log lines of `path` once there are `n`.
async fn log_lines(path: &std::path::Path, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let lines: Vec<Value> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if lines.len() >= n {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} lines in {}", path.display());
}

#[tokio::test]
async fn vault_key_resolved_on_the_dp_and_ai_fields_logged_without_secrets() {
    let mut gw = Gateway::start("ai-secrets-log", 0).await;
    let dp = cluster::spawn_dp_env(
        &gw.dir,
        "data-plane-0",
        &[gw.cp.cluster],
        &[],
        &[("H6_E2E_OPENAI_KEY", &format!("Bearer {DP_KEY}"))],
    )
    .await
    .unwrap();
    gw.dps.push(dp);
    let log = gw.dir.path().join("ai.log");
    let mcp_log = gw.dir.path().join("ai-mcp.log");
    let file = gw.dir.path().join("ai-vault.yaml");
    let text = deck_file(
        &gw.mock.url(""),
        &log.display().to_string(),
        &mcp_log.display().to_string(),
    );
    std::fs::write(&file, text).unwrap();
    let out = gw.apply(&file).await;
    assert!(out.success, "apply failed:\n{}", out.describe());
    let dp = &gw.dps[0];
    dp.wait_ready(&gw.client, SYNC_TIMEOUT).await.unwrap();

    let auth = format!("Bearer {CLIENT_KEY}");
    let headers = [("authorization", auth.as_str())];
    let bodies = [
        json!({"messages": [{"role": "user", "content": "say hello please"}]}),
        json!({"messages": [{"role": "user", "content": "count to three"}], "stream": true}),
    ];
    for body in &bodies {
        let r = gw
            .client
            .post_json(&dp.proxy_url("/vault/chat"), &headers, body)
            .await
            .unwrap();
        assert_eq!(r.status.as_u16(), 200, "{}", r.text());
        assert_eq!(r.header("x-kong-llm-model"), Some("openai/gpt-4o-mini"));
    }

    // The upstream got the DP's key, never the client's.
    let seen = gw.mock.requests();
    assert_eq!(seen.len(), 2);
    for q in &seen {
        assert_eq!(
            q.header("authorization"),
            Some(format!("Bearer {DP_KEY}").as_str())
        );
    }
    // The CP keeps the reference only.
    let plugins = gw.cp.get_json(&gw.client, "/plugins").await.unwrap();
    let text = plugins.to_string();
    assert!(text.contains("{vault://env/h6-e2e-openai-key}"), "{text}");
    assert!(!text.contains(DP_KEY), "{text}");

    let lines = log_lines(&log, 2).await;
    let mut logged_cost = 0.0;
    for (line, body) in lines.iter().zip(&bodies) {
        let text = line.to_string();
        assert!(!text.contains(DP_KEY), "{text}");
        assert!(!text.contains(CLIENT_KEY), "{text}");
        assert_eq!(line["request"]["headers"]["authorization"], "REDACTED");
        let ai = &line["ai"]["proxy"];
        assert_eq!(ai["meta"]["provider_name"], "openai", "{text}");
        assert_eq!(ai["meta"]["request_model"], "gpt-4o-mini");
        assert!(ai["meta"]["response_model"]
            .as_str()
            .unwrap()
            .starts_with("gpt-4o-mini"));
        assert!(ai["meta"]["llm_latency"].as_f64().unwrap() >= 0.0);
        let u = &ai["usage"];
        let (p, c) = (
            u["prompt_tokens"].as_u64().unwrap(),
            u["completion_tokens"].as_u64().unwrap(),
        );
        assert!(p > 0 && c > 0, "{u}");
        assert_eq!(u["total_tokens"].as_u64(), Some(p + c));
        let cost = (p as f64 * 10.0 + c as f64 * 20.0) / 1e6;
        assert!((u["cost"].as_f64().unwrap() - cost).abs() < 1e-12, "{u}");
        logged_cost += cost;
        assert!(u["time_per_token"].as_f64().unwrap() >= 0.0);
        assert!(u["time_to_first_token"].as_f64().unwrap() >= 0.0);
        assert_eq!(ai["payload"]["request"], body.to_string());
        let response: Value =
            serde_json::from_str(ai["payload"]["response"].as_str().unwrap()).unwrap();
        assert_eq!(response["object"], "chat.completion", "{response}");
        assert!(response["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|s| !s.is_empty()));
    }

    // The cost counter adds up what the log entries say.
    let metrics = gw
        .client
        .get(&dp.status_url("/metrics"))
        .await
        .unwrap()
        .text();
    let labels = "ai_provider=\"openai\",ai_model=\"gpt-4o-mini\",cache_status=\"\",vector_db=\"\",embeddings_provider=\"\",embeddings_model=\"\",workspace=\"default\"";
    let counted = |metric: &str| {
        let prefix = format!("{metric}{{{labels}}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.parse::<f64>().ok())
    };
    let cost = counted("kong_ai_llm_cost_total").unwrap_or_else(|| panic!("{metrics}"));
    assert!((cost - logged_cost).abs() < 1e-9, "{cost} vs {logged_cost}");
    assert_eq!(
        counted("kong_ai_llm_requests_total"),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        counted("kong_ai_llm_provider_latency_ms_count"),
        Some(2.0),
        "{metrics}"
    );

    // MCP items of Responses API replies, streamed or not, in `ai.proxy.mcp`.
    for stream in [false, true] {
        let body = json!({"input": "use the tools", "stream": stream, "tools": [{
            "type": "mcp", "server_label": "gitmcp", "server_url": "https://example.invalid/mcp",
            "require_approval": "never", "allowed_tools": ["search_repositories", "fail_tool"]}]});
        let r = gw
            .client
            .post_json(&dp.proxy_url("/vault/responses"), &headers, &body)
            .await
            .unwrap();
        assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    }
    let lines = log_lines(&mcp_log, 2).await;
    for line in &lines {
        let mcp = &line["ai"]["proxy"]["mcp"];
        let seen: Vec<(String, String, String)> = mcp
            .as_array()
            .unwrap_or_else(|| panic!("no ai.proxy.mcp in {line}"))
            .iter()
            .map(|i| {
                let s = |k: &str| i[k].as_str().unwrap_or("").to_string();
                (s("type"), s("tool"), s("status"))
            })
            .collect();
        let want = [
            ("mcp_list_tools", "", "completed"),
            ("mcp_call", "search_repositories", "completed"),
            ("mcp_call", "fail_tool", "failed"),
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
        assert_eq!(seen, want, "{line}");
        assert!(!line.to_string().contains(DP_KEY));
    }
}
