//! The AI plugin configs against Kong's generated 3.15 schemas
//! (`../shared/corpus/kong-plugin-schemas-3.15/{AiProxy,AiProxyAdvanced,AiMcpProxy}.json`):
//! every field Kong knows is read (none is an "unknown field"), and every default Kong
//! declares is the default the control plane fills in.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::{Path, PathBuf};

use proto::schema::plugins::ai::RouteType;
use proto::schema::plugins::PluginConfig;
use serde_json::{json, Map, Value};

fn schema(file: &str) -> Value {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/kong-plugin-schemas-3.15")
        .join(file);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let v: Value = serde_json::from_str(&text).unwrap();
    v["properties"]["config"].clone()
}

/// A value for every property of `s`: its default, else a value of its type. Enumerations
/// take `pick`'s value for the field when it has one (the ones this gateway serves), else
/// their first value.
fn sample(s: &Value, name: &str, pick: &dyn Fn(&str) -> Option<Value>) -> Value {
    if let Some(v) = pick(name) {
        return v;
    }
    if let Some(d) = s.get("default") {
        return d.clone();
    }
    if let Some(e) = s["enum"].as_array() {
        return e[0].clone();
    }
    match s["type"].as_str() {
        Some("object") => match s["properties"].as_object() {
            Some(props) => Value::Object(
                props
                    .iter()
                    .map(|(k, v)| (k.clone(), sample(v, k, pick)))
                    .collect::<Map<_, _>>(),
            ),
            None => json!({}),
        },
        Some("array") => json!([sample(&s["items"], name, pick)]),
        Some("integer") => s.get("minimum").cloned().unwrap_or(json!(1)),
        Some("number") => s.get("minimum").cloned().unwrap_or(json!(1.5)),
        Some("boolean") => json!(false),
        _ if name.ends_with("_url") => json!("https://llm.example.com/v1/x"),
        _ => json!("x"),
    }
}

/// Every field of the 3.15 schema set at once must be read without "unknown field".
fn all_fields_are_known(plugin: &str, file: &str, pick: &dyn Fn(&str) -> Option<Value>) {
    let full = sample(&schema(file), "config", pick);
    if let Err(errs) = PluginConfig::parse(plugin, &full) {
        let unknown: Vec<String> = errs
            .iter()
            .filter(|e| {
                e.message.contains("unknown field") || e.message.contains("unknown variant")
            })
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect();
        assert!(unknown.is_empty(), "{plugin}: {unknown:#?}");
    }
}

fn pick_served(name: &str) -> Option<Value> {
    match name {
        "route_type" => Some(json!("llm/v1/chat")),
        "provider" => Some(json!("openai")),
        "mode" => Some(json!("passthrough-listener")),
        _ => None,
    }
}

#[test]
fn every_3_15_field_is_known() {
    all_fields_are_known("ai-proxy", "AiProxy.json", &pick_served);
    all_fields_are_known("ai-proxy-advanced", "AiProxyAdvanced.json", &pick_served);
    all_fields_are_known("ai-mcp-proxy", "AiMcpProxy.json", &pick_served);
}

/// `(path, default)` of every property with a default; `[]` stands for an array's items.
fn defaults(s: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    if let Some(d) = s.get("default") {
        out.push((path.to_string(), d.clone()));
    }
    if let Some(props) = s["properties"].as_object() {
        for (k, v) in props {
            defaults(v, &format!("{path}.{k}"), out);
        }
    }
    if s["type"] == "array" {
        defaults(&s["items"], &format!("{path}[]"), out);
    }
}

/// The value at `path` (`config.a.b[].c`, `[]` = first item) of `v`, `config` being `v`.
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for part in path.split('.').skip(1) {
        let (key, items) = match part.strip_suffix("[]") {
            Some(k) => (k, true),
            None => (part, false),
        };
        cur = cur.get(key)?;
        if items {
            cur = cur.get(0)?;
        }
    }
    Some(cur)
}

