//! Unit tests of the AI access phase: balancing, model rule, options, auth, limits.

use super::*;
use proto::schema::plugins::PluginConfig;
use serde_json::json;

fn tutorial_plugin() -> AiPlugin {
    let target = |name: &str| {
        json!({
            "model": {"name": name, "provider": "openai", "options": {"max_tokens": 512, "temperature": 1.0}},
            "route_type": "llm/v1/responses",
            "logging": {"log_payloads": true, "log_statistics": true},
            "auth": {"header_name": "Authorization", "header_value": "Bearer sk-test"},
            "weight": 50
        })
    };
    let cfg = PluginConfig::parse(
        "ai-proxy-advanced",
        &json!({"balancer": {"algorithm": "round-robin"}, "targets": [target("gpt-4"), target("gpt-4o")]}),
    )
    .unwrap();
    match cfg {
        PluginConfig::AiProxyAdvanced(c) => AiPlugin::from_advanced(Uuid::nil(), *c),
        other => panic!("unexpected {other:?}"),
    }
}

fn body_of(r: &AiRequest) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[test]
fn round_robin_alternates_models_and_sets_options() {
    let p = tutorial_plugin();
    let h = http::HeaderMap::new();
    let mut models = Vec::new();
    for _ in 0..4 {
        let r = p
            .prepare("/anything", None, &h, br#"{"input":"hi"}"#)
            .unwrap();
        let b = body_of(&r);
        assert_eq!(b["max_output_tokens"], json!(512));
        assert_eq!(r.uri.to_string(), "https://api.openai.com:443/v1/responses");
        assert_eq!(r.headers[0].1, "Bearer sk-test");
        models.push(b["model"].as_str().unwrap().to_string());
    }
    assert_eq!(models, ["gpt-4", "gpt-4o", "gpt-4", "gpt-4o"]);
}

#[test]
fn own_model_is_refused_with_unspecified_provider() {
    let p = tutorial_plugin();
    let e = p
        .prepare(
            "/",
            None,
            &http::HeaderMap::new(),
            br#"{"model":"gpt-3.5","input":"x"}"#,
        )
        .unwrap_err();
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        e.body(),
        r#"{"error":{"message":"cannot use own model - must be: gpt-4"}}"#
    );
    assert_eq!(e.analytics.provider, "UNSPECIFIED");
    assert_eq!(e.analytics.request_model, "gpt-3.5");
    assert!(e.analytics.log_statistics);
}

