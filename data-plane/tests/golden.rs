//! Golden tests of provider translation: each `golden/<case>.json` gives a target (provider,
//! route type, model, options, stream), the upstream URI, the client's OpenAI body and the
//! provider body it must become, a provider reply and the OpenAI reply it must become, and for
//! streams (`<case>.upstream.txt`, or `<case>.upstream.events.json` for AWS event streams) the
//! OpenAI chunks the raw provider stream must become.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};

use data_plane::llm::provider::Call;
use data_plane::llm::{endpoint, openai};
use proto::schema::plugins::ai::{Model, ModelOptions, RouteType};
use serde_json::{json, Value};

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| !p.to_string_lossy().ends_with(".upstream.events.json"))
        .collect();
    v.sort();
    v
}

/// Drops `created` (a clock value) everywhere.
fn scrub(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("created");
    }
    v
}

fn run(path: &Path) {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let model: Model = serde_json::from_value(json!({
        "provider": case["provider"], "name": case["model"], "options": case["options"]}))
    .unwrap();
    let route_type: RouteType = serde_json::from_value(case["route_type"].clone()).unwrap();
    let options = model.options.clone().unwrap_or_default();
    let model_name = case["model"].as_str().unwrap();
    let stream = case["stream"] == json!(true);
    let call = Call {
        provider: model.provider,
        route_type,
        model: model_name,
        options: &options,
        stream,
    };
    let uri = endpoint::uri(&call, "/client", None, None).unwrap();
    assert_eq!(
        uri.to_string(),
        case["uri"].as_str().unwrap(),
        "{name}: uri"
    );

    // Request: as the access phase does it — model set, options merged, then translated.
    let mut body = case["client"].as_object().unwrap().clone();
    body.insert("model".into(), json!(model_name));
    if stream {
        body.insert("stream".into(), json!(true));
    }
    openai::merge_options(&mut body, &options, route_type);
    let mut upstream = call.request_body(body).unwrap();
    let mut want = case["upstream_request"].clone();
    if !call.translates() {
        // OpenAI-format providers: the body passes through (stream flag aside).
        upstream.as_object_mut().unwrap().remove("stream");
        want.as_object_mut().unwrap().remove("stream");
    }
    assert_eq!(upstream, want, "{name}: upstream request");

    if let Some(reply) = case.get("upstream_response") {
        let out = call.response_body(reply).unwrap();
        assert_eq!(scrub(out), case["response"], "{name}: response");
    }

    if let Some(want) = case.get("stream_chunks") {
        let raw = upstream_stream(path);
        let mut t = call.translator().expect("a translated stream");
        let mut out = Vec::new();
        // Odd chunk sizes: events split anywhere must still come out whole.
        for piece in raw.chunks(7) {
            out.extend_from_slice(&t.feed(piece));
        }
        out.extend_from_slice(&t.finish());
        let text = String::from_utf8(out).unwrap();
        let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(
            events.last(),
            Some(&"data: [DONE]"),
            "{name}: ends with [DONE]"
        );
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|e| scrub(serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap()))
            .collect();
        assert_eq!(&Value::Array(chunks), want, "{name}: stream");
    }
}

/// The raw provider stream of a case: `<case>.upstream.txt`, or for AWS event streams
/// `<case>.upstream.events.json` (`[[event_type, payload], …]`) encoded here.
fn upstream_stream(path: &Path) -> Vec<u8> {
    let events = path.with_extension("upstream.events.json");
    if events.exists() {
        let list: Vec<(String, Value)> =
            serde_json::from_str(&std::fs::read_to_string(events).unwrap()).unwrap();
        return list
            .iter()
            .flat_map(|(t, p)| data_plane::llm::eventstream::encode(t, p))
            .collect();
    }
    std::fs::read(path.with_extension("upstream.txt")).unwrap()
}

#[test]
fn golden_cases() {
    let cases = cases();
    assert!(cases.len() >= 10, "golden cases missing: {cases:?}");
    for c in &cases {
        run(c);
    }
}

#[test]
fn errors_are_kong_shaped() {
    let options = Default::default();
    let call = Call {
        provider: proto::schema::plugins::ai::Provider::Gemini,
        route_type: RouteType::Chat,
        model: "gemini-2.5-flash",
        options: &options,
        stream: false,
    };
    let e = call.response_body(&json!({"candidates": []})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "no generation candidates received from Gemini, or max_tokens too short"
    );
    let e = call
        .request_body(json!({"model": "x"}).as_object().unwrap().clone())
        .unwrap_err();
    assert_eq!(e.status(), http::StatusCode::BAD_REQUEST);
}

