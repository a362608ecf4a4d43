//! Kong-shaped schema documents (`GET /schemas/{entity}`, `GET /schemas/plugins/{name}`), built
//! from the typed model itself: each entity or plugin is read from a minimal sample, and every
//! field of the result is listed with its type and default. decK fills defaults from these.

use serde_json::{json, Map, Value};

use super::error::from_value;
use super::plugins::PluginConfig;
use super::{Consumer, Route, Service, Upstream};

/// The schema of a plugin we ship, or None for an unknown plugin.
pub fn plugin(name: &str) -> Option<Value> {
    let (sample, required): (Value, &[&str]) = match name {
        "key-auth" | "prometheus" | "correlation-id" | "cors" | "request-transformer" => {
            (json!({}), &[])
        }
        "file-log" => (json!({"path": "/tmp/file.log"}), &["path"]),
        "http-log" => (
            json!({"http_endpoint": "http://example.com/log"}),
            &["http_endpoint"],
        ),
        "rate-limiting" => (json!({"minute": 1}), &[]),
        "ai-proxy" => (
            json!({"route_type": "llm/v1/chat", "model": {"provider": "openai"}}),
            &["route_type", "model"],
        ),
        "ai-proxy-advanced" => (
            json!({"targets": [{"route_type": "llm/v1/chat", "model": {"provider": "openai"}}]}),
            &["targets"],
        ),
        _ => return None,
    };
    let mut cfg = PluginConfig::parse(name, &sample).ok()?.to_value();
    if name == "rate-limiting" {
        cfg["minute"] = Value::Null; // the sample's limit, not a default
    }
    let mut config = record(&cfg, required);
    // Array-of-record fields: describe their elements from the sample's first element.
    if let (Some(fields), Some(first)) = (config["fields"].as_array_mut(), cfg["targets"].get(0)) {
        for f in fields.iter_mut() {
            if let Some(t) = f.get_mut("targets") {
                *t = json!({"type": "array", "required": true, "elements": record(first, &["route_type", "model"])});
            }
        }
    }
    Some(json!({
        "fields": [
            {"id": {"type": "string", "uuid": true, "auto": true}},
            {"name": {"type": "string", "required": true}},
            {"instance_name": {"type": "string"}},
            {"protocols": {"type": "set", "elements": {"type": "string"}, "default": ["grpc", "grpcs", "http", "https"]}},
            {"enabled": {"type": "boolean", "default": true}},
            {"service": {"type": "foreign", "reference": "services"}},
            {"route": {"type": "foreign", "reference": "routes"}},
            {"consumer": {"type": "foreign", "reference": "consumers"}},
            {"tags": {"type": "set", "elements": {"type": "string"}}},
            {"config": config},
        ]
    }))
}

/// The schema of an entity collection, or None for one we do not know.
pub fn entity(name: &str) -> Option<Value> {
    let id = json!("00000000-0000-0000-0000-000000000000");
    let (sample, required): (Value, &[&str]) = match name {
        "services" => (
            serde_json::to_value(from_value::<Service>(&json!({"id": id, "host": "h"})).ok()?)
                .ok()?,
            &["host"],
        ),
        "routes" => (
            serde_json::to_value(from_value::<Route>(&json!({"id": id})).ok()?).ok()?,
            &[],
        ),
        "consumers" => (
            serde_json::to_value(from_value::<Consumer>(&json!({"id": id})).ok()?).ok()?,
            &[],
        ),
        "upstreams" => {
            let mut u = from_value::<Upstream>(&json!({"id": id, "name": "u"})).ok()?;
            u.normalize_and_validate();
            (serde_json::to_value(u).ok()?, &["name"])
        }
        "targets" => (
            json!({"id": id, "upstream": null, "target": null, "weight": 100, "failover": false, "tags": null}),
            &["upstream", "target"],
        ),
        _ => return None,
    };
    Some(record(&sample, required))
}

/// A record schema for `value`'s fields; `required` names the fields without defaults.
fn record(value: &Value, required: &[&str]) -> Value {
    let mut fields = Vec::new();
    if let Some(map) = value.as_object() {
        for (k, v) in map {
            let mut f = field(k, v);
            if required.contains(&k.as_str()) {
                if let Some(m) = f.as_object_mut() {
                    m.remove("default");
                    m.insert("required".into(), json!(true));
                }
            }
            let mut entry = Map::new();
            entry.insert(k.clone(), f);
            fields.push(Value::Object(entry));
        }
    }
    json!({"type": "record", "fields": fields})
}

fn field(name: &str, v: &Value) -> Value {
    match v {
        Value::Object(_) => record(v, &[]),
        Value::Array(_) => json!({"type": "array", "default": v}),
        Value::Bool(_) => json!({"type": "boolean", "default": v}),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"type": "integer", "default": v}),
        Value::Number(_) => json!({"type": "number", "default": v}),
        Value::String(_) if name == "id" => json!({"type": "string", "uuid": true, "auto": true}),
        Value::String(_) => json!({"type": "string", "default": v}),
        // No default: the type is what such fields are in Kong (optional strings, mostly).
        Value::Null if name.ends_with("_at") => {
            json!({"type": "integer", "timestamp": true, "auto": true})
        }
        Value::Null => json!({"type": "string"}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(fields: &'a Value, name: &str) -> &'a Value {
        fields["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|f| f.get(name))
            .unwrap()
    }

    #[test]
    fn plugin_schema_lists_config_defaults() {
        let s = plugin("key-auth").unwrap();
        let config = s["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|f| f.get("config"))
            .unwrap();
        assert_eq!(find(config, "key_names")["default"], json!(["apikey"]));
        assert_eq!(find(config, "hide_credentials")["default"], json!(false));
        assert!(plugin("nope").is_none());
    }

    #[test]
    fn ai_proxy_advanced_schema_describes_targets() {
        let s = plugin("ai-proxy-advanced").unwrap();
        let config = s["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|f| f.get("config"))
            .unwrap();
        let targets = find(config, "targets");
        assert_eq!(targets["required"], true);
        assert_eq!(find(&targets["elements"], "weight")["default"], 100);
        assert_eq!(find(find(config, "balancer"), "retries")["default"], 5);
    }

    #[test]
    fn entity_schemas_carry_kong_defaults() {
        let s = entity("services").unwrap();
        assert_eq!(find(&s, "retries")["default"], 5);
        assert_eq!(find(&s, "protocol")["default"], "http");
        assert_eq!(find(&s, "host")["required"], true);
        assert_eq!(
            find(&entity("routes").unwrap(), "https_redirect_status_code")["default"],
            426
        );
    }
}
