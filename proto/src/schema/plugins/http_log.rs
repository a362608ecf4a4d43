//! `http-log` config (Kong 3.15 schema): where each request's log entry is sent, and how
//! entries are queued and batched.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::file_log::refuse_lua;
use super::queue::QueueConfig;
use crate::schema::error::FieldError;

pub const PRIORITY: i32 = 12;

const METHODS: [&str; 3] = ["POST", "PUT", "PATCH"];
const CONTENT_TYPES: [&str; 2] = ["application/json", "application/json; charset=utf-8"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpLogConfig {
    pub http_endpoint: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default = "default_content_type")]
    pub content_type: String,
    /// Milliseconds.
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    /// Milliseconds an idle connection to the endpoint is kept.
    #[serde(default = "default_keepalive")]
    pub keepalive: f64,
    /// Deprecated (Kong 3.3): use `queue.max_retry_time`.
    #[serde(default)]
    pub retry_count: Option<i64>,
    /// Deprecated (Kong 3.3): use `queue.max_batch_size`.
    #[serde(default)]
    pub queue_size: Option<i64>,
    /// Deprecated (Kong 3.3): use `queue.max_coalescing_delay`.
    #[serde(default)]
    pub flush_timeout: Option<f64>,
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub queue: QueueConfig,
    #[serde(default)]
    pub custom_fields_by_lua: Option<BTreeMap<String, String>>,
    #[serde(default = "yes")]
    pub ssl_verify: bool,
    #[serde(default)]
    pub client_certificate: Option<serde_json::Value>,
}

impl HttpLogConfig {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if let Some(e) = url_error(&self.http_endpoint) {
            errs.push(FieldError::new("http_endpoint", e));
        }
        if !METHODS.contains(&self.method.as_str()) {
            errs.push(FieldError::new(
                "method",
                "expected one of: POST, PUT, PATCH",
            ));
        }
        if !CONTENT_TYPES.contains(&self.content_type.as_str()) {
            errs.push(FieldError::new(
                "content_type",
                "expected one of: application/json, application/json; charset=utf-8",
            ));
        }
        errs.extend(self.queue.validate());
        errs.extend(refuse_lua(self.custom_fields_by_lua.as_ref()));
        if self.client_certificate.is_some() {
            errs.push(FieldError::new(
                "client_certificate",
                "not supported: http-log sends no client certificate in this gateway",
            ));
        }
        errs
    }

    /// The queue settings in effect: Kong maps the deprecated `queue_size` and
    /// `flush_timeout` onto the queue when they are set.
    pub fn effective_queue(&self) -> QueueConfig {
        let mut q = self.queue.clone();
        if let Some(n) = self.queue_size.filter(|n| *n > 1) {
            q.max_batch_size = n;
        }
        if let Some(t) = self.flush_timeout {
            q.max_coalescing_delay = t;
        }
        q
    }
}

/// Kong's `typedefs.url` check: an absolute http(s) URL with a host.
fn url_error(s: &str) -> Option<&'static str> {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    let Some(rest) = rest.filter(|_| !s.contains(char::is_whitespace)) else {
        return Some("invalid url");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Some("missing host in url");
    }
    None
}

fn default_method() -> String {
    "POST".into()
}
fn default_content_type() -> String {
    "application/json".into()
}
fn default_timeout() -> f64 {
    10_000.0
}
fn default_keepalive() -> f64 {
    60_000.0
}
fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::error::from_value;
    use serde_json::json;

    fn errors(v: serde_json::Value) -> Vec<String> {
        match from_value::<HttpLogConfig>(&v) {
            Err(e) => vec![e.message],
            Ok(c) => c
                .validate()
                .into_iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect(),
        }
    }

    #[test]
    fn defaults_and_required_endpoint() {
        let c: HttpLogConfig =
            from_value(&json!({"http_endpoint": "http://127.0.0.1:9/x"})).unwrap();
        assert!(c.validate().is_empty());
        assert_eq!(c.method, "POST");
        assert_eq!(c.content_type, "application/json");
        assert_eq!(c.timeout, 10_000.0);
        assert_eq!(c.queue.max_batch_size, 1);
        assert_eq!(c.queue.max_entries, 10_000);
        assert!(errors(json!({}))[0].contains("http_endpoint"));
    }

    #[test]
    fn kong_messages() {
        assert_eq!(
            errors(json!({"http_endpoint": "nope"})),
            vec!["http_endpoint: invalid url"]
        );
        assert_eq!(
            errors(json!({"http_endpoint": "http://h/", "method": "GET"})),
            vec!["method: expected one of: POST, PUT, PATCH"]
        );
        assert_eq!(
            errors(json!({"http_endpoint": "http://h/", "queue": {"max_batch_size": 0}})),
            vec!["queue.max_batch_size: value should be between 1 and 1000000"]
        );
        let e = errors(
            json!({"http_endpoint": "http://h/", "custom_fields_by_lua": {"a": "return 1"}}),
        );
        assert!(
            e[0].starts_with("custom_fields_by_lua: not supported"),
            "{e:?}"
        );
    }

    #[test]
    fn deprecated_fields_feed_the_queue() {
        let c: HttpLogConfig =
            from_value(&json!({"http_endpoint": "http://h/", "queue_size": 5, "flush_timeout": 2}))
                .unwrap();
        let q = c.effective_queue();
        assert_eq!((q.max_batch_size, q.max_coalescing_delay), (5, 2.0));
    }

    #[test]
    fn schema_document_lists_the_fields() {
        let doc = crate::schema::describe::plugin("http-log").unwrap();
        let text = doc.to_string();
        assert!(text.contains("\"http_endpoint\""), "{text}");
    }
}
