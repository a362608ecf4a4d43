//! The decK files `deck file ai2kong` writes (`../shared/corpus/kong-deck-testdata/file_ai2kong/
//! */output.yaml`) through `control-plane validate`'s code path. Their AI plugin configs
//! (`ai-proxy-advanced` targets with `model_alias` and `{vault://…}` keys, `ai-mcp-proxy`
//! passthrough) are read as this gateway reads them; the files as a whole are refused only for
//! features listed below, each with the reason, never for an AI config we should accept.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use control_plane::declarative::{self, Source};
use proto::schema::plugins::PluginConfig;
use serde_json::Value;

/// Errors these files get, by message fragment, and why.
const NOT_SERVED: &[(&str, &str)] = &[
    (
        "'ai_models' entities are not supported",
        "the ai_models entity (and plugins scoped by `model`) is newer than Kong 3.15",
    ),
    (
        "unknown field `model`",
        "plugins scoped to an ai_model: newer than Kong 3.15",
    ),
    (
        "'consumer_groups' entities are not supported",
        "consumer groups are Kong Enterprise",
    ),
    (
        "consumer groups are not supported",
        "consumer-group membership is Kong Enterprise",
    ),
    (
        "not enabled; add it to the 'plugins' configuration property",
        "ai-model-selector, ai-a2a-proxy, ai-prompt-guard, acl, openid-connect and \
         request-termination are not shipped",
    ),
    (
        "mode 'conversion-listener' is not supported",
        "ai-mcp-proxy serves passthrough-listener only",
    ),
    (
        "tools (conversion modes) are not supported",
        "ai-mcp-proxy tools are for the conversion modes",
    ),
    (
        "MCP ACLs are not supported",
        "ai-mcp-proxy ACLs are not implemented",
    ),
    (
        "unknown field `proxy_config`",
        "not in Kong 3.15's ai-mcp-proxy schema",
    ),
    (
        "unknown field `tools_cache_ttl_seconds`",
        "not in Kong 3.15's ai-mcp-proxy schema (nor is mode 'upstream-server')",
    ),
];

fn outputs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/kong-deck-testdata/file_ai2kong");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path().join("output.yaml"))
        .filter(|p| p.exists())
        .collect();
    v.sort();
    v
}

/// Every plugin of a decK file, wherever it is nested: (name, config).
fn plugins(v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(o) => {
            if let (Some(Value::String(name)), Some(config)) = (o.get("name"), o.get("config")) {
                out.push((name.clone(), config.clone()));
            }
            o.values().for_each(|v| plugins(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| plugins(v, out)),
        _ => {}
    }
}

#[test]
fn ai_configs_of_ai2kong_files_are_accepted() {
    let files = outputs();
    assert_eq!(files.len(), 5, "{files:?}");
    let mut ai = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let doc: Value = serde_yaml::from_str(&text).unwrap();
        let mut found = Vec::new();
        plugins(&doc, &mut found);
        for (name, config) in found {
            let refused = |p: &Result<PluginConfig, _>| p.is_err();
            match name.as_str() {
                "ai-proxy" | "ai-proxy-advanced" => {
                    let p = PluginConfig::parse(&name, &config);
                    assert!(!refused(&p), "{}: {name}: {p:?}", path.display());
                    ai += 1;
                }
                // Passthrough without the conversion-mode extras (`tools`, ACLs) is served.
                "ai-mcp-proxy" if config["mode"] == "passthrough-listener" => {
                    let mut c = config.clone();
                    for k in ["tools", "proxy_config"] {
                        c.as_object_mut().unwrap().remove(k);
                    }
                    let p = PluginConfig::parse(&name, &c);
                    assert!(!refused(&p), "{}: {name}: {p:?}", path.display());
                    ai += 1;
                }
                _ => {}
            }
        }
    }
    // 01: two ai-proxy-advanced, 02 and 05: one each, 04: one passthrough listener.
    assert_eq!(ai, 5);
}

#[test]
fn ai2kong_files_fail_only_for_listed_reasons() {
    for path in outputs() {
        let text = std::fs::read_to_string(&path).unwrap();
        let label = path.display().to_string();
        let Err(e) = declarative::load(&[Source { label, text }], &HashMap::new()) else {
            // A file that validates is what we want; the list below would then shrink.
            continue;
        };
        for line in &e.errors {
            assert!(
                NOT_SERVED.iter().any(|(frag, _)| line.contains(frag)),
                "{}: unexpected error: {line}",
                path.display()
            );
        }
    }
}