/// Records of features this gateway does not serve (semantic routing, MCP listener sessions
/// in Redis, MCP ACLs): Kong's defaults inside them are not filled in.
const OPAQUE: &[&str] = &[
    "config.embeddings",
    "config.vectordb",
    "config.server.session.redis",
    "config.default_acl[]",
];

fn defaults_match(plugin: &str, file: &str, minimal: Value, min_checked: usize) {
    let cfg = PluginConfig::parse(plugin, &minimal)
        .unwrap_or_else(|e| panic!("{plugin}: {e:?}"))
        .to_value();
    let mut want = Vec::new();
    defaults(&schema(file), "config", &mut want);
    assert!(!want.is_empty(), "{plugin}: no defaults in {file}");
    let mut checked = 0;
    for (path, default) in want {
        if OPAQUE.iter().any(|o| path.starts_with(&format!("{o}."))) {
            continue;
        }
        let got = at(&cfg, &path);
        assert_eq!(got, Some(&default), "{plugin}: {path} in {cfg:#}");
        checked += 1;
    }
    assert!(
        checked >= min_checked,
        "{plugin}: only {checked} defaults checked"
    );
}

#[test]
fn defaults_are_kongs() {
    let model = json!({"provider": "openai", "name": "gpt-4o"});
    defaults_match(
        "ai-proxy",
        "AiProxy.json",
        json!({"route_type": "llm/v1/chat", "auth": {}, "model": {"provider": "openai",
               "name": "gpt-4o", "options": {"bedrock": {}, "cohere": {}, "dashscope": {}}}}),
        14,
    );
    defaults_match(
        "ai-proxy-advanced",
        "AiProxyAdvanced.json",
        json!({"targets": [{"route_type": "llm/v1/chat", "auth": {}, "model": {"provider": "openai",
               "name": "gpt-4o", "options": {"bedrock": {}, "cohere": {}, "dashscope": {}}}}]}),
        23,
    );
    defaults_match(
        "ai-mcp-proxy",
        "AiMcpProxy.json",
        json!({"mode": "passthrough-listener", "server": {}}),
        11,
    );
    // Without `auth` and `options` the top-level defaults are there all the same.
    let c = PluginConfig::parse(
        "ai-proxy",
        &json!({"route_type": "llm/v1/chat", "model": model}),
    )
    .unwrap()
    .to_value();
    assert_eq!(c["max_request_body_size"], 1_048_576);
}

#[test]
fn route_types_kong_has_but_we_do_not_serve_are_named() {
    for t in RouteType::ALL {
        assert_eq!(RouteType::parse(t.as_str()), Ok(*t));
    }
    let cfg =
        |rt: &str| json!({"route_type": rt, "model": {"provider": "openai", "name": "gpt-4o"}});
    let errs = PluginConfig::parse("ai-proxy", &cfg("llm/v1/files")).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].path, "config.route_type");
    assert_eq!(
        errs[0].message,
        "route_type 'llm/v1/files' is not supported by this gateway yet (supported: \
         llm/v1/chat, llm/v1/completions, llm/v1/embeddings, llm/v1/responses, preserve)"
    );
    let errs = PluginConfig::parse("ai-proxy", &cfg("llm/v2/chat")).unwrap_err();
    assert_eq!(errs[0].path, "config.route_type");
    assert!(
        errs[0]
            .message
            .starts_with("expected one of: audio/v1/audio/speech, "),
        "{errs:?}"
    );
    // Every value of Kong's enum is either served or refused by name.
    let s = schema("AiProxy.json");
    for v in s["properties"]["route_type"]["enum"].as_array().unwrap() {
        let v = v.as_str().unwrap();
        match RouteType::parse(v) {
            Ok(t) => assert_eq!(t.as_str(), v),
            Err(m) => assert!(
                m.contains("is not supported by this gateway yet"),
                "{v}: {m}"
            ),
        }
    }
}

