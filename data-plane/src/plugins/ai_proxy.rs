//! `ai-proxy` / `ai-proxy-advanced` access phase: one pipeline for both. Takes the client's
//! buffered JSON body, picks a target, applies the model rule, options, streaming rule and auth,
//! and yields the upstream request (or a Kong-style `{"error":{"message":…}}` rejection).

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{StatusCode, Uri};
use proto::schema::plugins::ai::{Auth, Logging, Model, ParamLocation, RouteType};
use proto::schema::plugins::ai_proxy::AiProxyConfig;
use proto::schema::plugins::ai_proxy_advanced::AiProxyAdvancedConfig;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::llm::balancer::RoundRobin;
use crate::llm::{openai, AiAnalytics};

#[derive(Debug, Clone)]
pub struct AiTarget {
    pub route_type: RouteType,
    pub model: Model,
    pub auth: Option<Auth>,
    pub logging: Logging,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streaming {
    Allow,
    Deny,
    Always,
}

/// A compiled AI plugin instance (either flavour).
#[derive(Debug)]
pub struct AiPlugin {
    pub id: Uuid,
    pub targets: Vec<AiTarget>,
    balancer: RoundRobin,
    pub streaming: Streaming,
    pub max_request_body_size: u64,
    pub model_name_header: bool,
    pub read_timeout_ms: u64,
}

/// The upstream request an AI plugin decided on.
#[derive(Debug)]
pub struct AiRequest {
    pub target: usize,
    pub uri: Uri,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    pub stream: bool,
    pub analytics: AiAnalytics,
    /// `openai/<model>` for `X-Kong-LLM-Model` (when `model_name_header`).
    pub model_header: Option<String>,
}

/// A request the plugin answers itself.
#[derive(Debug)]
pub struct AiReject {
    pub status: StatusCode,
    pub message: String,
    pub analytics: Box<AiAnalytics>,
}

impl AiReject {
    pub fn body(&self) -> String {
        serde_json::json!({"error": {"message": self.message}}).to_string()
    }
}

fn parse_streaming(s: &str) -> Streaming {
    match s {
        "deny" => Streaming::Deny,
        "always" => Streaming::Always,
        _ => Streaming::Allow,
    }
}

impl AiPlugin {
    pub fn from_ai_proxy(id: Uuid, c: AiProxyConfig) -> Self {
        AiPlugin {
            id,
            targets: vec![AiTarget {
                route_type: c.route_type,
                model: c.model,
                auth: c.auth,
                logging: c.logging,
            }],
            balancer: RoundRobin::new(&[1]),
            streaming: parse_streaming(&c.response_streaming),
            max_request_body_size: c.max_request_body_size,
            model_name_header: c.model_name_header,
            read_timeout_ms: 60_000,
        }
    }

    pub fn from_advanced(id: Uuid, c: AiProxyAdvancedConfig) -> Self {
        let weights: Vec<u32> = c.targets.iter().map(|t| t.weight).collect();
        AiPlugin {
            id,
            targets: c
                .targets
                .into_iter()
                .map(|t| AiTarget {
                    route_type: t.route_type,
                    model: t.model,
                    auth: t.auth,
                    logging: t.logging,
                })
                .collect(),
            balancer: RoundRobin::new(&weights),
            streaming: parse_streaming(&c.response_streaming),
            max_request_body_size: c.max_request_body_size,
            model_name_header: c.model_name_header,
            read_timeout_ms: c.balancer.read_timeout,
        }
    }

    /// Whether statistics are logged when no target was picked yet.
    fn default_logging(&self) -> bool {
        self.targets
            .first()
            .is_some_and(|t| t.logging.log_statistics)
    }

