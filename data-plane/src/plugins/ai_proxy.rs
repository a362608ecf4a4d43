//! `ai-proxy` / `ai-proxy-advanced` access phase: one pipeline for both. Takes the client's
//! buffered JSON body, picks a target, applies the model rule, options, streaming rule and auth,
//! translates the body to the target's provider format (`llm::provider`), and yields the
//! upstream request (or a Kong-style `{"error":{"message":…}}` rejection). The response side
//! (translation back to OpenAI format) is in `ai_proxy/response.rs`.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{StatusCode, Uri};
use proto::schema::plugins::ai::{Auth, Logging, Model, ModelOptions, Provider, RouteType};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::llm::balancer::{Balancer, Criteria, InFlight};
use crate::llm::provider::Call;
use crate::llm::{endpoint, openai, template, validate, AiAnalytics, AzureMeta};
use client::{Clients, Timeouts};

#[derive(Debug, Clone)]
pub struct AiTarget {
    pub route_type: RouteType,
    pub model: Model,
    pub auth: Option<Auth>,
    pub logging: Logging,
    /// `model.options`, defaulted once at compile time.
    pub options: ModelOptions,
    /// `options.upstream_url`, parsed once (for a target without templates).
    pub upstream_url: Option<Uri>,
    /// `model.name` or options hold `$(…)` templates, resolved per request.
    pub templated: bool,
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
    /// `id` as text, for the analytics of every request.
    id_text: String,
    pub targets: Vec<AiTarget>,
    balancer: Balancer,
    /// `balancer.failover_criteria`, `retries` and `hash_on_header` (ai-proxy: none).
    pub criteria: Criteria,
    pub retries: u32,
    hash_header: String,
    pub streaming: Streaming,
    pub max_request_body_size: u64,
    pub model_name_header: bool,
    /// `balancer` connect/read/write timeouts (ai-proxy-advanced); `None` for ai-proxy, which
    /// uses its service's.
    pub timeouts: Option<Timeouts>,
    /// The upstream clients, one per set of timeouts.
    pub clients: Clients,
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
    /// The targets of this and earlier attempts.
    pub tried: Vec<usize>,
    /// Keeps the target's in-flight count (least-connections) while the request lasts.
    pub inflight: Option<InFlight>,
}

/// The message when no target is left to pick.
const NO_TARGET: &str = "no AI target available";

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