/// The string enums of Kong's schema at the top of `config` and in `balancer`: a value outside
/// Kong's list is refused, naming the field.
#[test]
fn values_outside_kongs_enums_are_refused_by_name() {
    let cases: [(&str, &str, Value); 2] = [
        (
            "ai-proxy",
            "AiProxy.json",
            json!({"route_type": "llm/v1/chat", "model": {"provider": "openai", "name": "m"}}),
        ),
        (
            "ai-proxy-advanced",
            "AiProxyAdvanced.json",
            json!({"targets": [{"route_type": "llm/v1/chat",
                                "model": {"provider": "openai", "name": "m"}}]}),
        ),
    ];
    let mut checked = 0;
    for (plugin, file, minimal) in cases {
        let s = schema(file);
        let mut fields: Vec<(Vec<&str>, &Value)> = Vec::new();
        for (k, v) in s["properties"].as_object().unwrap() {
            fields.push((vec![k.as_str()], v));
        }
        if let Some(b) = s["properties"]["balancer"]["properties"].as_object() {
            for (k, v) in b {
                fields.push((vec!["balancer", k.as_str()], v));
            }
        }
        for (path, prop) in fields {
            if prop["type"] != "string" || prop.get("enum").is_none() || path == ["route_type"] {
                continue;
            }
            let mut cfg = minimal.clone();
            let mut at = &mut cfg;
            for p in &path[..path.len() - 1] {
                at = at
                    .as_object_mut()
                    .unwrap()
                    .entry(p.to_string())
                    .or_insert(json!({}));
            }
            at[path[path.len() - 1]] = json!("not-a-kong-value");
            let errs = PluginConfig::parse(plugin, &cfg)
                .err()
                .unwrap_or_else(|| panic!("{plugin}: {path:?} accepted a bad value"));
            let want = format!("config.{}", path.join("."));
            assert!(
                errs.iter().any(|e| e.path == want),
                "{plugin}: {want} not named in {errs:?}"
            );
            checked += 1;
        }
    }
    // llm_format, response_streaming, genai_category (×2), algorithm, latency_strategy,
    // tokens_count_strategy.
    assert!(checked >= 7, "{checked}");
}

/// Kong features a config may name that this gateway does not have are refused by name,
/// never ignored.
#[test]
fn features_not_served_are_refused_by_name() {
    let cases = [
        (
            json!({"provider": "gemini", "name": "g"}),
            json!({"gcp_use_service_account": true}),
            "config.auth.gcp_use_service_account",
        ),
        (
            json!({"provider": "azure", "name": "a", "options": {"azure_instance": "i", "azure_deployment_id": "d"}}),
            json!({"azure_use_managed_identity": true}),
            "config.auth.azure_use_managed_identity",
        ),
        (
            json!({"provider": "bedrock", "name": "b", "options": {"bedrock": {"aws_region": "us-east-1",
                   "aws_assume_role_arn": "arn:aws:iam::1:role/x"}}}),
            json!({}),
            "config.model.options.bedrock.aws_assume_role_arn",
        ),
        (
            json!({"provider": "openai", "name": "$(uri_captures.model)"}),
            json!({}),
            "config.model.name",
        ),
    ];
    for (model, auth, path) in cases {
        let cfg = json!({"route_type": "llm/v1/chat", "model": model, "auth": auth});
        let errs = PluginConfig::parse("ai-proxy", &cfg).unwrap_err();
        assert!(
            errs.iter()
                .any(|e| e.path == path
                    && e.message.ends_with("is not supported by this gateway yet")),
            "{path}: {errs:?}"
        );
    }
    // Header and query templates are served (resolved per request by the DP).
    let cfg = json!({"route_type": "llm/v1/chat", "model": {"provider": "azure",
        "name": "$(headers.x-model)", "options": {"azure_instance": "i",
        "azure_deployment_id": "$(query_params.deployment)"}}});
    assert!(PluginConfig::parse("ai-proxy", &cfg).is_ok());
}
