//! The reference tutorial, replayed: two data planes, the example file, the 10-request loop with
//! its model alternation, Kong's 401 and 400 answers, and the counts a real Prometheus scrapes.

use std::collections::BTreeMap;
use std::time::Duration;

use e2e::wait;
use serde_json::Value;

use crate::fixture::{assert_kong_message, summary_count, Gateway, API_KEY, CONSUMER_KEY, MODELS};
use crate::tutorial_metrics as metrics;

/// Which data plane serves each of the loop's 10 requests: 6 on the first, 4 on the second, so
/// that strict per-DP alternation gives 5 of each model overall.
const PLAN: [usize; 10] = [0, 0, 1, 1, 0, 0, 1, 1, 0, 0];

/// Waits until the CP's `/clustering/data-planes` lists `n` data planes.
async fn wait_registered(gw: &Gateway, n: usize) -> Vec<Value> {
    wait::until(
        "the CP to list both data planes in /clustering/data-planes",
        Duration::from_secs(20),
        async || {
            let list = gw
                .cp
                .get_json(&gw.client, "/clustering/data-planes")
                .await?;
            let data = list["data"].as_array().cloned().unwrap_or_default();
            Ok((data.len() == n).then_some(data))
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_loop_alternates_models_and_prometheus_counts_it() {
    // Fail now, not after the traffic, when Prometheus is missing.
    e2e::prometheus::find_prometheus().unwrap();
    let gw = Gateway::start("tutorial", 2).await;
    assert_ne!(gw.dps[0].proxy, gw.dps[1].proxy);

    // Connected to the CP, but with no config yet: not ready.
    wait_registered(&gw, 2).await;
    for dp in &gw.dps {
        let ready = gw
            .client
            .get(&dp.status_url("/status/ready"))
            .await
            .unwrap();
        assert_eq!(
            ready.status,
            503,
            "ready before any config: {}",
            ready.text()
        );
    }

    let out = gw.apply_example().await;
    for line in [
        "creating service example-clean-service",
        "creating route example-clean-route",
        "Summary:",
    ] {
        assert!(
            out.stdout.contains(line),
            "no `{line}` in:\n{}",
            out.describe()
        );
    }
    let created = summary_count(&out.stdout, "Created");
    assert!(
        created >= Some(6),
        "Created: {created:?}\n{}",
        out.describe()
    );
    assert_eq!(
        summary_count(&out.stdout, "Updated"),
        Some(0),
        "{}",
        out.describe()
    );
    assert_eq!(
        summary_count(&out.stdout, "Deleted"),
        Some(0),
        "{}",
        out.describe()
    );

    // Both DPs run the same config, and the CP knows they do.
    let hash = gw.dps[0].config_hash(&gw.client).await.unwrap();
    assert_eq!(hash, gw.dps[1].config_hash(&gw.client).await.unwrap());
    assert!(
        !hash.is_empty() && hash.chars().any(|c| c != '0'),
        "hash {hash:?}"
    );
    wait::until(
        "the CP to see both DPs on the new hash",
        Duration::from_secs(20),
        async || {
            let list = gw
                .cp
                .get_json(&gw.client, "/clustering/data-planes")
                .await?;
            let data = list["data"].as_array().cloned().unwrap_or_default();
            Ok(data
                .iter()
                .all(|d| d["config_hash"] == hash.as_str())
                .then_some(()))
        },
    )
    .await
    .unwrap();

    // The tutorial's loop.
    let mut models = Vec::new();
    let mut per_dp: [Vec<String>; 2] = Default::default();
    for (i, &d) in PLAN.iter().enumerate() {
        let r = gw
            .tutorial_request(&gw.dps[d], Some(CONSUMER_KEY), None)
            .await;
        assert_eq!(r.status, 200, "request #{}: {}", i + 1, r.text());
        let body = r.json().unwrap();
        let model = body["model"].as_str().unwrap_or_default().to_string();
        assert!(
            MODELS.contains(&model.as_str()),
            "request #{}: model {model:?}",
            i + 1
        );
        let header = r.header("x-kong-llm-model");
        assert_eq!(
            header,
            Some(format!("openai/{model}").as_str()),
            "request #{}",
            i + 1
        );
        assert_eq!(
            body["output"][0]["type"], "mcp_list_tools",
            "the upstream's answer: {body}"
        );
        per_dp[d].push(model.clone());
        models.push(model);
    }
    for (d, seen) in per_dp.iter().enumerate() {
        assert!(
            seen.windows(2).all(|w| w[0] != w[1]),
            "round-robin on data-plane-{d} did not alternate: {seen:?}"
        );
    }
    let mut per_model: BTreeMap<String, u64> = BTreeMap::new();
    for m in &models {
        *per_model.entry(m.clone()).or_default() += 1;
    }
    assert_eq!(
        per_model.values().copied().collect::<Vec<_>>(),
        [5, 5],
        "{per_model:?}"
    );

    // What the upstream saw.
    let seen = gw.mock.requests();
    assert_eq!(seen.len(), 10, "upstream requests: {seen:#?}");
    for (req, model) in seen.iter().zip(&models) {
        assert_eq!(
            (req.method.as_str(), req.path.as_str()),
            ("POST", "/v1/responses")
        );
        assert_eq!(
            req.header("authorization"),
            Some(format!("Bearer {API_KEY}").as_str())
        );
        let body = req.json().unwrap();
        assert_eq!(body["model"], model.as_str(), "upstream body: {body}");
        assert_eq!(body["input"], "tools available with github mcp");
        assert_eq!(body["tools"][0]["type"], "mcp");
        assert_eq!(body["tools"][0]["server_label"], "gitmcp");
    }

    // Kong's refusals, which never reach the upstream.
    let r = gw.tutorial_request(&gw.dps[0], None, None).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_kong_message(&r, "No API key found in request");
    let r = gw
        .tutorial_request(&gw.dps[1], Some("not-the-key"), None)
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_kong_message(&r, "Unauthorized");
    let r = gw
        .tutorial_request(&gw.dps[0], Some(CONSUMER_KEY), Some("gpt-4.1"))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let body = r.json().unwrap();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        MODELS
            .iter()
            .any(|m| message == format!("cannot use own model - must be: {m}")),
        "400 body: {body}"
    );
    assert_eq!(
        gw.mock.requests().len(),
        10,
        "a refused request reached the upstream"
    );

    let total_tokens: u64 = seen.iter().filter_map(|r| r.total_tokens).sum();
    metrics::assert_prometheus_counts(&gw, &per_model, total_tokens).await;
}
