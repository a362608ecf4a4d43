//! Upstream auth of one AI attempt, applied by the access phase after the body is merged:
//! `auth.header_*` (client value kept with `allow_override`), `auth.param_*` in the query or
//! the body, and Bedrock's SigV4 headers over the final URI and body.

use http::header::{HeaderName, HeaderValue};
use http::Uri;
use proto::schema::plugins::ai::{Auth, ParamLocation};
use serde_json::{Map, Value};

use super::AiTarget;

/// Adds the auth header to `headers` and a body parameter to `json`; returns the query
/// parameter to add, if any.
pub(super) fn apply(
    a: &Auth,
    client_headers: &http::HeaderMap,
    headers: &mut Vec<(HeaderName, HeaderValue)>,
    json: &mut Map<String, Value>,
) -> Option<(String, String)> {
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
    let (Some(n), Some(v), Some(loc)) = (&a.param_name, &a.param_value, a.param_location) else {
        return None;
    };
    match loc {
        ParamLocation::Query => Some((n.clone(), v.clone())),
        ParamLocation::Body => {
            if !(a.allow_override && json.contains_key(n)) {
                json.insert(n.clone(), Value::String(v.clone()));
            }
            None
        }
    }
}

/// The SigV4 headers of a Bedrock request, signed now.
pub(super) fn sign_bedrock(
    target: &AiTarget,
    uri: &Uri,
    body: &[u8],
) -> Result<Vec<(HeaderName, HeaderValue)>, crate::llm::error::TranslateError> {
    use crate::llm::{bedrock, error::TranslateError};
    let creds = bedrock::credentials(target.auth.as_ref()).ok_or_else(|| {
        TranslateError::Url(
            "provider bedrock needs auth.aws_access_key_id/aws_secret_access_key (or AWS_* env)"
                .into(),
        )
    })?;
    let region = bedrock::region(&target.options).unwrap_or_else(|| "us-east-1".into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    bedrock::sign(uri, body, &creds, &region, now)
}
