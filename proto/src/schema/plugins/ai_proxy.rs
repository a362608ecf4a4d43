//! `ai-proxy` config: one model behind a route.

use serde::{Deserialize, Serialize};

use super::ai::{self, Auth, Logging, Model, RouteType};
use crate::schema::error::FieldError;

pub const PRIORITY: i32 = 770;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiProxyConfig {
    pub route_type: RouteType,
    pub model: Model,
    #[serde(default)]
    pub auth: Option<Auth>,
    #[serde(default)]
    pub logging: Logging,
    #[serde(default = "ai::default_response_streaming")]
    pub response_streaming: String,
    #[serde(default = "ai::default_max_body")]
    pub max_request_body_size: u64,
    #[serde(default = "ai::yes")]
    pub model_name_header: bool,
    #[serde(default = "ai::default_llm_format")]
    pub llm_format: String,
    #[serde(default = "ai::default_genai_category")]
    pub genai_category: String,
}

impl AiProxyConfig {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = ai::validate_model(&self.model, self.auth.as_ref());
        errs.extend(ai::providers::validate(
            &self.model,
            self.route_type,
            &self.logging,
        ));
        errs.extend(ai::check_common(
            &self.response_streaming,
            &self.llm_format,
            &self.genai_category,
            false,
        ));
        errs
    }
}