impl AiPlugin {
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
                plugin_id: self.id_text.clone(),
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
        self.prepare_attempt(path, query, client_headers, body, &[])
    }

    /// One attempt, on a target not in `tried` (the targets of earlier failed attempts).
    pub fn prepare_attempt(
        &self,
        path: &str,
        query: Option<&str>,
        client_headers: &http::HeaderMap,
        body: &[u8],
        tried: &[usize],
    ) -> Result<AiRequest, AiReject> {
        if self.max_request_body_size > 0 && body.len() as u64 > self.max_request_body_size {
            return Err(self.too_large());
        }
        // Kong parses the body with the request's content type (JSON when there is none).
        let json_type = client_headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|ct| mentions_json(ct.as_bytes()));
        let parsed = json_type
            .then(|| serde_json::from_slice::<Value>(body).ok())
            .flatten();
        let mut json: Map<String, Value> = match parsed {
            Some(Value::Object(m)) => m,
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
        // `model_alias`: a client model naming an alias limits the pick to those targets.
        fn alias_of(t: &AiTarget) -> Option<&str> {
            t.model.model_alias.as_deref().filter(|a| !a.is_empty())
        }
        let aliased = client_model
            .as_deref()
            .is_some_and(|m| self.targets.iter().any(|t| alias_of(t) == Some(m)));
        let mut excluded = tried.to_vec();
        if aliased {
            excluded.extend(
                (0..self.targets.len())
                    .filter(|i| alias_of(&self.targets[*i]) != client_model.as_deref()),
            );
        }
        let hash_key = (!self.hash_header.is_empty())
            .then(|| client_headers.get(self.hash_header.as_str()))
            .flatten()
            .and_then(|v| v.to_str().ok());
        let picked = self.balancer.pick(&excluded, hash_key);
        let idx = picked.unwrap_or(usize::MAX);
        let Some(target) = self.targets.get(idx) else {
            return Err(self.reject(
                StatusCode::INTERNAL_SERVER_ERROR,
                NO_TARGET,
                client_model.as_deref(),
                false,
            ));
        };
        let log = target.logging.log_statistics;
        let preserve = target.route_type == RouteType::Preserve;

        if let Err(m) = validate::prompts(&json, target.route_type) {
            let model = client_model.as_deref();
            return Err(self.reject(StatusCode::BAD_REQUEST, m, model, log));
        }

        // Templates (`$(headers.x)`) in the model name and options, from this request.
        let resolved = match target.templated {
            false => None,
            true => {
                let src = template::Source {
                    headers: client_headers,
                    query,
                };
                let name = target
                    .model
                    .name
                    .as_deref()
                    .map(|n| src.name(n))
                    .transpose();
                match name.and_then(|n| Ok((n, src.options(&target.options)?))) {
                    Ok(r) => Some(r),
                    Err(m) => {
                        let model = client_model.as_deref();
                        return Err(self.reject(StatusCode::BAD_REQUEST, &m, model, log));
                    }
                }
            }
        };
        let (name, options) = match &resolved {
            Some((n, o)) => (n.clone(), o),
            None => (target.model.name.clone(), &target.options),
        };

        // The model rule.
        let configured = name.filter(|n| !n.is_empty());
        let client_model = if aliased { None } else { client_model };
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

        if let Err(m) = validate::compatible(&json, target.route_type) {
            return Err(self.reject(StatusCode::BAD_REQUEST, &m, Some(&model), log));
        }

        // Streaming (embeddings have none).
        let wants_stream = json.get("stream").and_then(Value::as_bool) == Some(true);
        if wants_stream && self.streaming == Streaming::Deny {
            return Err(self.reject(
                StatusCode::BAD_REQUEST,
                "response streaming is not enabled for this LLM",
                Some(&model),
                log,
            ));
        }
        let stream = (wants_stream || self.streaming == Streaming::Always)
            && target.route_type != RouteType::Embeddings;

        let call = Call {
            provider: target.model.provider,
            route_type: target.route_type,
            model: &model,
            options,
            stream,
        };
        if let Err(e) = call.format() {
            return Err(self.reject(e.status(), &e.to_string(), Some(&model), log));
        }
        if !preserve {
            json.insert("model".into(), Value::String(model.clone()));
            if stream {
                json.insert("stream".into(), Value::Bool(true));
            }
            openai::merge_options(&mut json, options, target.route_type);
        }

        // Auth.
        let mut headers = call.headers();
        let extra_query = target
            .auth
            .as_ref()
            .and_then(|a| auth::apply(a, client_headers, &mut headers, &mut json));

        let prompt_estimate = crate::llm::estimate::prompt_tokens(&json, stream);
        let body = if preserve {
            Bytes::copy_from_slice(body)
        } else {
            let upstream = call
                .request_body(json)
                .map_err(|e| self.reject(e.status(), &e.to_string(), Some(&model), log))?;
            // The same bytes as `Display`, without the formatter in between.
            serde_json::to_vec(&upstream)
                .map(Bytes::from)
                .map_err(|e| {
                    self.reject(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &e.to_string(),
                        Some(&model),
                        log,
                    )
                })?
        };
        // Templated options are this request's own: their URL is parsed with the rest.
        let parsed_url = resolved
            .is_none()
            .then_some(target.upstream_url.as_ref())
            .flatten();
        let uri = endpoint::uri_with(&call, parsed_url, path, query, extra_query.as_ref())
            .map_err(|e| self.reject(e.status(), &e.to_string(), Some(&model), log))?;
        if target.model.provider == Provider::Bedrock {
            let signed = auth::sign_bedrock(target, &uri, &body)
                .map_err(|e| self.reject(e.status(), &e.to_string(), Some(&model), log))?;
            headers.extend(signed);
        }

        let mut tried = tried.to_vec();
        tried.push(idx);
        Ok(AiRequest {
            tried,
            inflight: self.balancer.begin(idx),
            target: idx,
            uri,
            headers,
            body,
            stream,
            model_header: self
                .model_name_header
                .then(|| [target.model.provider.as_str(), "/", &model].concat()),
            analytics: AiAnalytics {
                plugin_id: self.id_text.clone(),
                provider: target.model.provider.as_str().to_string(),
                request_model: model.clone(),
                response_model: model,
                input_cost: options.input_cost,
                output_cost: options.output_cost,
                log_statistics: log,
                log_payloads: target.logging.log_payloads,
                prompt_estimate,
                stream,
                azure: (target.model.provider == Provider::Azure).then(|| AzureMeta {
                    instance_id: options.azure_instance.clone().unwrap_or_default(),
                    deployment_id: options.azure_deployment_id.clone().unwrap_or_default(),
                    api_version: options.azure_api_version.clone().unwrap_or_default(),
                }),
                ..Default::default()
            },
        })
    }
}

/// Whether a content type says JSON: `json` anywhere in it, in any case (Kong's test).
fn mentions_json(ct: &[u8]) -> bool {
    ct.windows(4).any(|w| w.eq_ignore_ascii_case(b"json"))
}

mod attempts;
mod auth;
pub mod client;
mod compile;
pub(crate) mod secrets;
pub use attempts::Seen;
mod response;
#[cfg(test)]
mod tests;
