//! Every plugin we ship, by Kong name: its typed config (one module each), its priority, and the
//! dispatch from `(name, config JSON)` to a checked config with defaults filled.

pub mod ai;
pub mod ai_mcp_proxy;
pub mod ai_proxy;
pub mod ai_proxy_advanced;
pub mod correlation_id;
pub mod cors;
pub mod file_log;
pub mod http_log;
pub mod key_auth;
pub mod prometheus;
pub mod queue;
pub mod rate_limiting;
pub mod request_transformer;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::error::{from_value, FieldError};

/// Plugins this gateway runs, with Kong's handler priority (higher runs first) and version.
pub const AVAILABLE: &[(&str, i32)] = &[
    ("correlation-id", correlation_id::PRIORITY),
    ("cors", cors::PRIORITY),
    ("key-auth", key_auth::PRIORITY),
    ("rate-limiting", rate_limiting::PRIORITY),
    ("ai-proxy", ai_proxy::PRIORITY),
    ("ai-proxy-advanced", ai_proxy_advanced::PRIORITY),
    ("ai-mcp-proxy", ai_mcp_proxy::PRIORITY),
    ("prometheus", prometheus::PRIORITY),
    ("file-log", file_log::PRIORITY),
    ("http-log", http_log::PRIORITY),
    ("request-transformer", request_transformer::PRIORITY),
];

/// A plugin's config, checked and complete.
#[derive(Debug, Clone, PartialEq)]
pub enum PluginConfig {
    KeyAuth(key_auth::KeyAuthConfig),
    Prometheus(prometheus::PrometheusConfig),
    AiProxy(Box<ai_proxy::AiProxyConfig>),
    AiProxyAdvanced(Box<ai_proxy_advanced::AiProxyAdvancedConfig>),
    AiMcpProxy(Box<ai_mcp_proxy::AiMcpProxyConfig>),
    CorrelationId(correlation_id::CorrelationIdConfig),
    FileLog(file_log::FileLogConfig),
    HttpLog(Box<http_log::HttpLogConfig>),
    RequestTransformer(Box<request_transformer::RequestTransformerConfig>),
    Cors(cors::CorsConfig),
    RateLimiting(Box<rate_limiting::RateLimitingConfig>),
}

