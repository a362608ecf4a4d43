//! Kong's `flattened_errors` (`POST /config?flatten_errors=1`): the errors of a declarative
//! document grouped per entity, with the entity's type, id, name, tags and body, so a tool can
//! point at each offending entity without walking the nested `fields` tree.

use std::collections::BTreeMap;

use proto::schema::FieldError;
use serde_json::{json, Value};

/// Collections whose items are entities, and their singular type names.
const TYPES: &[(&str, &str)] = &[
    ("services", "service"),
    ("routes", "route"),
    ("consumers", "consumer"),
    ("plugins", "plugin"),
    ("keyauth_credentials", "keyauth_credential"),
    ("basicauth_credentials", "basicauth_credential"),
    ("hmacauth_credentials", "hmacauth_credential"),
    ("jwt_secrets", "jwt_secret"),
    ("acls", "acl"),
    ("oauth2_credentials", "oauth2_credential"),
    ("mtls_auth_credentials", "mtls_auth_credential"),
    ("upstreams", "upstream"),
    ("targets", "target"),
    ("certificates", "certificate"),
    ("snis", "sni"),
    ("ca_certificates", "ca_certificate"),
    ("vaults", "vault"),
];

/// Groups `errs` by the entity each is about, looked up in `doc`.
pub fn flatten(doc: &Value, errs: &[FieldError]) -> Value {
    let mut groups: BTreeMap<String, (String, Vec<Value>)> = BTreeMap::new();
    for e in errs {
        let (entity_path, entity_type, field) = split(&e.path);
        let entry = groups
            .entry(entity_path)
            .or_insert_with(|| (entity_type, Vec::new()));
        entry
            .1
            .push(if field.is_empty() || field.ends_with("@entity") {
                json!({"type": "entity", "message": e.message})
            } else {
                json!({"type": "field", "field": kong_field(&field), "message": e.message})
            });
    }
    let items: Vec<Value> = groups
        .into_iter()
        .map(|(path, (entity_type, errors))| {
            let entity = lookup(doc, &path).cloned().unwrap_or(Value::Null);
            json!({
                "entity_type": entity_type,
                "entity_path": path,
                "entity_id": entity.get("id").cloned().unwrap_or(Value::Null),
                "entity_name": entity.get("name").or(entity.get("username")).cloned().unwrap_or(Value::Null),
                "entity_tags": entity.get("tags").cloned().unwrap_or(Value::Null),
                "entity": entity,
                "errors": errors,
            })
        })
        .collect();
    Value::Array(items)
}

/// `services[0].routes[1].paths[0]` → (`services[0].routes[1]`, `route`, `paths[0]`).
fn split(path: &str) -> (String, String, String) {
    let parts: Vec<&str> = path.split('.').collect();
    let mut last_entity = None;
    for (i, p) in parts.iter().enumerate() {
        let name = p.split('[').next().unwrap_or("");
        if p.contains('[') && TYPES.iter().any(|(c, _)| *c == name) {
            last_entity = Some((i, name));
        }
    }
    match last_entity {
        Some((i, name)) => {
            let ty = TYPES
                .iter()
                .find(|(c, _)| *c == name)
                .map_or("", |(_, t)| *t);
            (
                parts[..=i].join("."),
                ty.to_string(),
                parts[i + 1..].join("."),
            )
        }
        None => (String::new(), String::new(), path.to_string()),
    }
}

/// A field path as Kong's `flatten_errors` joins it: keys and array positions with dots,
/// positions counted from 1 as in Lua (`paths[0]` → `paths.1`, `config.targets[1].weight` →
/// `config.targets.2.weight`).
pub(super) fn kong_field(field: &str) -> String {
    let mut out = String::with_capacity(field.len() + 2);
    let mut rest = field;
    while let Some((before, after)) = rest.split_once('[') {
        out.push_str(before);
        let Some((inside, tail)) = after.split_once(']') else {
            out.push('[');
            rest = after;
            continue;
        };
        match inside.parse::<usize>() {
            Ok(i) => out.push_str(&format!(".{}", i + 1)),
            Err(_) => {
                out.push('.');
                out.push_str(inside);
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = doc;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, index) = match part.split_once('[') {
            Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        node = node.get(key)?;
        if let Some(i) = index {
            node = node.get(i)?;
        }
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_group_per_entity_with_its_details() {
        let doc = json!({"services": [{"name": "s", "routes": [{"name": "r", "paths": ["x"], "tags": ["t"]}]}]});
        let errs = [
            FieldError::new("services[0].routes[0].paths[0]", "should start with: /"),
            FieldError::new("services[0].routes[0].@entity", "must set one of"),
            FieldError::new("_format_version", "expected one of: 3.0"),
        ];
        let flat = flatten(&doc, &errs);
        let route = flat
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["entity_type"] == "route")
            .unwrap();
        assert_eq!(route["entity_name"], "r");
        assert_eq!(route["entity_tags"], json!(["t"]));
        assert_eq!(
            route["errors"][0],
            json!({"type": "field", "field": "paths.1", "message": "should start with: /"})
        );
        assert_eq!(route["errors"][1]["type"], "entity");
        assert!(flat
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["entity_type"] == "" && e["errors"][0]["field"] == "_format_version"));
    }

    #[test]
    fn field_paths_count_array_positions_from_one_like_kong() {
        assert_eq!(kong_field("tags[2]"), "tags.3");
        assert_eq!(
            kong_field("config.targets[0].weight"),
            "config.targets.1.weight"
        );
        assert_eq!(kong_field("headers.x-version[1]"), "headers.x-version.2");
        assert_eq!(kong_field("name"), "name");
    }
}
