//! Second step of `apply`: rendered text → one JSON tree per file, with decK's top-level rules
//! checked (`_format_version`, known collections) before any entity is looked at.

use proto::schema::FieldError;
use serde_json::{Map, Value};

/// Collections this gateway stores. Others that decK knows are refused with a clear error
/// rather than silently dropped.
pub const COLLECTIONS: &[&str] = &[
    "services",
    "routes",
    "consumers",
    "keyauth_credentials",
    "basicauth_credentials",
    "hmacauth_credentials",
    "jwt_secrets",
    "acls",
    "oauth2_credentials",
    "mtls_auth_credentials",
    "plugins",
    "upstreams",
    "targets",
    "certificates",
    "snis",
    "ca_certificates",
    "vaults",
];

const NOT_YET: &[&str] = &[
    "consumer_groups",
    "rbac_roles",
    "licenses",
    "cloned_plugins",
    "custom_plugins",
    "service_packages",
    "degraphql_routes",
    "graphql_ratelimiting_cost_decorations",
    "ai_models",
    "partials",
    "keys",
    "key_sets",
    "filter_chains",
    "custom_entities",
];

const META: &[&str] = &[
    "_format_version",
    "_transform",
    "_info",
    "_workspace",
    "_konnect",
    "_comment",
    "_ignore",
    "_plugin_configs",
];

/// Parses YAML (or JSON, a subset of YAML) into a JSON tree. The error carries line and column.
pub fn parse(text: &str) -> Result<Value, FieldError> {
    if text.trim().is_empty() {
        return Err(FieldError::new(
            "",
            "empty file: expected a declarative configuration",
        ));
    }
    // JSON is YAML too, but a JSON reader is many times faster on large documents.
    if text.trim_start().starts_with('{') {
        if let Ok(v) = serde_json::from_str::<Value>(text) {
            return Ok(v);
        }
    }
    // Most decK files stay inside a subset a line-by-line reader handles many times faster;
    // anything else (and every error message) comes from serde_yaml.
    if let Some(v) = super::yaml_fast::parse(text) {
        return Ok(v);
    }
    serde_yaml::from_str::<Value>(text)
        .map_err(|e| FieldError::new("", format!("invalid YAML: {e}")))
}

/// Checks the document's top level and returns its map.
pub fn check_top_level(doc: &Value) -> Result<&Map<String, Value>, Vec<FieldError>> {
    let Some(map) = doc.as_object() else {
        return Err(vec![FieldError::new(
            "",
            "expected a map at the top level of the file",
        )]);
    };
    let mut errs = Vec::new();
    match map.get("_format_version") {
        None => errs.push(FieldError::new(
            "_format_version",
            "required field missing: set _format_version: \"3.0\"",
        )),
        Some(Value::String(v)) if v == "3.0" => {}
        Some(Value::String(v)) if v == "1.1" || v == "2.1" => errs.push(FieldError::new(
            "_format_version",
            format!("cannot apply '{v}' config format version to Kong version 3.0 or above; convert the file to \"3.0\""),
        )),
        Some(Value::String(_)) => {
            errs.push(FieldError::new("_format_version", "expected one of: 1.1, 2.1, 3.0"))
        }
        Some(_) => errs.push(FieldError::new(
            "_format_version",
            "expected a string (quote it: \"3.0\")",
        )),
    }
    if let Some(ws) = map.get("_workspace") {
        if ws.as_str() != Some("default") {
            errs.push(FieldError::new(
                "_workspace",
                "only the 'default' workspace is supported by this gateway",
            ));
        }
    }
    for (key, value) in map {
        let k = key.as_str();
        if META.contains(&k) {
            continue;
        }
        if COLLECTIONS.contains(&k) {
            if !value.is_array() && !value.is_null() {
                errs.push(FieldError::new(k, "expected an array"));
            }
        } else if NOT_YET.contains(&k) {
            if value.as_array().is_some_and(|a| !a.is_empty()) {
                errs.push(FieldError::new(
                    k,
                    format!("'{k}' entities are not supported by this gateway yet"),
                ));
            }
        } else {
            errs.push(FieldError::new(k, "unknown field"));
        }
    }
    if errs.is_empty() {
        Ok(map)
    } else {
        Err(errs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(text: &str) -> Result<(), Vec<FieldError>> {
        let doc = parse(text).map_err(|e| vec![e])?;
        check_top_level(&doc).map(|_| ())
    }

    #[test]
    fn format_version_rules() {
        assert!(top("_format_version: \"3.0\"\n").is_ok());
        let e = top("_format_version: \"4.0\"\n").unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "_format_version: expected one of: 1.1, 2.1, 3.0"
        );
        let e = top("_format_version: 3.0\n").unwrap_err();
        assert!(e[0].message.starts_with("expected a string"));
        let e = top("services: []\n").unwrap_err();
        assert_eq!(e[0].path, "_format_version");
    }

    #[test]
    fn unknown_and_unsupported_collections_are_named() {
        let e = top("_format_version: \"3.0\"\nservice: []\nconsumer_groups: [{name: a}]\n")
            .unwrap_err();
        let paths: Vec<_> = e.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["consumer_groups", "service"]);
    }

    #[test]
    fn bad_yaml_names_the_line() {
        let e = parse("a: [1, 2\nb: c").unwrap_err();
        assert!(e.message.contains("line"), "{}", e.message);
    }
}
