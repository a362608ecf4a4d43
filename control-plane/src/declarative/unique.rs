//! The last check of `apply`: no two entities share an id or a unique field (name, username,
//! key, SNI, vault prefix, …), and no two plugins share a scope (name + route + service +
//! consumer) or two targets an upstream and address.

use std::collections::{HashMap, HashSet};

use proto::schema::{Config, FieldError};
use serde_json::Value;
use uuid::Uuid;

/// Unique fields per kind; a tuple of fields is unique together.
fn unique_fields(kind: &str) -> &'static [&'static [&'static str]] {
    match kind {
        "services" | "routes" | "upstreams" | "snis" => &[&["name"]],
        "consumers" => &[&["username"], &["custom_id"]],
        "keyauth_credentials" | "jwt_secrets" => &[&["key"]],
        "basicauth_credentials" | "hmacauth_credentials" => &[&["username"]],
        "oauth2_credentials" => &[&["client_id"]],
        "vaults" => &[&["prefix"]],
        "targets" => &[&["upstream", "target"]],
        "acls" => &[&["consumer", "group"]],
        "plugins" => &[
            &["name", "route", "service", "consumer"],
            &["instance_name"],
        ],
        _ => &[],
    }
}

/// Reports each duplicate at the place of its second occurrence.
pub fn check(cfg: &Config, paths: &HashMap<Uuid, String>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen: HashSet<(String, String, String)> = HashSet::new();
    for e in cfg.to_entities() {
        let at = Uuid::parse_str(&e.id)
            .ok()
            .and_then(|id| paths.get(&id).cloned())
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&e.json).unwrap_or(Value::Null);
        let mut report = |field: String, value: String| {
            if !seen.insert((e.kind.clone(), field.clone(), value.clone())) {
                errs.push(FieldError::new(
                    at.clone(),
                    format!("uniqueness violation: '{}' entity with {field} set to '{value}' already declared", e.kind),
                ));
            }
        };
        report("id".into(), e.id.clone());
        for fields in unique_fields(&e.kind) {
            let values: Vec<Option<String>> = fields.iter().map(|f| text(&body[*f])).collect();
            // A single unset field is not a key (two consumers may both lack a custom_id).
            if fields.len() == 1 && values[0].is_none() {
                continue;
            }
            let value = values
                .iter()
                .map(|v| v.clone().unwrap_or_else(|| "null".into()))
                .collect::<Vec<_>>()
                .join(", ");
            report(fields.join(", "), value);
        }
    }
    errs
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => m.get("id").and_then(Value::as_str).map(str::to_string),
        other => Some(other.to_string()),
    }
}