#[test]
fn bad_json_and_missing_model() {
    let p = tutorial_plugin();
    let e = p
        .prepare("/", None, &http::HeaderMap::new(), b"[1]")
        .unwrap_err();
    assert!(e.message.starts_with("content-type header does not match"));
    let cfg = PluginConfig::parse(
        "ai-proxy",
        &json!({"route_type": "llm/v1/chat", "model": {"provider": "openai"}, "response_streaming": "deny"}),
    )
    .unwrap();
    let PluginConfig::AiProxy(c) = cfg else {
        panic!()
    };
    let p = AiPlugin::from_ai_proxy(Uuid::nil(), *c);
    let e = p
        .prepare(
            "/",
            None,
            &http::HeaderMap::new(),
            br#"{"messages":[{"role":"user","content":"hi"}]}"#,
        )
        .unwrap_err();
    assert_eq!(
        e.message,
        "model parameter not found in request, nor in gateway configuration"
    );
    let e = p
        .prepare(
            "/",
            None,
            &http::HeaderMap::new(),
            br#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
        )
        .unwrap_err();
    assert_eq!(e.message, "response streaming is not enabled for this LLM");
    // Kong's prompt checks: no prompts, and a completions body on a chat route.
    let e = p
        .prepare("/", None, &http::HeaderMap::new(), br#"{"messages":[]}"#)
        .unwrap_err();
    assert_eq!(e.message, "request body doesn't contain valid prompts");
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    let e = p
        .prepare(
            "/",
            None,
            &http::HeaderMap::new(),
            br#"{"model":"m","prompt":"p"}"#,
        )
        .unwrap_err();
    assert_eq!(
        e.message,
        "[llm/v1/completions] message format is not compatible with [llm/v1/chat] route type"
    );
    let ok = p
        .prepare(
            "/",
            None,
            &http::HeaderMap::new(),
            br#"{"model":"mine","messages":[{"role":"user","content":"hi"}]}"#,
        )
        .unwrap();
    assert_eq!(ok.analytics.request_model, "mine");
    assert_eq!(ok.uri.path(), "/v1/chat/completions");
}

#[test]
fn upstream_url_used_as_is_with_client_query_and_query_auth() {
    let cfg = PluginConfig::parse(
        "ai-proxy",
        &json!({"route_type": "llm/v1/chat",
                "model": {"provider": "openai", "name": "gpt-4", "options": {"upstream_url": "http://127.0.0.1:9/v1/chat/completions"}},
                "auth": {"param_name": "key", "param_value": "s", "param_location": "query"}}),
    )
    .unwrap();
    let PluginConfig::AiProxy(c) = cfg else {
        panic!()
    };
    let p = AiPlugin::from_ai_proxy(Uuid::nil(), *c);
    let r = p
        .prepare(
            "/chat",
            Some("a=1"),
            &http::HeaderMap::new(),
            br#"{"messages":[{"role":"user","content":"hi"}]}"#,
        )
        .unwrap();
    assert_eq!(
        r.uri.to_string(),
        "http://127.0.0.1:9/v1/chat/completions?a=1&key=s"
    );
    assert_eq!(r.model_header.as_deref(), Some("openai/gpt-4"));
}

#[test]
fn body_size_limit() {
    let mut p = tutorial_plugin();
    p.max_request_body_size = 4;
    let e = p
        .prepare("/", None, &http::HeaderMap::new(), b"{\"a\":1}")
        .unwrap_err();
    assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[test]
fn model_alias_picks_its_target_and_failover_skips_tried() {
    let target = |name: &str, alias: &str| {
        json!({"route_type": "llm/v1/chat",
               "model": {"provider": "openai", "name": name, "model_alias": alias,
                         "options": {"upstream_url": "http://127.0.0.1:9/v1/chat/completions"}}})
    };
    let cfg = PluginConfig::parse(
        "ai-proxy-advanced",
        &json!({"targets": [target("gpt-4o-2024-08-06", "fast"), target("o3", "smart")],
                "balancer": {"retries": 1, "failover_criteria": ["http_500", "non_idempotent"]}}),
    )
    .unwrap();
    let PluginConfig::AiProxyAdvanced(c) = cfg else {
        panic!()
    };
    let p = AiPlugin::from_advanced(Uuid::nil(), *c);
    let h = http::HeaderMap::new();
    for _ in 0..3 {
        let r = p
            .prepare(
                "/",
                None,
                &h,
                br#"{"model":"smart","messages":[{"role":"user","content":"hi"}]}"#,
            )
            .unwrap();
        assert_eq!(body_of(&r)["model"], json!("o3"));
        assert_eq!(r.model_header.as_deref(), Some("openai/o3"));
    }
    // An unknown model is still the model rule's 400.
    let e = p
        .prepare(
            "/",
            None,
            &h,
            br#"{"model":"other","messages":[{"role":"user","content":"hi"}]}"#,
        )
        .unwrap_err();
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    // Fail-over: a 500 is retried once, on the other target, then no more.
    let first = p
        .prepare(
            "/",
            None,
            &h,
            br#"{"messages":[{"role":"user","content":"hi"}]}"#,
        )
        .unwrap();
    let f = p
        .observe(&first, Seen::Status(StatusCode::INTERNAL_SERVER_ERROR), 5.0)
        .unwrap();
    let second = p
        .retry(
            &first,
            f,
            &http::Method::POST,
            "/",
            None,
            &h,
            br#"{"messages":[{"role":"user","content":"hi"}]}"#,
        )
        .unwrap()
        .unwrap();
    assert_ne!(second.target, first.target);
    assert!(p
        .retry(
            &second,
            f,
            &http::Method::POST,
            "/",
            None,
            &h,
            br#"{"messages":[{"role":"user","content":"hi"}]}"#
        )
        .is_none());
    assert_eq!(p.observe(&second, Seen::Status(StatusCode::OK), 5.0), None);
}

#[test]
fn bedrock_requests_are_sigv4_signed() {
    let cfg = PluginConfig::parse(
        "ai-proxy",
        &json!({"route_type": "llm/v1/chat",
                "auth": {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret"},
                "model": {"provider": "bedrock", "name": "anthropic.claude-3-haiku-20240307-v1:0",
                          "options": {"bedrock": {"aws_region": "us-west-2"}}}}),
    )
    .unwrap();
    let PluginConfig::AiProxy(c) = cfg else {
        panic!()
    };
    let p = AiPlugin::from_ai_proxy(Uuid::nil(), *c);
    let r = p
        .prepare(
            "/",
            None,
            &http::HeaderMap::new(),
            br#"{"messages":[{"role":"user","content":"hi"}]}"#,
        )
        .unwrap();
    assert_eq!(
        r.uri.to_string(),
        "https://bedrock-runtime.us-west-2.amazonaws.com:443/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    );
    let h = |n: &str| {
        r.headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.to_str().unwrap().to_string())
            .unwrap()
    };
    let date = h("x-amz-date");
    assert_eq!(date.len(), 16);
    assert_eq!(
        h("x-amz-content-sha256"),
        crate::llm::sigv4::sha256_hex(&r.body)
    );
    let auth = h("authorization");
    assert!(
        auth.starts_with(&format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{}/us-west-2/bedrock/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="
        , &date[..8])),
        "{auth}"
    );
    assert_eq!(
        body_of(&r)["messages"][0]["content"][0]["text"],
        json!("hi")
    );
}

#[test]
fn garbage_from_a_translated_provider_is_kongs_500() {
    let cfg = PluginConfig::parse(
        "ai-proxy",
        &json!({"route_type": "llm/v1/chat",
                "model": {"provider": "anthropic", "name": "claude-x"}}),
    )
    .unwrap();
    let PluginConfig::AiProxy(c) = cfg else {
        panic!()
    };
    let p = AiPlugin::from_ai_proxy(Uuid::nil(), *c);
    let plan = p
        .prepare(
            "/",
            None,
            &http::HeaderMap::new(),
            br#"{"messages":[{"role":"user","content":"hi"}]}"#,
        )
        .unwrap();
    assert_eq!(
        plan.uri.to_string(),
        "https://api.anthropic.com:443/v1/messages"
    );
    assert!(plan
        .headers
        .iter()
        .any(|(k, v)| k == "anthropic-version" && v == "2023-06-01"));
    let e = p
        .response_body(&plan, bytes::Bytes::from_static(b"<html>oops"))
        .unwrap_err();
    assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        e.message,
        "transformation failed from type anthropic://llm/v1/chat: failed to decode anthropic response"
    );
    let e = p
        .response_body(&plan, bytes::Bytes::from_static(br#"{"type":"message"}"#))
        .unwrap_err();
    assert_eq!(
        e.message,
        "transformation failed from type anthropic://llm/v1/chat: 'content' not in anthropic llm/v1/chat response"
    );
    // OpenAI-format targets pass bodies through untouched, even garbage.
    let openai = tutorial_plugin();
    let plan = openai
        .prepare("/", None, &http::HeaderMap::new(), br#"{"input":"x"}"#)
        .unwrap();
    let raw = bytes::Bytes::from_static(b"not json");
    assert_eq!(openai.response_body(&plan, raw.clone()).unwrap(), raw);
}

#[test]
fn json_content_types_in_any_case() {
    for ct in [
        "application/json",
        "Application/JSON; charset=utf-8",
        "text/x-Json",
        "json",
    ] {
        assert!(super::mentions_json(ct.as_bytes()), "{ct}");
    }
    for ct in ["text/plain", "application/jso", "", "js on"] {
        assert!(!super::mentions_json(ct.as_bytes()), "{ct}");
    }
}
