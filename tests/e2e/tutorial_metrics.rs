//! The tutorial's Prometheus step: a real server scraping both DPs' status ports must report the
//! AI request counts per model, the HTTP counts per status code and the upstream's tokens.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use e2e::prometheus::{Prometheus, Sample};
use e2e::wait;

use crate::fixture::{Gateway, MODELS};

const SCRAPE_TIMEOUT: Duration = Duration::from_secs(60);

/// Both DPs' `/metrics`, for failure messages.
async fn metrics_text(gw: &Gateway) -> String {
    let mut out = String::new();
    for dp in &gw.dps {
        let text = match gw.client.get(&dp.status_url("/metrics")).await {
            Ok(r) => r.text(),
            Err(e) => format!("{e:#}"),
        };
        out.push_str(&format!("--- {} /metrics ---\n{text}\n", dp.status));
    }
    out
}

/// Waits until `expr` has the single value `want`.
async fn wait_value(gw: &Gateway, prom: &Prometheus, expr: &str, want: f64) {
    let what = format!("`{expr}` == {want}");
    let result = wait::until(&what, SCRAPE_TIMEOUT, async || {
        let got = prom.scalar(expr).await?;
        anyhow::ensure!(got == Some(want), "got {got:?}");
        Ok(Some(()))
    })
    .await;
    if let Err(e) = result {
        panic!("{e:#}\n{}\n{}", metrics_text(gw).await, prom.diagnostics());
    }
}

fn sum_by(samples: &[Sample], label: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for s in samples {
        *out.entry(s.label(label).to_string()).or_default() += s.value;
    }
    out
}

pub async fn assert_prometheus_counts(
    gw: &Gateway,
    per_model: &BTreeMap<String, u64>,
    total_tokens: u64,
) {
    let targets: Vec<_> = gw.dps.iter().map(|dp| dp.status).collect();
    let prom = Prometheus::start(&gw.dir, &targets).await.unwrap();
    let successes: u64 = per_model.values().sum();

    wait_value(
        gw,
        &prom,
        r#"sum(kong_ai_llm_requests_total{ai_provider="openai"})"#,
        successes as f64,
    )
    .await;
    let series = prom
        .query(r#"kong_ai_llm_requests_total{ai_provider="openai"}"#)
        .await
        .unwrap();
    for s in &series {
        assert!(MODELS.contains(&s.label("ai_model")), "series {s:?}");
        assert_eq!(s.label("workspace"), "default", "series {s:?}");
        assert_eq!(s.label("job"), "kong", "series {s:?}");
    }
    let by_model = sum_by(&series, "ai_model");
    let expected: BTreeMap<String, f64> = per_model
        .iter()
        .map(|(m, n)| (m.clone(), *n as f64))
        .collect();
    assert_eq!(by_model, expected, "per-model counts; series {series:?}");
    let instances: BTreeSet<String> = series
        .iter()
        .map(|s| s.label("instance").to_string())
        .collect();
    let want: BTreeSet<String> = targets.iter().map(|t| t.to_string()).collect();
    assert_eq!(
        instances, want,
        "the counts must come from both data planes"
    );

    wait_value(
        gw,
        &prom,
        r#"sum(kong_http_requests_total{code="200"})"#,
        successes as f64,
    )
    .await;
    let by_code = sum_by(
        &prom
            .query("sum by (code) (kong_http_requests_total)")
            .await
            .unwrap(),
        "code",
    );
    assert!(
        by_code.get("401").copied().unwrap_or(0.0) >= 2.0,
        "{by_code:?}"
    );
    assert!(
        by_code.get("400").copied().unwrap_or(0.0) >= 1.0,
        "{by_code:?}"
    );
    let ok = prom
        .query(r#"kong_http_requests_total{code="200"}"#)
        .await
        .unwrap();
    for s in &ok {
        assert_eq!(s.label("service"), "example-clean-service", "series {s:?}");
        assert_eq!(s.label("route"), "example-clean-route", "series {s:?}");
        assert_eq!(s.label("workspace"), "default", "series {s:?}");
    }

    // The upstream's usage, counted once per request.
    wait_value(
        gw,
        &prom,
        r#"sum(kong_ai_llm_tokens_total{ai_provider="openai",token_type="total_tokens"})"#,
        total_tokens as f64,
    )
    .await;
}
