//! `request-transformer` config (Kong 3.15 schema): headers, querystring and body changes, in
//! Kong's order remove → rename → replace → add → append, plus `http_method` and `replace.uri`.

pub mod template;

use serde::{Deserialize, Serialize};

use crate::schema::error::FieldError;

pub const PRIORITY: i32 = 801;

/// Names (`remove`) or `name:value` pairs (the others), per part of the request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parts {
    #[serde(default)]
    pub body: Vec<String>,
    #[serde(default)]
    pub headers: Vec<String>,
    #[serde(default)]
    pub querystring: Vec<String>,
}

/// `replace` also carries `uri`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceParts {
    #[serde(default)]
    pub body: Vec<String>,
    #[serde(default)]
    pub headers: Vec<String>,
    #[serde(default)]
    pub querystring: Vec<String>,
    #[serde(default)]
    pub uri: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestTransformerConfig {
    #[serde(default)]
    pub http_method: Option<String>,
    #[serde(default)]
    pub remove: Parts,
    #[serde(default)]
    pub rename: Parts,
    #[serde(default)]
    pub replace: ReplaceParts,
    #[serde(default)]
    pub add: Parts,
    #[serde(default)]
    pub append: Parts,
}

/// Splits Kong's `name:value` (the first colon separates; the value may hold more).
pub fn split_pair(s: &str) -> Option<(&str, &str)> {
    let (name, value) = s.split_once(':')?;
    (!name.is_empty() && !value.is_empty()).then_some((name, value))
}

/// A value's template error in Kong's words ("value '…' is not in supported format, error:…").
fn template_error(value: &str) -> Option<String> {
    if !template::is_templated(value) {
        return None;
    }
    template::parse(value)
        .err()
        .map(|e| format!("value '{value}' is not in supported format, error:{e}"))
}

fn check_pairs(errs: &mut Vec<FieldError>, path: &str, entries: &[String], need_value: bool) {
    for (i, e) in entries.iter().enumerate() {
        let at = format!("{path}[{i}]");
        if !need_value {
            if e.is_empty() {
                errs.push(FieldError::new(at, "length must be at least 1"));
            }
            continue;
        }
        match split_pair(e) {
            None => {
                let name = e.split(':').next().unwrap_or("");
                errs.push(FieldError::new(at, format!("key '{name}' has no value")));
            }
            Some((_, v)) => {
                if let Some(msg) = template_error(v) {
                    errs.push(FieldError::new(at, msg));
                }
            }
        }
    }
}

impl RequestTransformerConfig {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if let Some(m) = &self.http_method {
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
                errs.push(FieldError::new(
                    "http_method",
                    format!("invalid value: {m}"),
                ));
            }
        }
        for (name, p, need_value) in [
            ("remove", &self.remove, false),
            ("rename", &self.rename, true),
            ("add", &self.add, true),
            ("append", &self.append, true),
        ] {
            check_pairs(&mut errs, &format!("{name}.body"), &p.body, need_value);
            check_pairs(
                &mut errs,
                &format!("{name}.headers"),
                &p.headers,
                need_value,
            );
            check_pairs(
                &mut errs,
                &format!("{name}.querystring"),
                &p.querystring,
                need_value,
            );
        }
        let r = &self.replace;
        check_pairs(&mut errs, "replace.body", &r.body, true);
        check_pairs(&mut errs, "replace.headers", &r.headers, true);
        check_pairs(&mut errs, "replace.querystring", &r.querystring, true);
        if let Some(msg) = r.uri.as_deref().and_then(template_error) {
            errs.push(FieldError::new("replace.uri", msg));
        }
        errs
    }

    /// Whether any body change is configured.
    pub fn touches_body(&self) -> bool {
        !(self.remove.body.is_empty()
            && self.rename.body.is_empty()
            && self.replace.body.is_empty()
            && self.add.body.is_empty()
            && self.append.body.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::error::from_value;
    use serde_json::json;

    fn errors(v: serde_json::Value) -> Vec<String> {
        let c: RequestTransformerConfig = from_value(&v).unwrap();
        c.validate()
            .into_iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect()
    }

    #[test]
    fn defaults_are_empty_lists() {
        let c: RequestTransformerConfig = from_value(&json!({})).unwrap();
        assert!(c.validate().is_empty());
        assert!(c.add.headers.is_empty() && c.replace.uri.is_none() && !c.touches_body());
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["append"]["querystring"], json!([]));
        assert_eq!(v["http_method"], serde_json::Value::Null);
    }

    #[test]
    fn kong_messages_and_templates() {
        assert_eq!(
            errors(json!({"add": {"headers": ["x-a"]}})),
            vec!["add.headers[0]: key 'x-a' has no value"]
        );
        assert_eq!(
            errors(json!({"http_method": "get"})),
            vec!["http_method: invalid value: get"]
        );
        // Templates: the supported lookups pass, a malformed one is refused in Kong's words.
        assert!(errors(
            json!({"replace": {"headers": ["x:$(headers.y)"], "uri": "/$(uri_captures[1])"},
            "add": {"querystring": ["q:$(query_params.q or 'd')"]}})
        )
        .is_empty());
        assert_eq!(
            errors(json!({"add": {"querystring": ["uri_param2:$(uri_captures user2)"]}})),
            vec![
                "add.querystring[0]: value '$(uri_captures user2)' is not in supported format, \
                  error:'uri_captures user2' must read one field of headers, query_params or \
                  uri_captures (supported: headers.<name>, headers[\"<name>\"], \
                  query_params.<name>, uri_captures.<name>, uri_captures[<n>], '<text>' and 'or')"
            ]
        );
        let e = errors(json!({"replace": {"uri": "/$(10 * uri_captures.a)"}}));
        assert!(e[0].starts_with("replace.uri: value '/$(10 * uri_captures.a)' is not in supported format, error:unexpected '*'"), "{e:?}");
        assert!(
            errors(json!({"add": {"headers": ["x-a:b:c"]}, "remove": {"body": ["k"]}})).is_empty()
        );
        assert_eq!(split_pair("a:b:c"), Some(("a", "b:c")));
    }

    #[test]
    fn schema_document_lists_the_fields() {
        let doc = crate::schema::describe::plugin("request-transformer").unwrap();
        let text = doc.to_string();
        assert!(text.contains("\"http_method\""), "{text}");
    }
}
