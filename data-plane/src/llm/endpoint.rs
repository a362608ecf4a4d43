//! Where a call goes: the provider's default host and path per route type, or `upstream_url`
//! (its path kept when it has one), plus the query the provider needs (azure `api-version`,
//! gemini `alt=sse`) and the client's query. Runs once per request, after the balancer.

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

/// (scheme://authority, path) when no `upstream_url` is configured; `None` base means the
/// provider has no public endpoint.
fn defaults(c: &Call<'_>) -> Result<(Option<String>, Option<String>), TranslateError> {
    let rt = c.route_type;
    let format = c.format()?;
    Ok(match c.provider {
        Provider::Azure => {
            let instance = need(
                c.options.azure_instance.as_deref(),
                "options.azure_instance",
                c,
            )?;
            let base = format!("https://{instance}.openai.azure.com:443");
            let path = if rt == RouteType::Responses {
                Some("/openai/v1/responses".to_string())
            } else {
                let dep = need(
                    c.options.azure_deployment_id.as_deref(),
                    "options.azure_deployment_id",
                    c,
                )?;
                openai::path(rt)
                    .map(|p| format!("/openai/deployments/{dep}{}", p.trim_start_matches("/v1")))
            };
            (Some(base), path)
        }
        Provider::Gemini => {
            let vertex = gemini_vertex(c);
            let base = match vertex {
                Some((host, _, _)) => format!("https://{host}"),
                None => gemini::BASE.to_string(),
            };
            let path = match rt {
                RouteType::Chat | RouteType::Completions => {
                    Some(gemini::chat_path(c.model, c.stream, vertex))
                }
                RouteType::Embeddings => Some(gemini::embed_path(c.model, vertex)),
                _ => None,
            };
            (Some(base), path)
        }
        Provider::Mistral if format == Format::OpenAi => (
            Some("https://api.mistral.ai:443".into()),
            openai::path(rt).map(str::to_string),
        ),
        Provider::Bedrock if rt != RouteType::Preserve => match bedrock::region(c.options) {
            Some(region) => {
                let (base, path) = bedrock::endpoint(&region, c.model, rt, c.stream);
                (Some(base), Some(path))
            }
            None if c.options.upstream_url.is_some() => {
                (None, Some(bedrock::endpoint("", c.model, rt, c.stream).1))
            }
            None => {
                return Err(TranslateError::Url(
                    "provider bedrock needs options.bedrock.aws_region (or AWS_REGION)".into(),
                ))
            }
        },
        Provider::Anthropic => (
            Some(anthropic::BASE.into()),
            Some(match rt {
                RouteType::Completions => completions::ANTHROPIC_PATH.into(),
                _ => anthropic::CHAT_PATH.into(),
            }),
        ),
        Provider::Cohere => (
            Some(cohere::BASE.into()),
            Some(match rt {
                RouteType::Completions => completions::COHERE_PATH.into(),
                RouteType::Embeddings => embeddings::COHERE_PATH.into(),
                _ => cohere::CHAT_PATH.into(),
            }),
        ),
        _ if format == Format::Ollama => (None, ollama::path(rt).map(str::to_string)),
        // Raw llama2 is served at its `upstream_url`, path and all.
        _ if format == Format::Llama2Raw => (None, None),
        Provider::Openai => (
            Some(format!(
                "{}://{}",
                openai::DEFAULT_SCHEME,
                openai::DEFAULT_AUTHORITY
            )),
            openai::path(rt).map(str::to_string),
        ),
        _ => (None, openai::path(rt).map(str::to_string)),
    })
}

/// The upstream URI of a call. `extra` is an auth query parameter.
pub fn uri(
    c: &Call<'_>,
    client_path: &str,
    client_query: Option<&str>,
    extra: Option<&(String, String)>,
) -> Result<Uri, TranslateError> {
    let (default_base, default_path) = defaults(c)?;
    let preserve = c.route_type == RouteType::Preserve;
    let (base, mut path) = match &c.options.upstream_url {
        Some(url) => {
            let u: Uri = url
                .parse()
                .map_err(|e| TranslateError::Url(format!("'{url}': {e}")))?;
            let scheme = u.scheme_str().unwrap_or("https");
            let authority = u
                .authority()
                .ok_or_else(|| TranslateError::Url(format!("'{url}' has no host")))?;
            let p = u.path();
            let path = match (p.is_empty() || p == "/", preserve) {
                (false, _) => p.to_string(),
                (true, true) => client_path.to_string(),
                (true, false) => default_path.unwrap_or_else(|| p.to_string()),
            };
            (format!("{scheme}://{authority}"), path)
        }
        None => {
            let base = default_base.ok_or_else(|| {
                TranslateError::Url(format!(
                    "provider {} needs options.upstream_url",
                    c.provider.as_str()
                ))
            })?;
            (
                base,
                default_path.unwrap_or_else(|| client_path.to_string()),
            )
        }
    };
    if let Some(p) = &c.options.upstream_path {
        path = p.clone();
    }
    let mut query: Vec<String> = client_query
        .filter(|q| !q.is_empty())
        .map(|q| vec![q.to_string()])
        .unwrap_or_default();
    if c.provider == Provider::Azure
        && !query
            .iter()
            .any(|q| q.split('&').any(|kv| kv.starts_with("api-version=")))
    {
        let v = c
            .options
            .azure_api_version
            .as_deref()
            .unwrap_or("2023-05-15");
        query.push(format!("api-version={v}"));
    }
    if c.provider == Provider::Gemini && c.stream && !preserve {
        query.push("alt=sse".into());
    }
    if let Some((k, v)) = extra {
        query.push(format!("{k}={v}"));
    }
    let pq = if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.join("&"))
    };
    format!("{base}{pq}")
        .parse()
        .map_err(|e| TranslateError::Url(format!("{e}")))
}
