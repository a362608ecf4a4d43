//! Per-provider rules of a model block: which route types Kong serves for each provider (the
//! data plane answers the others with Kong's 400 per request, as Kong does; the CP accepts
//! them, as Kong's schema does), and the options a provider cannot do without (checked on the
//! CP before a config is stored).

use super::{Logging, Model, ModelOptions, Provider, RouteType};
use crate::schema::error::FieldError;

/// Whether `options.gemini` names a Vertex endpoint (`api_endpoint`, `project_id`,
/// `location_id` all set).
pub fn gemini_vertex(o: &ModelOptions) -> bool {
    let g = o.gemini.as_ref();
    ["api_endpoint", "project_id", "location_id"]
        .iter()
        .all(|k| {
            g.and_then(|g| g.get(*k))
                .and_then(|v| v.as_str())
                .is_some_and(|s| !s.is_empty())
        })
}

/// Whether Kong serves `route_type` for `provider` (Kong 3.15's provider table; the data
/// plane's `llm::provider::Call::format` asks this per request).
pub fn serves_route(provider: Provider, o: &ModelOptions, route_type: RouteType) -> bool {
    use RouteType::*;
    match (provider, route_type) {
        (_, Preserve) => true,
        (Provider::Openai | Provider::Azure, _) => true,
        (Provider::Anthropic, rt) => matches!(rt, Chat | Completions),
        (Provider::Cohere | Provider::Bedrock | Provider::Llama2, rt) => {
            matches!(rt, Chat | Completions | Embeddings)
        }
        (Provider::Gemini, Completions) => gemini_vertex(o),
        (Provider::Gemini | Provider::Mistral | Provider::Ollama, rt) => {
            matches!(rt, Chat | Embeddings)
        }
        _ => false,
    }
}

/// `serves_route` for a model block.
pub fn serves(model: &Model, route_type: RouteType) -> bool {
    let o = model.options.clone().unwrap_or_default();
    serves_route(model.provider, &o, route_type)
}

/// The provider-specific errors of one model block; paths relative to the block.
pub fn validate(model: &Model, route_type: RouteType, logging: &Logging) -> Vec<FieldError> {
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
        }
    }
    if model.provider == Provider::Anthropic
        && route_type == RouteType::Completions
        && logging.log_statistics
    {
        errs.push(FieldError::new(
            "@entity",
            "anthropic does not support statistics when route_type is llm/v1/completions",
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
        assert!(serves(&a, RouteType::Chat));
        assert!(serves(&a, RouteType::Completions));
        assert!(serves(&a, RouteType::Preserve));
        assert!(!serves(&a, RouteType::Embeddings));
        assert!(!serves(&a, RouteType::Responses));
        // Kong's schema accepts what its drivers refuse per request: so does the CP.
        assert!(validate(&a, RouteType::Embeddings, &Logging::default()).is_empty());
        let stats = Logging {
            log_statistics: true,
            log_payloads: false,
        };
        let e = validate(&a, RouteType::Completions, &stats);
        assert_eq!(
            e[0].to_string(),
            "@entity: anthropic does not support statistics when route_type is llm/v1/completions"
        );
        let g = model(json!({"provider": "gemini", "name": "gemini-2.5-flash"}));
        assert!(serves(&g, RouteType::Embeddings));
        assert!(!serves(&g, RouteType::Completions));
        let v = model(
            json!({"provider": "gemini", "name": "g", "options": {"gemini":
            {"api_endpoint": "us-aiplatform.googleapis.com", "project_id": "p", "location_id": "us"}}}),
        );
        assert!(serves(&v, RouteType::Completions));
        for p in ["cohere", "bedrock"] {
            let m = model(json!({"provider": p, "name": "m"}));
            assert!(serves(&m, RouteType::Embeddings) && serves(&m, RouteType::Completions));
            assert!(!serves(&m, RouteType::Responses));
        }
        let o = model(
            json!({"provider": "ollama", "options": {"upstream_url": "http://127.0.0.1:11434"}}),
        );
        assert!(serves(&o, RouteType::Embeddings));
        assert!(!serves(&o, RouteType::Responses));
        assert!(!serves(&o, RouteType::Completions));
    }

    #[test]
    fn required_options() {
        let e = validate(
            &model(json!({"provider": "llama2"})),
            RouteType::Chat,
            &Logging::default(),
        );
        assert_eq!(
            e[0].to_string(),
            "model.options.upstream_url: must set 'model.options.upstream_url' for self-hosted providers/models"
        );
        let az = validate(
            &model(json!({"provider": "azure", "options": {"azure_instance": "i"}})),
            RouteType::Chat,
            &Logging::default(),
        );
        assert_eq!(az.len(), 1);
        let raw = validate(
            &model(
                json!({"provider": "llama2", "options": {"upstream_url": "http://x", "llama2_format": "raw"}}),
            ),
            RouteType::Chat,
            &Logging::default(),
        );
        assert!(raw.is_empty(), "{raw:?}");
        let odd = validate(
            &model(
                json!({"provider": "llama2", "options": {"upstream_url": "http://x", "llama2_format": "tgi"}}),
            ),
            RouteType::Chat,
            &Logging::default(),
        );
        assert_eq!(odd[0].message, "expected one of: raw, openai, ollama");
    }
}
