//! The per-model block shared by `ai-proxy` and each `ai-proxy-advanced` target: route type,
//! provider and model, auth, logging. Kong 3.15 field names and defaults.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod providers;
pub mod record_defaults;

use crate::schema::entities::between;
use crate::schema::error::FieldError;

/// What kind of LLM call a route carries (`route_type`). Kong 3.15's other route types (files,
/// batches, audio, images, realtime, …) are refused by name when a config is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum RouteType {
    #[serde(rename = "llm/v1/chat")]
    Chat,
    #[serde(rename = "llm/v1/completions")]
    Completions,
    #[serde(rename = "llm/v1/embeddings")]
    Embeddings,
    #[serde(rename = "llm/v1/responses")]
    Responses,
    #[serde(rename = "preserve")]
    Preserve,
}

/// Kong 3.15's `route_type` values this gateway does not proxy.
const OTHER_ROUTE_TYPES: &[&str] = &[
    "audio/v1/audio/speech",
    "audio/v1/audio/transcriptions",
    "audio/v1/audio/translations",
    "image/v1/images/edits",
    "image/v1/images/generations",
    "llm/v1/assistants",
    "llm/v1/batches",
    "llm/v1/files",
    "realtime/v1/realtime",
    "video/v1/videos/generations",
];

impl RouteType {
    pub const ALL: &'static [RouteType] = &[
        Self::Chat,
        Self::Completions,
        Self::Embeddings,
        Self::Responses,
        Self::Preserve,
    ];

    /// Parses a `route_type` value; the error names what is wrong.
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(t) = Self::ALL.iter().find(|t| t.as_str() == s) {
            return Ok(*t);
        }
        let ours: Vec<&str> = Self::ALL.iter().map(|t| t.as_str()).collect();
        if OTHER_ROUTE_TYPES.contains(&s) {
            return Err(format!(
                "route_type '{s}' is not supported by this gateway yet (supported: {})",
                ours.join(", ")
            ));
        }
        let mut all: Vec<&str> = ours
            .into_iter()
            .chain(OTHER_ROUTE_TYPES.iter().copied())
            .collect();
        all.sort_unstable();
        Err(format!("expected one of: {}", all.join(", ")))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "llm/v1/chat",
            Self::Completions => "llm/v1/completions",
            Self::Embeddings => "llm/v1/embeddings",
            Self::Responses => "llm/v1/responses",
            Self::Preserve => "preserve",
        }
    }
}

impl<'de> Deserialize<'de> for RouteType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Providers Kong knows. Only those in `Provider::SUPPORTED` are proxied today; the others are
/// refused when a config is applied, with an error that says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Openai,
    Azure,
    Anthropic,
    Bedrock,
    Cerebras,
    Cohere,
    Dashscope,
    Databricks,
    Deepseek,
    Gemini,
    Huggingface,
    Llama2,
    Mistral,
    Ollama,
    Vllm,
    Xai,
}