    /// A rejection before a model is resolved: provider "UNSPECIFIED".
    fn reject(
        &self,
        status: StatusCode,
        message: &str,
        client_model: Option<&str>,
        log: bool,
    ) -> AiReject {
        let model = client_model.unwrap_or("UNSPECIFIED").to_string();
        AiReject {
            status,
            message: message.to_string(),
            analytics: Box::new(AiAnalytics {
                plugin_id: self.id.to_string(),
                provider: "UNSPECIFIED".into(),
                request_model: model.clone(),
                response_model: model,
                log_statistics: log,
                ..Default::default()
            }),
        }
    }

    /// The 413 for a client body over `max_request_body_size`.
    pub fn too_large(&self) -> AiReject {
        self.reject(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "request body is larger than max_request_body_size ({} bytes)",
                self.max_request_body_size
            ),
            None,
            self.default_logging(),
        )
    }

    /// The access phase. `path_and_query` is the client's; `client_headers` the client's headers.
    pub fn prepare(
        &self,
        path: &str,
        query: Option<&str>,
        client_headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<AiRequest, AiReject> {
        if self.max_request_body_size > 0 && body.len() as u64 > self.max_request_body_size {
            return Err(self.too_large());
        }
        let mut json: Map<String, Value> = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(self.reject(
                    StatusCode::BAD_REQUEST,
                    "content-type header does not match request body, or bad JSON formatting",
                    None,
                    self.default_logging(),
                ))
            }
        };
        let client_model = json
            .get("model")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .map(str::to_string);
        let idx = self.balancer.next().unwrap_or(0);
        let Some(target) = self.targets.get(idx) else {
            return Err(self.reject(
                StatusCode::INTERNAL_SERVER_ERROR,
                "no AI target configured",
                client_model.as_deref(),
                false,
            ));
        };
        let log = target.logging.log_statistics;
        let preserve = target.route_type == RouteType::Preserve;

        // The model rule.
        let configured = target.model.name.clone().filter(|n| !n.is_empty());
        let model = match (&configured, &client_model) {
            (Some(cfg), Some(client)) if cfg != client && !preserve => {
                return Err(self.reject(
                    StatusCode::BAD_REQUEST,
                    &format!("cannot use own model - must be: {cfg}"),
                    Some(client),
                    log,
                ));
            }
            (Some(cfg), _) => cfg.clone(),
            (None, Some(client)) => client.clone(),
            (None, None) if preserve => "UNSPECIFIED".to_string(),
            (None, None) => {
                return Err(self.reject(
                    StatusCode::BAD_REQUEST,
                    "model parameter not found in request, nor in gateway configuration",
                    None,
                    log,
                ));
            }
        };

        // Streaming.
        let wants_stream = json.get("stream").and_then(Value::as_bool) == Some(true);
        if wants_stream && self.streaming == Streaming::Deny {
            return Err(self.reject(
                StatusCode::BAD_REQUEST,
                "response streaming is not enabled for this LLM",
                Some(&model),
                log,
            ));
        }
        let stream = wants_stream || self.streaming == Streaming::Always;

        let options = target.model.options.clone().unwrap_or_default();
        if !preserve {
            json.insert("model".into(), Value::String(model.clone()));
            if stream {
                json.insert("stream".into(), Value::Bool(true));
            }
            openai::merge_options(&mut json, &options, target.route_type);
        }

        // Auth.
        let mut headers = Vec::new();
        let mut extra_query: Option<(String, String)> = None;
        if let Some(a) = &target.auth {
            if let (Some(n), Some(v)) = (&a.header_name, &a.header_value) {
                let keep = a.allow_override && client_headers.contains_key(n.as_str());
                if !keep {
                    if let (Ok(n), Ok(v)) = (
                        HeaderName::from_bytes(n.as_bytes()),
                        HeaderValue::from_str(v),
                    ) {
                        headers.push((n, v));
                    }
                }
            }
            if let (Some(n), Some(v), Some(loc)) = (&a.param_name, &a.param_value, a.param_location)
            {
                match loc {
                    ParamLocation::Query => extra_query = Some((n.clone(), v.clone())),
                    ParamLocation::Body => {
                        if !(a.allow_override && json.contains_key(n)) {
                            json.insert(n.clone(), Value::String(v.clone()));
                        }
                    }
                }
            }
        }

