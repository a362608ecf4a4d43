//! The request-transformer phase on the request path: renders the config's templates from the
//! request as it arrived, rewrites the request parts, reads and rewrites the body when a body
//! change applies to it, and keeps `replace.uri` for the upstream.

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::request::Parts;
use http::StatusCode;
use proto::schema::plugins::request_transformer::RequestTransformerConfig;

use super::body::ClientBody;
use super::{read_body, reply, Ctx, KEY_IN_BODY_LIMIT};
use crate::plugins::request_transformer as rt;
use crate::plugins::request_transformer::env::RenderError;
use crate::router::captures::UriCaptures;

/// Why the phase ends the request.
#[derive(Debug, thiserror::Error)]
pub(super) enum TransformError {
    /// The body did not fit the limit.
    #[error("request body is too large to transform")]
    TooLarge,
    /// A template could not be rendered (Kong: 500).
    #[error(transparent)]
    Render(#[from] RenderError),
}

impl TransformError {
    /// Kong's status and body for this failure.
    pub(super) fn reply(&self) -> (StatusCode, &'static str) {
        match self {
            TransformError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, reply::BODY_TOO_LARGE),
            TransformError::Render(_) => (StatusCode::INTERNAL_SERVER_ERROR, reply::UNEXPECTED),
        }
    }
}

/// Runs the phase; `route_paths` are the matched route's paths (for `uri_captures`).
pub(super) async fn request(
    ctx: &mut Ctx,
    cfg: &RequestTransformerConfig,
    route_paths: &[String],
    parts: &mut Parts,
    body: &mut Option<ClientBody>,
    buffered: &mut Option<Bytes>,
) -> Result<(), TransformError> {
    let env = rt::env(cfg, parts, || {
        UriCaptures::of(route_paths, parts.uri.path())
    });
    let res = rt::access(cfg, &env, parts).inspect_err(|e| {
        tracing::error!(request_id = %ctx.request_id, error = %e, "request-transformer");
    })?;
    if let Some(path) = res {
        ctx.upstream_path = Some(path);
    }
    if !rt::wants_body(cfg, &parts.headers) {
        return Ok(());
    }
    let bytes = match buffered.take() {
        Some(b) => b,
        None => read_body(body.take(), KEY_IN_BODY_LIMIT)
            .await
            .map_err(|_| TransformError::TooLarge)?,
    };
    let out = rt::transform_body(cfg, &env, &mut parts.headers, bytes)?;
    // The upstream request gets the new length from the buffered body.
    parts.headers.remove(CONTENT_LENGTH);
    *buffered = Some(out);
    Ok(())
}
