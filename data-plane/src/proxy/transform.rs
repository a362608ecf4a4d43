//! The request-transformer phase on the request path: rewrites the request parts, reads and
//! rewrites the body when a body change applies to it, and keeps `replace.uri` for the upstream.

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::request::Parts;
use hyper::body::Incoming;
use proto::schema::plugins::request_transformer::RequestTransformerConfig;

use super::{read_body, Ctx, KEY_IN_BODY_LIMIT};
use crate::plugins::request_transformer as rt;

/// The body did not fit the limit (the caller answers 413).
#[derive(Debug, thiserror::Error)]
#[error("request body is too large to transform")]
pub(super) struct TooLarge;

pub(super) async fn request(
    ctx: &mut Ctx,
    cfg: &RequestTransformerConfig,
    parts: &mut Parts,
    body: &mut Option<Incoming>,
    buffered: &mut Option<Bytes>,
) -> Result<(), TooLarge> {
    if let Some(path) = rt::access(cfg, parts) {
        ctx.upstream_path = Some(path);
    }
    if !rt::wants_body(cfg, &parts.headers) {
        return Ok(());
    }
    let bytes = match buffered.take() {
        Some(b) => b,
        None => read_body(body.take(), KEY_IN_BODY_LIMIT)
            .await
            .map_err(|_| TooLarge)?,
    };
    let out = rt::transform_body(cfg, &mut parts.headers, bytes);
    // The upstream request gets the new length from the buffered body.
    parts.headers.remove(CONTENT_LENGTH);
    *buffered = Some(out);
    Ok(())
}
