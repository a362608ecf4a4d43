//! In-process end-to-end: a tiny hyper upstream standing in for OpenAI and a plain service, the
//! proxy on port 0 with the tutorial's config, and assertions on responses and `/metrics`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use data_plane::{runtime, status, State};
use http_body_util::BodyExt;
use serde_json::{json, Value};

use common::{client, entity, header, json_body, listen, respond, send, start_proxy};

async fn upstream() -> SocketAddr {
    listen(|req| async move {
        let path = req.uri().path().to_string();
        let auth = header(&req, "authorization").unwrap_or_default();
        let rid = req.headers().contains_key("x-kong-request-id");
        let v = json_body(req.into_body()).await;
        if v["stream"] == json!(true) {
            let sse = format!(
                "event: response.created\ndata: {{\"type\":\"response.created\"}}\n\nevent: response.completed\ndata: {{\"type\":\"response.completed\",\"response\":{{\"model\":\"{}\",\"usage\":{{\"input_tokens\":4,\"output_tokens\":6,\"total_tokens\":10}}}}}}\n\n",
                v["model"].as_str().unwrap_or("")
            );
            respond(200, "text/event-stream", sse)
        } else {
            let out = json!({
                "path": path, "auth": auth, "request_id": rid, "echo": v,
                "model": v["model"],
                "usage": {"input_tokens": 3, "output_tokens": 5, "total_tokens": 8}
            });
            respond(200, "application/json", out.to_string())
        }
    })
    .await
}

async fn gateway(up: SocketAddr) -> (SocketAddr, Arc<State>) {
    let target = |name: &str| {
        json!({
            "model": {"name": name, "provider": "openai",
                      "options": {"max_tokens": 512, "temperature": 1.0,
                                  "upstream_url": format!("http://{up}/v1/responses")}},
            "route_type": "llm/v1/responses",
            "logging": {"log_payloads": true, "log_statistics": true},
            "auth": {"header_name": "Authorization", "header_value": "Bearer sk-test"},
            "weight": 50
        })
    };
    let svc = "00000000-0000-0000-0000-000000000001";
    let ai_svc = "00000000-0000-0000-0000-000000000002";
    let ents = vec![
        entity(
            "services",
            json!({"id": svc, "name": "plain", "host": "127.0.0.1", "port": up.port(), "path": "/base"}),
        ),
        entity(
            "services",
            json!({"id": ai_svc, "name": "example-clean-service", "host": "httpbin.invalid"}),
        ),
        entity(
            "services",
            json!({"id": "00000000-0000-0000-0000-000000000003", "name": "dead", "host": "127.0.0.1", "port": 1}),
        ),
        entity(
            "routes",
            json!({"id": "10000000-0000-0000-0000-000000000001", "name": "plain-route", "paths": ["/plain"], "service": {"id": svc}}),
        ),
        entity(
            "routes",
            json!({"id": "10000000-0000-0000-0000-000000000002", "name": "example-clean-route", "paths": ["/anything"], "service": {"id": ai_svc}}),
        ),
        entity(
            "routes",
            json!({"id": "10000000-0000-0000-0000-000000000003", "name": "dead-route", "paths": ["/dead"], "service": {"id": "00000000-0000-0000-0000-000000000003"}}),
        ),
        entity(
            "routes",
            json!({"id": "10000000-0000-0000-0000-000000000004", "name": "secure", "paths": ["/secure"], "service": {"id": svc}}),
        ),
        entity(
            "consumers",
            json!({"id": "30000000-0000-0000-0000-000000000001", "username": "alice"}),
        ),
        entity(
            "keyauth_credentials",
            json!({"id": "40000000-0000-0000-0000-000000000001", "key": "secret", "consumer": {"id": "30000000-0000-0000-0000-000000000001"}}),
        ),
        entity(
            "plugins",
            json!({"id": "20000000-0000-0000-0000-000000000001", "name": "ai-proxy-advanced",
            "config": {"balancer": {"algorithm": "round-robin"}, "targets": [target("gpt-4"), target("gpt-4o")]}}),
        ),
        entity(
            "plugins",
            json!({"id": "20000000-0000-0000-0000-000000000002", "name": "prometheus", "config": {"status_code_metrics": true}}),
        ),
        entity(
            "plugins",
            json!({"id": "20000000-0000-0000-0000-000000000003", "name": "key-auth",
            "route": {"id": "10000000-0000-0000-0000-000000000004"}, "config": {}}),
        ),
    ];
    let cfg = proto::schema::Config::from_entities(&ents).unwrap();
    let state = Arc::new(State::new("test-node".into()).unwrap());
    // The AI plugin is global here; scope it to the AI route like the tutorial's single route.
    let mut cfg = cfg;
    for p in cfg
        .plugins
        .iter_mut()
        .filter(|p| p.name == "ai-proxy-advanced")
    {
        p.route = Some(proto::schema::ForeignKey {
            id: "10000000-0000-0000-0000-000000000002".parse().unwrap(),
        });
    }
    let rt = runtime::compile(&cfg, 1, "0123456789abcdef0123456789abcdef").unwrap();
    state.runtime.store(Arc::new(rt));
    (start_proxy(state.clone()).await, state)
}

