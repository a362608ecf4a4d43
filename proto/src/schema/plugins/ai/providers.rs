//! Per-provider rules of a model block, checked on the CP before a config is stored: which route
//! types each provider serves in this gateway, and the options a provider cannot do without.

use super::{Model, Provider, RouteType};
use crate::schema::error::FieldError;

/// Whether this gateway can serve `route_type` for `model` (the data plane's
/// `llm::provider::Call::format` makes the same decision per request).
pub fn serves(model: &Model, route_type: RouteType) -> bool {
    let o = model.options.clone().unwrap_or_default();
    let ollama_format = match model.provider {
        Provider::Ollama => true,
        Provider::Mistral => o.mistral_format.as_deref() == Some("ollama"),
        Provider::Llama2 => o.llama2_format.as_deref() == Some("ollama"),
        _ => false,
    };
    match (model.provider, route_type) {
        (_, RouteType::Preserve) => true,
        _ if ollama_format => matches!(
            route_type,
            RouteType::Chat | RouteType::Completions | RouteType::Embeddings
        ),
        (Provider::Anthropic | Provider::Gemini | Provider::Cohere | Provider::Bedrock, rt) => {
            rt == RouteType::Chat
        }
        (Provider::Mistral, rt) => matches!(rt, RouteType::Chat | RouteType::Embeddings),
        _ => true,
    }
}

/// The provider-specific errors of one model block; paths relative to the block.
pub fn validate(model: &Model, route_type: RouteType) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let o = model.options.clone().unwrap_or_default();
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    match model.provider {
        Provider::Llama2 | Provider::Ollama if !set(&o.upstream_url) => {
            errs.push(FieldError::new(
                "model.options.upstream_url",
                "must set 'model.options.upstream_url' for self-hosted providers/models",
            ));
        }
        Provider::Azure if !set(&o.upstream_url) => {
            for (f, v) in [
                ("azure_instance", &o.azure_instance),
                ("azure_deployment_id", &o.azure_deployment_id),
            ] {
                // The responses API has no deployment in its path.
                let optional = f == "azure_deployment_id" && route_type == RouteType::Responses;
                if !set(v) && !optional {
                    errs.push(FieldError::new(
                        format!("model.options.{f}"),
                        format!("must set 'model.options.{f}' for azure provider"),
                    ));
                }
            }
        }
        _ => {}
    }
    if let Some(f) = o.mistral_format.as_deref() {
        if !matches!(f, "openai" | "ollama") {
            errs.push(FieldError::new(
                "model.options.mistral_format",
                "expected one of: openai, ollama",
            ));
        }
    }
    if let Some(f) = o.llama2_format.as_deref() {
        if !matches!(f, "raw" | "openai" | "ollama") {
            errs.push(FieldError::new(
                "model.options.llama2_format",
                "expected one of: raw, openai, ollama",
            ));
        } else if f == "raw" {
            errs.push(FieldError::new(
                "model.options.llama2_format",
                "llama2_format 'raw' is not supported by this gateway yet (supported: openai, ollama)",
            ));
        }
    }
    if !serves(model, route_type) {
        errs.push(FieldError::new(
            "route_type",
            format!(
                "route_type '{}' is not supported for provider '{}' by this gateway",
                route_type.as_str(),
                model.provider.as_str()
            ),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model(v: serde_json::Value) -> Model {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn route_types_per_provider() {
        let a = model(json!({"provider": "anthropic", "name": "claude"}));
        assert!(validate(&a, RouteType::Chat).is_empty());
        assert!(validate(&a, RouteType::Preserve).is_empty());
        let e = validate(&a, RouteType::Embeddings);
        assert_eq!(e.len(), 1);
        let o = model(
            json!({"provider": "ollama", "options": {"upstream_url": "http://127.0.0.1:11434"}}),
        );
        assert!(validate(&o, RouteType::Embeddings).is_empty());
        assert!(!validate(&o, RouteType::Responses).is_empty());
    }

    #[test]
    fn required_options() {
        let e = validate(&model(json!({"provider": "llama2"})), RouteType::Chat);
        assert_eq!(
            e[0].to_string(),
            "model.options.upstream_url: must set 'model.options.upstream_url' for self-hosted providers/models"
        );
        let az = validate(
            &model(json!({"provider": "azure", "options": {"azure_instance": "i"}})),
            RouteType::Chat,
        );
        assert_eq!(az.len(), 1);
        let raw = validate(
            &model(
                json!({"provider": "llama2", "options": {"upstream_url": "http://x", "llama2_format": "raw"}}),
            ),
            RouteType::Chat,
        );
        assert_eq!(raw.len(), 1);
    }
}
