//! decK's `_info` block: `select_tags` (the file manages only entities carrying all of them),
//! `default_lookup_tags` (references may point at entities managed elsewhere, found on the CP
//! by these tags) and `defaults` (values for fields an entity leaves out).

use std::collections::HashMap;

use proto::schema::FieldError;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default)]
pub struct Info {
    pub select_tags: Vec<String>,
    /// Collection (`services`, `routes`, `consumers`, …) → tags.
    pub lookup_tags: HashMap<String, Vec<String>>,
    /// Singular kind (`service`, `route`, `upstream`, `target`) → default field values.
    pub defaults: HashMap<String, Map<String, Value>>,
}

impl Info {
    /// Reads `_info` from the first document that has one.
    pub fn read(docs: &[(String, &Map<String, Value>)]) -> Result<Info, Vec<FieldError>> {
        let Some(raw) = docs.iter().find_map(|(_, d)| d.get("_info")) else {
            return Ok(Info::default());
        };
        let Some(map) = raw.as_object() else {
            return Err(vec![FieldError::new("_info", "expected a map")]);
        };
        let mut info = Info::default();
        let mut errs = Vec::new();
        for (key, value) in map {
            let at = format!("_info.{key}");
            match key.as_str() {
                "select_tags" => match strings(value) {
                    Some(tags) => info.select_tags = tags,
                    None => errs.push(FieldError::new(at, "expected an array of strings")),
                },
                "default_lookup_tags" => match value.as_object() {
                    Some(m) => {
                        for (kind, tags) in m {
                            match strings(tags) {
                                Some(t) => {
                                    info.lookup_tags.insert(kind.clone(), t);
                                }
                                None => errs.push(FieldError::new(
                                    format!("{at}.{kind}"),
                                    "expected an array of strings",
                                )),
                            }
                        }
                    }
                    None => errs.push(FieldError::new(at, "expected a map")),
                },
                "defaults" => match value.as_object() {
                    Some(m) => {
                        for (kind, fields) in m {
                            let kat = format!("{at}.{kind}");
                            if !matches!(kind.as_str(), "service" | "route" | "upstream" | "target")
                            {
                                errs.push(FieldError::new(kat, "unknown field"));
                                continue;
                            }
                            let Some(fields) = fields.as_object() else {
                                errs.push(FieldError::new(kat, "expected a map"));
                                continue;
                            };
                            for forbidden in ["id", "name", "target"] {
                                if fields.contains_key(forbidden) {
                                    errs.push(FieldError::new(
                                        format!("{kat}.{forbidden}"),
                                        "cannot have a default value",
                                    ));
                                }
                            }
                            info.defaults.insert(kind.clone(), fields.clone());
                        }
                    }
                    None => errs.push(FieldError::new(at, "expected a map")),
                },
                "consumer_group_policy_overrides"
                | "skip_hash_for_basic_auth"
                | "include_plugin_definitions" => {
                    if !value.is_boolean() {
                        errs.push(FieldError::new(at, "expected a boolean"));
                    }
                }
                _ => errs.push(FieldError::new(at, "unknown field")),
            }
        }
        if errs.is_empty() {
            Ok(info)
        } else {
            Err(errs)
        }
    }

    /// Fills `body`'s missing fields from `_info.defaults` and adds the select tags.
    pub fn apply(&self, singular: &str, body: &mut Map<String, Value>) {
        if let Some(defaults) = self.defaults.get(singular) {
            for (k, v) in defaults {
                body.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        if self.select_tags.is_empty() {
            return;
        }
        let tags = body
            .entry("tags")
            .or_insert_with(|| Value::Array(Vec::new()));
        if tags.is_null() {
            *tags = Value::Array(Vec::new());
        }
        if let Value::Array(list) = tags {
            for t in &self.select_tags {
                if !list.iter().any(|v| v.as_str() == Some(t)) {
                    list.push(Value::String(t.clone()));
                }
            }
        }
    }
}

/// Whether an entity's JSON carries every tag in `tags`.
pub fn has_all_tags(entity: &Value, tags: &[String]) -> bool {
    let have: Vec<&str> = entity["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    tags.iter().all(|t| have.contains(&t.as_str()))
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_string))
        .collect()
}