/// Route types Kong has no transformer for: Kong's 400 message, per provider.
#[test]
fn unsupported_route_types_get_kongs_error() {
    let vertex: Model = serde_json::from_value(json!({"provider": "gemini", "options": {"gemini":
        {"api_endpoint": "x.googleapis.com", "project_id": "p", "location_id": "l"}}}))
    .unwrap();
    let vertex = vertex.options.unwrap();
    let plain = Default::default();
    let cases: &[(&str, &str, bool, &ModelOptions, &str)] = &[
        (
            "anthropic",
            "llm/v1/embeddings",
            false,
            &plain,
            "no transformer for anthropic://llm/v1/embeddings",
        ),
        (
            "anthropic",
            "llm/v1/responses",
            false,
            &plain,
            "no transformer for anthropic://llm/v1/responses",
        ),
        (
            "anthropic",
            "llm/v1/completions",
            true,
            &plain,
            "no transformer for anthropic://stream/llm/v1/completions",
        ),
        (
            "gemini",
            "llm/v1/completions",
            false,
            &plain,
            "no transformer for gemini://llm/v1/completions",
        ),
        (
            "gemini",
            "llm/v1/completions",
            true,
            &vertex,
            "no transformer for gemini://stream/llm/v1/completions",
        ),
        (
            "gemini",
            "llm/v1/responses",
            false,
            &plain,
            "no transformer for gemini://llm/v1/responses",
        ),
        (
            "cohere",
            "llm/v1/responses",
            false,
            &plain,
            "no transformer for cohere://llm/v1/responses",
        ),
        (
            "bedrock",
            "llm/v1/responses",
            false,
            &plain,
            "no transformer for bedrock://llm/v1/responses",
        ),
        (
            "mistral",
            "llm/v1/completions",
            false,
            &plain,
            "no transformer for mistral://llm/v1/completions",
        ),
        (
            "mistral",
            "llm/v1/responses",
            false,
            &plain,
            "no transformer for mistral://llm/v1/responses",
        ),
        (
            "ollama",
            "llm/v1/completions",
            false,
            &plain,
            "no transformer for ollama://llm/v1/completions",
        ),
        (
            "ollama",
            "llm/v1/responses",
            false,
            &plain,
            "no transformer for ollama://llm/v1/responses",
        ),
    ];
    for (provider, route_type, stream, options, want) in cases {
        let call = Call {
            provider: serde_json::from_value(json!(provider)).unwrap(),
            route_type: serde_json::from_value(json!(route_type)).unwrap(),
            model: "m",
            options,
            stream: *stream,
        };
        let e = call.format().unwrap_err();
        assert_eq!(e.to_string(), *want);
        assert_eq!(e.status(), http::StatusCode::BAD_REQUEST, "{want}");
    }
    // ... and what they do serve, per Kong's provider table.
    for (provider, route_type) in [
        ("openai", "llm/v1/responses"),
        ("azure", "llm/v1/responses"),
        ("anthropic", "llm/v1/completions"),
        ("cohere", "llm/v1/embeddings"),
        ("gemini", "llm/v1/embeddings"),
        ("bedrock", "llm/v1/embeddings"),
        ("mistral", "llm/v1/embeddings"),
        ("ollama", "llm/v1/embeddings"),
    ] {
        let call = Call {
            provider: serde_json::from_value(json!(provider)).unwrap(),
            route_type: serde_json::from_value(json!(route_type)).unwrap(),
            model: "m",
            options: &plain,
            stream: false,
        };
        assert!(call.format().is_ok(), "{provider} {route_type}");
    }
    // Raw llama2: chat and completions, never streamed, no embeddings (Kong's transformers).
    let raw: ModelOptions = serde_json::from_value(json!({"llama2_format": "raw"})).unwrap();
    for (route_type, stream, want) in [
        (
            "llm/v1/chat",
            true,
            Some("no transformer for llama2://stream/llm/v1/chat"),
        ),
        (
            "llm/v1/embeddings",
            false,
            Some("no transformer for llama2://llm/v1/embeddings"),
        ),
        ("llm/v1/chat", false, None),
        ("llm/v1/completions", false, None),
    ] {
        let call = Call {
            provider: proto::schema::plugins::ai::Provider::Llama2,
            route_type: serde_json::from_value(json!(route_type)).unwrap(),
            model: "m",
            options: &raw,
            stream,
        };
        match want {
            Some(want) => assert_eq!(call.format().unwrap_err().to_string(), want),
            None => assert!(call.format().is_ok(), "{route_type}"),
        }
    }
}