impl Provider {
    pub const SUPPORTED: &'static [Provider] = &[
        Provider::Openai,
        Provider::Azure,
        Provider::Anthropic,
        Provider::Bedrock,
        Provider::Cohere,
        Provider::Gemini,
        Provider::Llama2,
        Provider::Mistral,
        Provider::Ollama,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Azure => "azure",
            Self::Anthropic => "anthropic",
            Self::Bedrock => "bedrock",
            Self::Cerebras => "cerebras",
            Self::Cohere => "cohere",
            Self::Dashscope => "dashscope",
            Self::Databricks => "databricks",
            Self::Deepseek => "deepseek",
            Self::Gemini => "gemini",
            Self::Huggingface => "huggingface",
            Self::Llama2 => "llama2",
            Self::Mistral => "mistral",
            Self::Ollama => "ollama",
            Self::Vllm => "vllm",
            Self::Xai => "xai",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub provider: Provider,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub model_alias: Option<String>,
    #[serde(default)]
    pub options: Option<ModelOptions>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelOptions {
    #[serde(default)]
    pub max_tokens: Option<i64>,
    #[serde(default)]
    pub input_cost: Option<f64>,
    #[serde(default)]
    pub output_cost: Option<f64>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub top_k: Option<i64>,
    #[serde(default)]
    pub upstream_url: Option<String>,
    #[serde(default)]
    pub upstream_path: Option<String>,
    #[serde(default)]
    pub anthropic_version: Option<String>,
    #[serde(default)]
    pub azure_instance: Option<String>,
    #[serde(default = "default_azure_api_version")]
    pub azure_api_version: Option<String>,
    #[serde(default)]
    pub azure_deployment_id: Option<String>,
    #[serde(default)]
    pub llama2_format: Option<String>,
    #[serde(default)]
    pub mistral_format: Option<String>,
    #[serde(default)]
    pub embeddings_dimensions: Option<i64>,
    #[serde(default)]
    pub cache_read_cost: Option<f64>,
    #[serde(default)]
    pub cache_write_cost: Option<f64>,
    /// Kong's cost refinements (`[{cost, ttl}]`, `[{above, input_factor, output_factor}]`,
    /// `[{tier, factor}]`): accepted and kept, not applied to `kong_ai_llm_cost_total`.
    #[serde(default)]
    pub cache_write_cost_list: Option<Vec<Value>>,
    #[serde(default)]
    pub context_window_factor: Option<Vec<Value>>,
    #[serde(default)]
    pub service_tier_factor: Option<Vec<Value>>,
    #[serde(default)]
    pub gemini: Option<Value>,
    #[serde(default, deserialize_with = "record_defaults::bedrock")]
    pub bedrock: Option<Value>,
    #[serde(default)]
    pub huggingface: Option<Value>,
    #[serde(default, deserialize_with = "record_defaults::cohere")]
    pub cohere: Option<Value>,
    #[serde(default, deserialize_with = "record_defaults::dashscope")]
    pub dashscope: Option<Value>,
    #[serde(default)]
    pub databricks: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    #[serde(default)]
    pub header_name: Option<String>,
    #[serde(default)]
    pub header_value: Option<String>,
    #[serde(default)]
    pub param_name: Option<String>,
    #[serde(default)]
    pub param_value: Option<String>,
    #[serde(default)]
    pub param_location: Option<ParamLocation>,
    #[serde(default)]
    pub allow_override: bool,
    #[serde(default)]
    pub gcp_use_service_account: bool,
    #[serde(default)]
    pub gcp_service_account_json: Option<String>,
    #[serde(default)]
    pub gcp_metadata_url: Option<String>,
    #[serde(default)]
    pub gcp_oauth_token_url: Option<String>,
    #[serde(default)]
    pub aws_access_key_id: Option<String>,
    #[serde(default)]
    pub aws_secret_access_key: Option<String>,
    #[serde(default)]
    pub azure_use_managed_identity: bool,
    #[serde(default)]
    pub azure_client_id: Option<String>,
    #[serde(default)]
    pub azure_client_secret: Option<String>,
    #[serde(default)]
    pub azure_tenant_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamLocation {
    Query,
    Body,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    #[serde(default)]
    pub log_statistics: bool,
    #[serde(default)]
    pub log_payloads: bool,
}

/// Checks one model block (`route_type`, `model`, `auth`); paths relative to the block.
pub fn validate_model(model: &Model, auth: Option<&Auth>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if !Provider::SUPPORTED.contains(&model.provider) {
        let names: Vec<&str> = Provider::SUPPORTED.iter().map(|p| p.as_str()).collect();
        errs.push(FieldError::new(
            "model.provider",
            format!(
                "provider '{}' is not supported by this gateway yet (supported: {})",
                model.provider.as_str(),
                names.join(", ")
            ),
        ));
    }
    if let Some(o) = &model.options {
        if o.temperature.is_some_and(|t| !(0.0..=5.0).contains(&t)) {
            errs.push(between("model.options.temperature", "0.0", "5.0"));
        }
        if o.top_p.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
            errs.push(between("model.options.top_p", "0.0", "1.0"));
        }
        if o.top_k.is_some_and(|t| !(0..=500).contains(&t)) {
            errs.push(between("model.options.top_k", 0, 500));
        }
        for (f, v) in [("input_cost", o.input_cost), ("output_cost", o.output_cost)] {
            if v.is_some_and(|c| c <= 0.0) {
                errs.push(FieldError::new(
                    format!("model.options.{f}"),
                    "value must be greater than 0",
                ));
            }
        }
        if let Some(url) = &o.upstream_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                errs.push(FieldError::new(
                    "model.options.upstream_url",
                    "missing host in url; expected an http:// or https:// URL",
                ));
            }
        }
    }
    errs.extend(not_served(model, auth));
    if let Some(a) = auth {
        if a.header_name.is_some() != a.header_value.is_some() {
            errs.push(FieldError::new(
                "auth",
                "all or none of these fields must be set: 'header_name', 'header_value'",
            ));
        }
        let params = [
            a.param_name.is_some(),
            a.param_value.is_some(),
            a.param_location.is_some(),
        ];
        if params.iter().any(|p| *p) && !params.iter().all(|p| *p) {
            errs.push(FieldError::new(
                "auth",
                "all or none of these fields must be set: 'param_name', 'param_value', 'param_location'",
            ));
        }
    }
    errs
}

