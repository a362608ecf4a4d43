//! `rate-limiting` config (Kong 3.15 schema): request limits per window, what a client is
//! counted by, and the refusal. Only the `local` policy is supported by this gateway.

use serde::{Deserialize, Serialize};

use crate::schema::error::FieldError;

pub const PRIORITY: i32 = 910;

/// Windows, shortest first (Kong's `ORDERED_PERIODS`).
pub const PERIODS: [&str; 6] = ["second", "minute", "hour", "day", "month", "year"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LimitBy {
    Consumer,
    ConsumerGroup,
    Credential,
    Header,
    Ip,
    Path,
    Service,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    Local,
    Cluster,
    Redis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitingConfig {
    #[serde(default)]
    pub second: Option<f64>,
    #[serde(default)]
    pub minute: Option<f64>,
    #[serde(default)]
    pub hour: Option<f64>,
    #[serde(default)]
    pub day: Option<f64>,
    #[serde(default)]
    pub month: Option<f64>,
    #[serde(default)]
    pub year: Option<f64>,
    #[serde(default = "default_limit_by")]
    pub limit_by: LimitBy,
    #[serde(default)]
    pub header_name: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default = "default_policy")]
    pub policy: Policy,
    #[serde(default = "yes")]
    pub fault_tolerant: bool,
    #[serde(default)]
    pub redis: Redis,
    #[serde(default)]
    pub hide_client_headers: bool,
    #[serde(default = "default_error_code")]
    pub error_code: f64,
    #[serde(default = "default_error_message")]
    pub error_message: String,
    #[serde(default = "default_sync_rate")]
    pub sync_rate: f64,
    /// Kong's deprecated `redis_*` shorthands (still in 3.15, and in its dumps): moved into
    /// `redis` by [`RateLimitingConfig::with_shorthands`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_ssl: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_ssl_verify: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_server_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_database: Option<i64>,
}

/// Kong's shared `redis` record (stored; unused since only `local` runs here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redis {
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default = "default_redis_port")]
    pub port: i64,
    #[serde(default = "default_redis_timeout")]
    pub timeout: i64,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub database: i64,
    #[serde(default)]
    pub ssl: bool,
    #[serde(default = "yes")]
    pub ssl_verify: bool,
    #[serde(default)]
    pub server_name: Option<String>,
    #[serde(default)]
    pub cloud_authentication: Option<serde_json::Value>,
}

impl Default for Redis {
    fn default() -> Self {
        Self {
            host: None,
            port: default_redis_port(),
            timeout: default_redis_timeout(),
            username: None,
            password: None,
            database: 0,
            ssl: false,
            ssl_verify: true,
            server_name: None,
            cloud_authentication: None,
        }
    }
}

impl RateLimitingConfig {
    /// Moves the `redis_*` shorthands into `redis`, as Kong does on write.
    pub fn with_shorthands(mut self) -> Self {
        let r = &mut self.redis;
        r.host = self.redis_host.take().or(r.host.take());
        r.port = self.redis_port.take().unwrap_or(r.port);
        r.password = self.redis_password.take().or(r.password.take());
        r.username = self.redis_username.take().or(r.username.take());
        r.ssl = self.redis_ssl.take().unwrap_or(r.ssl);
        r.ssl_verify = self.redis_ssl_verify.take().unwrap_or(r.ssl_verify);
        r.server_name = self.redis_server_name.take().or(r.server_name.take());
        r.timeout = self.redis_timeout.take().unwrap_or(r.timeout);
        r.database = self.redis_database.take().unwrap_or(r.database);
        self
    }

    /// The configured `(window name, limit)` pairs, shortest window first.
    pub fn limits(&self) -> Vec<(&'static str, f64)> {
        let all = [
            self.second,
            self.minute,
            self.hour,
            self.day,
            self.month,
            self.year,
        ];
        PERIODS
            .iter()
            .zip(all)
            .filter_map(|(p, l)| l.map(|l| (*p, l)))
            .collect()
    }