impl PluginConfig {
    /// Parses and checks `config` for plugin `name`. Errors are placed under `config` (or `name`
    /// for an unknown plugin), every one of them, not only the first.
    pub fn parse(name: &str, config: &Value) -> Result<Self, Vec<FieldError>> {
        // A null field means "the default", as in Kong's own dumps (`wasm_metrics: null`).
        let config = &without_nulls(config);
        let r = match name {
            "key-auth" => typed(config).map(Self::KeyAuth),
            "prometheus" => typed(config).map(Self::Prometheus),
            "ai-proxy" => typed(config).map(|c| Self::AiProxy(Box::new(c))),
            "ai-proxy-advanced" => typed(config).map(|c| Self::AiProxyAdvanced(Box::new(c))),
            "ai-mcp-proxy" => typed(config).map(|c| Self::AiMcpProxy(Box::new(c))),
            "correlation-id" => typed(config).map(Self::CorrelationId),
            "file-log" => typed(config).map(Self::FileLog),
            "http-log" => typed(config).map(|c| Self::HttpLog(Box::new(c))),
            "request-transformer" => typed(config).map(|c| Self::RequestTransformer(Box::new(c))),
            "cors" => typed(config).map(Self::Cors),
            "rate-limiting" => typed(config).map(|c: rate_limiting::RateLimitingConfig| {
                Self::RateLimiting(Box::new(c.with_shorthands()))
            }),
            other => {
                return Err(vec![FieldError::new(
                    "name",
                    format!(
                    "plugin '{other}' not enabled; add it to the 'plugins' configuration property"
                ),
                )])
            }
        };
        let cfg = r.map_err(|e| vec![e.under("config")])?;
        let errs = cfg.validate();
        if errs.is_empty() {
            Ok(cfg)
        } else {
            Err(errs.into_iter().map(|e| e.under("config")).collect())
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        match self {
            Self::KeyAuth(c) => c.validate(),
            Self::Prometheus(_) => Vec::new(),
            Self::AiProxy(c) => c.validate(),
            Self::AiProxyAdvanced(c) => c.validate(),
            Self::AiMcpProxy(c) => c.validate(),
            Self::CorrelationId(c) => c.validate(),
            Self::FileLog(c) => c.validate(),
            Self::HttpLog(c) => c.validate(),
            Self::RequestTransformer(c) => c.validate(),
            Self::Cors(c) => c.validate(),
            Self::RateLimiting(c) => c.validate(),
        }
    }

    /// The complete config as JSON, every default present (what the Admin API returns).
    pub fn to_value(&self) -> Value {
        let v = match self {
            Self::KeyAuth(c) => serde_json::to_value(c),
            Self::Prometheus(c) => serde_json::to_value(c),
            Self::AiProxy(c) => serde_json::to_value(c),
            Self::AiProxyAdvanced(c) => serde_json::to_value(c),
            Self::AiMcpProxy(c) => serde_json::to_value(c),
            Self::CorrelationId(c) => serde_json::to_value(c),
            Self::FileLog(c) => serde_json::to_value(c),
            Self::HttpLog(c) => serde_json::to_value(c),
            Self::RequestTransformer(c) => serde_json::to_value(c),
            Self::Cors(c) => serde_json::to_value(c),
            Self::RateLimiting(c) => serde_json::to_value(c),
        };
        v.unwrap_or(Value::Null)
    }

    /// Kong's `no_consumer` flag: authentication plugins (and cors) cannot be scoped to a
    /// consumer.
    pub fn allows_consumer_scope(&self) -> bool {
        !matches!(self, Self::KeyAuth(_) | Self::Cors(_))
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::KeyAuth(_) => "key-auth",
            Self::Prometheus(_) => "prometheus",
            Self::AiProxy(_) => "ai-proxy",
            Self::AiProxyAdvanced(_) => "ai-proxy-advanced",
            Self::AiMcpProxy(_) => "ai-mcp-proxy",
            Self::CorrelationId(_) => "correlation-id",
            Self::FileLog(_) => "file-log",
            Self::HttpLog(_) => "http-log",
            Self::RequestTransformer(_) => "request-transformer",
            Self::Cors(_) => "cors",
            Self::RateLimiting(_) => "rate-limiting",
        }
    }

    pub fn priority(&self) -> i32 {
        priority(self.name()).unwrap_or(0)
    }
}

fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Null => Value::Object(Default::default()),
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    (
                        k.clone(),
                        if v.is_object() {
                            without_nulls(v)
                        } else {
                            v.clone()
                        },
                    )
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Kong's handler priority of a plugin we ship.
pub fn priority(name: &str) -> Option<i32> {
    AVAILABLE.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}

fn typed<T: DeserializeOwned + Serialize>(v: &Value) -> Result<T, FieldError> {
    from_value(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_plugin_is_named() {
        let e = PluginConfig::parse("not-installed", &json!({})).unwrap_err();
        assert_eq!(e[0].path, "name");
        assert!(e[0].message.contains("plugin 'not-installed' not enabled"));
    }

    #[test]
    fn key_auth_defaults_are_filled() {
        let c = PluginConfig::parse("key-auth", &Value::Null).unwrap();
        let v = c.to_value();
        assert_eq!(v["key_names"], json!(["apikey"]));
        assert_eq!(v["key_in_header"], json!(true));
        assert_eq!(v["key_in_body"], json!(false));
        assert_eq!(v["anonymous"], Value::Null);
    }

    #[test]
    fn unknown_config_field_names_its_path() {
        let e =
            PluginConfig::parse("prometheus", &json!({"status_code_metric": true})).unwrap_err();
        assert_eq!(e[0].path, "config.status_code_metric");
        assert!(
            e[0].message.contains("unknown field `status_code_metric`"),
            "{}",
            e[0].message
        );
    }

    #[test]
    fn nested_type_error_names_the_nested_path() {
        let e = PluginConfig::parse(
            "ai-proxy-advanced",
            &json!({"targets": [{"route_type": "llm/v1/chat", "model": {"provider": "openai", "name": "x"}, "weight": "heavy"}]}),
        )
        .unwrap_err();
        assert_eq!(e[0].path, "config.targets[0].weight", "{e:?}");
    }
}
