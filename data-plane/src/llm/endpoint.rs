//! Where a call goes: the provider's default host and path per route type, or `upstream_url`
//! (its path kept when it has one), plus the query the provider needs (azure `api-version`,
//! gemini `alt=sse`) and the client's query. Runs once per request, after the balancer.

use std::borrow::Cow;

use http::Uri;
use proto::schema::plugins::ai::{Provider, RouteType};

use super::error::TranslateError;
use super::provider::{Call, Format};
use super::{anthropic, bedrock, cohere, completions, embeddings, gemini, ollama, openai};

fn need<'a>(v: Option<&'a str>, what: &str, c: &Call<'_>) -> Result<&'a str, TranslateError> {
    v.filter(|s| !s.is_empty()).ok_or_else(|| {
        TranslateError::Url(format!("provider {} needs {what}", c.provider.as_str()))
    })
}

fn gemini_vertex<'a>(c: &Call<'a>) -> Option<(&'a str, &'a str, &'a str)> {
    let g = c.options.gemini.as_ref()?;
    let s = |k: &str| g.get(k).and_then(|v| v.as_str());
    Some((s("api_endpoint")?, s("project_id")?, s("location_id")?))
}

/// A default base or path; constant ones are borrowed (no allocation per request).
type Part = Option<Cow<'static, str>>;

/// (scheme://authority, path) when no `upstream_url` is configured; `None` base means the
/// provider has no public endpoint.
fn defaults(c: &Call<'_>) -> Result<(Part, Part), TranslateError> {
    let rt = c.route_type;
    let format = c.format()?;
    Ok(match c.provider {
        Provider::Azure => {
            let instance = need(
                c.options.azure_instance.as_deref(),
                "options.azure_instance",
                c,
            )?;
            let base = Cow::Owned(format!("https://{instance}.openai.azure.com:443"));
            let path = if rt == RouteType::Responses {
                Some(Cow::Borrowed("/openai/v1/responses"))
            } else {
                let dep = need(
                    c.options.azure_deployment_id.as_deref(),
                    "options.azure_deployment_id",
                    c,
                )?;
                openai::path(rt).map(|p| {
                    Cow::Owned(format!(
                        "/openai/deployments/{dep}{}",
                        p.trim_start_matches("/v1")
                    ))
                })
            };
            (Some(base), path)
        }
        Provider::Gemini => {
            let vertex = gemini_vertex(c);
            let base = match vertex {
                Some((host, _, _)) => Cow::Owned(format!("https://{host}")),
                None => Cow::Borrowed(gemini::BASE),
            };
            let path = match rt {
                RouteType::Chat | RouteType::Completions => {
                    Some(Cow::Owned(gemini::chat_path(c.model, c.stream, vertex)))
                }
                RouteType::Embeddings => Some(Cow::Owned(gemini::embed_path(c.model, vertex))),
                _ => None,
            };
            (Some(base), path)
        }
        Provider::Mistral if format == Format::OpenAi => (
            Some(Cow::Borrowed("https://api.mistral.ai:443")),
            openai::path(rt).map(Cow::Borrowed),
        ),
        Provider::Bedrock if rt != RouteType::Preserve => match bedrock::region(c.options) {
            Some(region) => {
                let (base, path) = bedrock::endpoint(&region, c.model, rt, c.stream);
                (Some(Cow::Owned(base)), Some(Cow::Owned(path)))
            }
            None if c.options.upstream_url.is_some() => (
                None,
                Some(Cow::Owned(bedrock::endpoint("", c.model, rt, c.stream).1)),
            ),
            None => {
                return Err(TranslateError::Url(
                    "provider bedrock needs options.bedrock.aws_region (or AWS_REGION)".into(),
                ))
            }
        },
        Provider::Anthropic => (
            Some(Cow::Borrowed(anthropic::BASE)),
            Some(Cow::Borrowed(match rt {
                RouteType::Completions => completions::ANTHROPIC_PATH,
                _ => anthropic::CHAT_PATH,
            })),
        ),
        Provider::Cohere => (
            Some(Cow::Borrowed(cohere::BASE)),
            Some(Cow::Borrowed(match rt {
                RouteType::Completions => completions::COHERE_PATH,
                RouteType::Embeddings => embeddings::COHERE_PATH,
                _ => cohere::CHAT_PATH,
            })),
        ),
        _ if format == Format::Ollama => (None, ollama::path(rt).map(Cow::Borrowed)),
        // Raw llama2 is served at its `upstream_url`, path and all.
        _ if format == Format::Llama2Raw => (None, None),
        Provider::Openai => (
            Some(Cow::Borrowed(openai::DEFAULT_BASE)),
            openai::path(rt).map(Cow::Borrowed),
        ),
        _ => (None, openai::path(rt).map(Cow::Borrowed)),
    })
}