        let body = if preserve {
            Bytes::copy_from_slice(body)
        } else {
            Bytes::from(Value::Object(json).to_string())
        };
        let uri = upstream_uri(target, &options, path, query, extra_query.as_ref())
            .map_err(|e| self.reject(StatusCode::INTERNAL_SERVER_ERROR, &e, Some(&model), log))?;

        Ok(AiRequest {
            target: idx,
            uri,
            headers,
            body,
            stream,
            model_header: self
                .model_name_header
                .then(|| format!("{}/{}", target.model.provider.as_str(), model)),
            analytics: AiAnalytics {
                plugin_id: self.id.to_string(),
                provider: target.model.provider.as_str().to_string(),
                request_model: model.clone(),
                response_model: model,
                input_cost: options.input_cost,
                output_cost: options.output_cost,
                log_statistics: log,
                ..Default::default()
            },
        })
    }
}

/// The upstream URL: `upstream_url` as is when set (client query kept), else OpenAI's default
/// host and the route type's path (preserve: `upstream_path` or the client's path).
fn upstream_uri(
    t: &AiTarget,
    o: &proto::schema::plugins::ai::ModelOptions,
    client_path: &str,
    client_query: Option<&str>,
    extra: Option<&(String, String)>,
) -> Result<Uri, String> {
    let (scheme, authority, mut path) = match &o.upstream_url {
        Some(url) => {
            let u: Uri = url
                .parse()
                .map_err(|e| format!("bad upstream_url '{url}': {e}"))?;
            let scheme = u.scheme_str().unwrap_or("https").to_string();
            let authority = u
                .authority()
                .map(|a| a.to_string())
                .ok_or_else(|| format!("upstream_url '{url}' has no host"))?;
            let p = u.path().to_string();
            let path = if t.route_type == RouteType::Preserve && (p.is_empty() || p == "/") {
                client_path.to_string()
            } else {
                p
            };
            (scheme, authority, path)
        }
        None => (
            openai::DEFAULT_SCHEME.to_string(),
            openai::DEFAULT_AUTHORITY.to_string(),
            openai::path(t.route_type)
                .unwrap_or(client_path)
                .to_string(),
        ),
    };
    if let Some(p) = &o.upstream_path {
        path = p.clone();
    }
    let mut query: Vec<String> = client_query
        .filter(|q| !q.is_empty())
        .map(|q| vec![q.to_string()])
        .unwrap_or_default();
    if let Some((k, v)) = extra {
        query.push(format!("{k}={v}"));
    }
    let pq = if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.join("&"))
    };
    format!("{scheme}://{authority}{pq}")
        .parse()
        .map_err(|e| format!("bad upstream url: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::schema::plugins::PluginConfig;
    use serde_json::json;

    fn tutorial_plugin() -> AiPlugin {
        let target = |name: &str| {
            json!({
                "model": {"name": name, "provider": "openai", "options": {"max_tokens": 512, "temperature": 1.0}},
                "route_type": "llm/v1/responses",
                "logging": {"log_payloads": true, "log_statistics": true},
                "auth": {"header_name": "Authorization", "header_value": "Bearer sk-test"},
                "weight": 50
            })
        };
        let cfg = PluginConfig::parse(
            "ai-proxy-advanced",
            &json!({"balancer": {"algorithm": "round-robin"}, "targets": [target("gpt-4"), target("gpt-4o")]}),
        )
        .unwrap();
        match cfg {
            PluginConfig::AiProxyAdvanced(c) => AiPlugin::from_advanced(Uuid::nil(), *c),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn body_of(r: &AiRequest) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn round_robin_alternates_models_and_sets_options() {
        let p = tutorial_plugin();
        let h = http::HeaderMap::new();
        let mut models = Vec::new();
        for _ in 0..4 {
            let r = p
                .prepare("/anything", None, &h, br#"{"input":"hi"}"#)
                .unwrap();
            let b = body_of(&r);
            assert_eq!(b["max_output_tokens"], json!(512));
            assert_eq!(r.uri.to_string(), "https://api.openai.com:443/v1/responses");
            assert_eq!(r.headers[0].1, "Bearer sk-test");
            models.push(b["model"].as_str().unwrap().to_string());
        }
        assert_eq!(models, ["gpt-4", "gpt-4o", "gpt-4", "gpt-4o"]);
    }

    #[test]
    fn own_model_is_refused_with_unspecified_provider() {
        let p = tutorial_plugin();
        let e = p
            .prepare(
                "/",
                None,
                &http::HeaderMap::new(),
                br#"{"model":"gpt-3.5","input":"x"}"#,
            )
            .unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            e.body(),
            r#"{"error":{"message":"cannot use own model - must be: gpt-4"}}"#
        );
        assert_eq!(e.analytics.provider, "UNSPECIFIED");
        assert_eq!(e.analytics.request_model, "gpt-3.5");
        assert!(e.analytics.log_statistics);
    }

    #[test]
    fn bad_json_and_missing_model() {
        let p = tutorial_plugin();
        let e = p
            .prepare("/", None, &http::HeaderMap::new(), b"[1]")
            .unwrap_err();
        assert!(e.message.starts_with("content-type header does not match"));
        let cfg = PluginConfig::parse(
            "ai-proxy",
            &json!({"route_type": "llm/v1/chat", "model": {"provider": "openai"}, "response_streaming": "deny"}),
        )
        .unwrap();
        let PluginConfig::AiProxy(c) = cfg else {
            panic!()
        };
        let p = AiPlugin::from_ai_proxy(Uuid::nil(), *c);
        let e = p
            .prepare("/", None, &http::HeaderMap::new(), br#"{"messages":[]}"#)
            .unwrap_err();
        assert_eq!(
            e.message,
            "model parameter not found in request, nor in gateway configuration"
        );
        let e = p
            .prepare(
                "/",
                None,
                &http::HeaderMap::new(),
                br#"{"model":"m","stream":true}"#,
            )
            .unwrap_err();
        assert_eq!(e.message, "response streaming is not enabled for this LLM");
        let ok = p
            .prepare("/", None, &http::HeaderMap::new(), br#"{"model":"mine"}"#)
            .unwrap();
        assert_eq!(ok.analytics.request_model, "mine");
        assert_eq!(ok.uri.path(), "/v1/chat/completions");
    }

    #[test]
    fn upstream_url_used_as_is_with_client_query_and_query_auth() {
        let cfg = PluginConfig::parse(
            "ai-proxy",
            &json!({"route_type": "llm/v1/chat",
                    "model": {"provider": "openai", "name": "gpt-4", "options": {"upstream_url": "http://127.0.0.1:9/v1/chat/completions"}},
                    "auth": {"param_name": "key", "param_value": "s", "param_location": "query"}}),
        )
        .unwrap();
        let PluginConfig::AiProxy(c) = cfg else {
            panic!()
        };
        let p = AiPlugin::from_ai_proxy(Uuid::nil(), *c);
        let r = p
            .prepare(
                "/chat",
                Some("a=1"),
                &http::HeaderMap::new(),
                br#"{"messages":[]}"#,
            )
            .unwrap();
        assert_eq!(
            r.uri.to_string(),
            "http://127.0.0.1:9/v1/chat/completions?a=1&key=s"
        );
        assert_eq!(r.model_header.as_deref(), Some("openai/gpt-4"));
    }

    #[test]
    fn body_size_limit() {
        let mut p = tutorial_plugin();
        p.max_request_body_size = 4;
        let e = p
            .prepare("/", None, &http::HeaderMap::new(), b"{\"a\":1}")
            .unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