fn metrics(state: &State) -> String {
    state.metrics.render()
}

#[tokio::test]
async fn tutorial_path_end_to_end() {
    let up = upstream().await;
    let (gw, state) = gateway(up).await;
    let c = client();

    // Round-robin alternates models; options merged; auth header set; path from upstream_url.
    let mut models = Vec::new();
    for _ in 0..4 {
        let (s, h, b) = send(
            &c,
            "POST",
            format!("http://{gw}/anything"),
            &[("content-type", "application/json")],
            r#"{"input":"hello"}"#,
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let v: Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["path"], "/v1/responses");
        assert_eq!(v["auth"], "Bearer sk-test");
        assert_eq!(v["request_id"], true);
        assert_eq!(v["echo"]["max_output_tokens"], 512);
        assert_eq!(
            h["x-kong-llm-model"],
            format!("openai/{}", v["model"].as_str().unwrap()).as_str()
        );
        assert!(h.contains_key("x-kong-upstream-latency"));
        assert!(h["via"].to_str().unwrap().starts_with("1.1 kong/"));
        models.push(v["model"].as_str().unwrap().to_string());
    }
    assert_eq!(models, ["gpt-4", "gpt-4o", "gpt-4", "gpt-4o"]);

    // Streaming passes through and usage is read from response.completed.
    let (s, h, b) = send(
        &c,
        "POST",
        format!("http://{gw}/anything"),
        &[],
        r#"{"input":"x","stream":true}"#,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "text/event-stream");
    assert!(b.contains("response.completed"));

    // Own model → 400, counted as UNSPECIFIED.
    let (s, h, b) = send(
        &c,
        "POST",
        format!("http://{gw}/anything"),
        &[],
        r#"{"model":"gpt-3.5","input":"x"}"#,
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        b.starts_with(r#"{"error":{"message":"cannot use own model - must be: gpt-4"#),
        "{b}"
    );
    assert!(h.contains_key("x-kong-response-latency"));

    // No route → 404, not recorded.
    let (s, h, b) = send(&c, "GET", format!("http://{gw}/nothing-here"), &[], "").await;
    assert_eq!(s, 404);
    assert_eq!(b, r#"{"message":"no Route matched with those values"}"#);
    assert_eq!(h["content-type"], "application/json; charset=utf-8");

    // Dead upstream → 502.
    let (s, _, b) = send(&c, "GET", format!("http://{gw}/dead"), &[], "").await;
    assert_eq!(s, 502);
    assert!(b.contains("invalid response"));

    // Plain proxying with strip_path and service path.
    let (s, h, _) = send(&c, "GET", format!("http://{gw}/plain/x?q=1"), &[], "").await;
    assert_eq!(s, 200);
    assert!(h.contains_key("x-kong-proxy-latency"));

    // key-auth on /secure.
    let (s, h, _) = send(&c, "GET", format!("http://{gw}/secure"), &[], "").await;
    assert_eq!(s, 401);
    assert_eq!(h["www-authenticate"], "Key");
    let (s, _, _) = send(
        &c,
        "GET",
        format!("http://{gw}/secure"),
        &[("apikey", "secret")],
        "",
    )
    .await;
    assert_eq!(s, 200);

    // Give the log phase of the last bodies a moment (it runs when the body is dropped).
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let m = metrics(&state);
    let labels = |model: &str| {
        format!("ai_provider=\"openai\",ai_model=\"{model}\",cache_status=\"\",vector_db=\"\",embeddings_provider=\"\",embeddings_model=\"\",workspace=\"default\"")
    };
    assert!(
        m.contains(&format!(
            "kong_ai_llm_requests_total{{{}}} 3",
            labels("gpt-4")
        )),
        "{m}"
    );
    assert!(
        m.contains(&format!(
            "kong_ai_llm_requests_total{{{}}} 2",
            labels("gpt-4o")
        )),
        "{m}"
    );
    assert!(
        m.contains("kong_ai_llm_requests_total{ai_provider=\"UNSPECIFIED\",ai_model=\"gpt-3.5\""),
        "{m}"
    );
    // The streamed request (gpt-4, third pick) carried 10 total tokens, the others 8 each.
    assert!(
        m.contains("token_type=\"total_tokens\",workspace=\"default\"} 26"),
        "{m}"
    );
    assert!(m.contains("kong_http_requests_total{service=\"example-clean-service\",route=\"example-clean-route\",code=\"200\",source=\"service\",workspace=\"default\",consumer=\"\"} 5"), "{m}");
    assert!(m.contains("code=\"400\",source=\"kong\""));
    assert!(m.contains("route=\"dead-route\",code=\"502\",source=\"kong\""));
    assert!(m.contains("route=\"secure\",code=\"401\",source=\"kong\""));
    assert!(!m.contains("code=\"404\""));

    let r = status::route_parts(&state, &http::Method::GET, "/status");
    let b = r.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert!(v["server"]["total_requests"].as_u64().unwrap() >= 11);
}