/// The upstream URI of a call. `extra` is an auth query parameter.
pub fn uri(
    c: &Call<'_>,
    client_path: &str,
    client_query: Option<&str>,
    extra: Option<&(String, String)>,
) -> Result<Uri, TranslateError> {
    uri_with(c, None, client_path, client_query, extra)
}

/// `uri` with `parsed_url`: `c.options.upstream_url` already parsed, if it was. The URI is
/// written into one buffer and parsed once (no intermediate strings, no query list).
pub fn uri_with(
    c: &Call<'_>,
    parsed_url: Option<&Uri>,
    client_path: &str,
    client_query: Option<&str>,
    extra: Option<&(String, String)>,
) -> Result<Uri, TranslateError> {
    let (default_base, default_path) = defaults(c)?;
    let preserve = c.route_type == RouteType::Preserve;
    let mut s = String::with_capacity(128);
    let owned;
    let path: &str = match &c.options.upstream_url {
        Some(url) => {
            let parsed = match parsed_url {
                Some(u) => u,
                None => {
                    owned = url
                        .parse::<Uri>()
                        .map_err(|e| TranslateError::Url(format!("'{url}': {e}")))?;
                    &owned
                }
            };
            let scheme = parsed.scheme_str().unwrap_or("https");
            let authority = parsed
                .authority()
                .ok_or_else(|| TranslateError::Url(format!("'{url}' has no host")))?;
            s.push_str(scheme);
            s.push_str("://");
            s.push_str(authority.as_str());
            let p = parsed.path();
            match (p.is_empty() || p == "/", preserve) {
                (false, _) => p,
                (true, true) => client_path,
                (true, false) => default_path.as_deref().unwrap_or(p),
            }
        }
        None => {
            let base = default_base.ok_or_else(|| {
                TranslateError::Url(format!(
                    "provider {} needs options.upstream_url",
                    c.provider.as_str()
                ))
            })?;
            s.push_str(&base);
            default_path.as_deref().unwrap_or(client_path)
        }
    };
    s.push_str(c.options.upstream_path.as_deref().unwrap_or(path));
    let mut sep = '?';
    let mut param = |s: &mut String, parts: &[&str]| {
        s.push(sep);
        sep = '&';
        for p in parts {
            s.push_str(p);
        }
    };
    let client_query = client_query.filter(|q| !q.is_empty());
    if let Some(q) = client_query {
        param(&mut s, &[q]);
    }
    if c.provider == Provider::Azure
        && !client_query.is_some_and(|q| q.split('&').any(|kv| kv.starts_with("api-version=")))
    {
        let v = c
            .options
            .azure_api_version
            .as_deref()
            .unwrap_or("2023-05-15");
        param(&mut s, &["api-version=", v]);
    }
    if c.provider == Provider::Gemini && c.stream && !preserve {
        param(&mut s, &["alt=sse"]);
    }
    if let Some((k, v)) = extra {
        param(&mut s, &[k, "=", v]);
    }
    Uri::try_from(s).map_err(|e| TranslateError::Url(format!("{e}")))
}

#[cfg(test)]
mod tests;