    /// Kong's field and entity checks, plus what this gateway does not run yet.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let limits = self.limits();
        if limits.is_empty() {
            let names: Vec<String> = PERIODS.iter().map(|p| format!("'config.{p}'")).collect();
            errs.push(FieldError::new(
                "",
                format!(
                    "at least one of these fields must be non-empty: {}",
                    names.join(", ")
                ),
            ));
        }
        for (p, l) in &limits {
            if *l <= 0.0 {
                errs.push(FieldError::new(*p, "value must be greater than 0"));
            }
        }
        if let Some(msg) = order_error(&limits) {
            errs.push(FieldError::new("", msg));
        }
        let required = |f: &Option<String>| f.as_deref().is_none_or(str::is_empty);
        if self.limit_by == LimitBy::Header && required(&self.header_name) {
            errs.push(FieldError::new("header_name", "required field missing"));
        }
        if self.limit_by == LimitBy::Path && required(&self.path) {
            errs.push(FieldError::new("path", "required field missing"));
        }
        if let Some(p) = self.path.as_deref().filter(|p| !p.starts_with('/')) {
            errs.push(FieldError::new(
                "path",
                format!("should start with: / ({p})"),
            ));
        }
        if self.limit_by == LimitBy::ConsumerGroup {
            errs.push(FieldError::new(
                "limit_by",
                "consumer groups (a Kong Enterprise feature) are not supported by this gateway yet",
            ));
        }
        if self.policy != Policy::Local {
            let name = if self.policy == Policy::Redis {
                "redis"
            } else {
                "cluster"
            };
            errs.push(FieldError::new(
                "policy",
                format!("policy '{name}' is not supported yet by this gateway (only 'local')"),
            ));
        }
        if !(100.0..=599.0).contains(&self.error_code) || self.error_code.fract() != 0.0 {
            errs.push(FieldError::new(
                "error_code",
                "value must be an HTTP status code (100-599)",
            ));
        }
        errs
    }
}

/// Kong's `validate_periods_order`: a shorter window may not allow more than a longer one.
fn order_error(limits: &[(&str, f64)]) -> Option<String> {
    limits.iter().enumerate().find_map(|(i, (lower, v1))| {
        limits[i + 1..].iter().find(|(_, v2)| v2 < v1).map(|(upper, v2)| {
            format!(
                "The limit for {lower}({v1:.1}) cannot be higher than the limit for {upper}({v2:.1})"
            )
        })
    })
}

fn default_limit_by() -> LimitBy {
    LimitBy::Consumer
}
fn default_policy() -> Policy {
    Policy::Local
}
fn default_error_code() -> f64 {
    429.0
}
fn default_error_message() -> String {
    "API rate limit exceeded".into()
}
fn default_sync_rate() -> f64 {
    -1.0
}
fn default_redis_port() -> i64 {
    6379
}
fn default_redis_timeout() -> i64 {
    2000
}
fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use crate::schema::plugins::PluginConfig;
    use serde_json::json;

    fn errors(v: serde_json::Value) -> Vec<(String, String)> {
        PluginConfig::parse("rate-limiting", &v)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.path, e.message))
            .collect()
    }

    #[test]
    fn defaults_match_kong() {
        let v = PluginConfig::parse("rate-limiting", &json!({"minute": 5}))
            .unwrap()
            .to_value();
        assert_eq!(v["limit_by"], "consumer");
        assert_eq!(v["policy"], "local");
        assert_eq!(v["error_code"], 429.0);
        assert_eq!(v["error_message"], "API rate limit exceeded");
        assert_eq!(v["fault_tolerant"], true);
        assert_eq!(v["sync_rate"], -1.0);
        assert_eq!(v["redis"]["port"], 6379);
        assert_eq!(v["second"], serde_json::Value::Null);
    }

    #[test]
    fn kong_entity_checks() {
        let e = errors(json!({}));
        assert_eq!(e[0].0, "config");
        assert!(e[0]
            .1
            .starts_with("at least one of these fields must be non-empty: 'config.second'"));
        let e = errors(json!({"second": 10, "hour": 5}));
        assert_eq!(
            e[0].1,
            "The limit for second(10.0) cannot be higher than the limit for hour(5.0)"
        );
        let e = errors(json!({"minute": 1, "limit_by": "header"}));
        assert_eq!(
            e[0],
            ("config.header_name".into(), "required field missing".into())
        );
        let e = errors(json!({"minute": 1, "limit_by": "path", "path": "x"}));
        assert_eq!(e[0].0, "config.path");
    }

    #[test]
    fn redis_shorthands_move_into_redis() {
        let v = PluginConfig::parse(
            "rate-limiting",
            &json!({"minute": 1, "redis_port": 6380, "redis_ssl": true}),
        )
        .unwrap()
        .to_value();
        assert_eq!(v["redis"]["port"], 6380);
        assert_eq!(v["redis"]["ssl"], true);
        assert!(v.get("redis_port").is_none());
    }

    #[test]
    fn unknown_fields_are_still_refused() {
        let e = errors(json!({"minute": 1, "redis_hots": "x"}));
        assert_eq!(e[0].0, "config.redis_hots", "{e:?}");
        let e = errors(json!({"minute": "many"}));
        assert_eq!(e[0].0, "config.minute", "{e:?}");
    }

    #[test]
    fn only_the_local_policy_is_accepted() {
        let e = errors(json!({"minute": 1, "policy": "redis", "redis": {"host": "r"}}));
        assert_eq!(e[0].0, "config.policy");
        assert!(
            e[0].1.contains("'redis' is not supported yet"),
            "{}",
            e[0].1
        );
        let e = errors(json!({"minute": 1, "policy": "cluster"}));
        assert!(e[0].1.contains("'cluster' is not supported yet"));
    }
}
