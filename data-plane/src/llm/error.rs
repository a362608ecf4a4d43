//! Errors at the edge of the LLM layer: a client request or an upstream response that cannot be
//! translated between OpenAI's format and a provider's. The AI plugin turns them into Kong's
//! `{"error":{"message":…}}` bodies.

/// Why a body could not be translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    /// The provider has no API for this route type (Kong's driver has no transformer for it);
    /// `route_type` is prefixed with `stream/` when only streaming is missing.
    #[error("no transformer for {provider}://{route_type}")]
    Unsupported {
        provider: &'static str,
        route_type: String,
    },
    /// The client's OpenAI-format body lacks what the provider needs (answered with 400).
    #[error("{0}")]
    BadRequest(String),
    /// The upstream's answer is not what its API promises (answered with 500, as Kong does).
    #[error("{0}")]
    BadResponse(String),
    /// The configured or computed upstream URL does not parse.
    #[error("bad upstream url: {0}")]
    Url(String),
}

impl TranslateError {
    /// The HTTP status the client gets for this error.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::BadRequest(_) | Self::Unsupported { .. } => http::StatusCode::BAD_REQUEST,
            Self::BadResponse(_) | Self::Url(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(
            TranslateError::BadRequest("x".into()).status(),
            http::StatusCode::BAD_REQUEST
        );
        let u = TranslateError::Unsupported {
            provider: "anthropic",
            route_type: "llm/v1/embeddings".into(),
        };
        assert_eq!(
            u.to_string(),
            "no transformer for anthropic://llm/v1/embeddings"
        );
        assert_eq!(
            TranslateError::BadResponse("y".into()).status(),
            http::StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