/// Kong 3.15's `genai_category` values (ai-proxy-advanced also has `realtime/generation`).
const GENAI_CATEGORIES: &[&str] = &[
    "audio/speech",
    "audio/transcription",
    "image/generation",
    "realtime/generation",
    "text/embeddings",
    "text/generation",
    "video/generation",
];

/// Checks shared by both plugins; `advanced` allows ai-proxy-advanced's extra category.
/// Kong features of a model block this gateway does not have: refused by name rather than
/// ignored (cloud identities, Bedrock role assumption, `$(uri_captures.…)` templates).
fn not_served(model: &Model, auth: Option<&Auth>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let yet = |what: &str| format!("{what} is not supported by this gateway yet");
    if let Some(a) = auth {
        if a.gcp_use_service_account {
            errs.push(FieldError::new(
                "auth.gcp_use_service_account",
                yet("GCP service-account authentication"),
            ));
        }
        if a.azure_use_managed_identity {
            errs.push(FieldError::new(
                "auth.azure_use_managed_identity",
                yet("Azure managed-identity authentication"),
            ));
        }
    }
    let o = model.options.as_ref();
    let role = o
        .and_then(|o| o.bedrock.as_ref())
        .and_then(|b| b.get("aws_assume_role_arn"))
        .and_then(Value::as_str)
        .is_some_and(|r| !r.is_empty());
    if role {
        errs.push(FieldError::new(
            "model.options.bedrock.aws_assume_role_arn",
            yet("assuming an AWS role (STS)"),
        ));
    }
    // Templates from headers and query arguments are resolved per request on the DP.
    let captures = |v: Option<&str>| v.is_some_and(|s| s.contains("$(uri_captures."));
    let mut strings = vec![("model.name", model.name.as_deref())];
    if let Some(o) = o {
        strings.extend([
            ("model.options.upstream_url", o.upstream_url.as_deref()),
            ("model.options.upstream_path", o.upstream_path.as_deref()),
            (
                "model.options.anthropic_version",
                o.anthropic_version.as_deref(),
            ),
            ("model.options.azure_instance", o.azure_instance.as_deref()),
            (
                "model.options.azure_api_version",
                o.azure_api_version.as_deref(),
            ),
            (
                "model.options.azure_deployment_id",
                o.azure_deployment_id.as_deref(),
            ),
        ]);
    }
    for (field, v) in strings {
        if captures(v) {
            errs.push(FieldError::new(
                field,
                yet("a '$(uri_captures.…)' template"),
            ));
        }
    }
    errs
}

pub(crate) fn check_common(
    response_streaming: &str,
    llm_format: &str,
    genai_category: &str,
    advanced: bool,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let categories: Vec<&str> = GENAI_CATEGORIES
        .iter()
        .copied()
        .filter(|c| advanced || *c != "realtime/generation")
        .collect();
    if !categories.contains(&genai_category) {
        errs.push(FieldError::new(
            "genai_category",
            format!("expected one of: {}", categories.join(", ")),
        ));
    }
    if !matches!(response_streaming, "allow" | "deny" | "always") {
        errs.push(FieldError::new(
            "response_streaming",
            "expected one of: allow, deny, always",
        ));
    }
    if llm_format != "openai" {
        errs.push(FieldError::new(
            "llm_format",
            format!("llm_format '{llm_format}' is not supported by this gateway yet (supported: openai)"),
        ));
    }
    errs
}

fn default_azure_api_version() -> Option<String> {
    Some("2023-05-15".into())
}

pub(crate) fn default_response_streaming() -> String {
    "allow".into()
}
pub(crate) fn default_max_body() -> u64 {
    1_048_576
}
pub(crate) fn default_llm_format() -> String {
    "openai".into()
}
pub(crate) fn default_genai_category() -> String {
    "text/generation".into()
}
pub(crate) fn yes() -> bool {
    true
}
