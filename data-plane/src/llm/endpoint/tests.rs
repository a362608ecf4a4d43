//! `uri` against the former implementation it replaced, over providers, route types, upstream
//! URLs and paths, queries and auth parameters.

use http::Uri;
use proto::schema::plugins::ai::{ModelOptions, Provider, RouteType};
use serde_json::json;

use super::super::error::TranslateError;
use super::super::provider::Call;
use super::{defaults, uri, uri_with};

/// The former implementation (a `format!` per piece, a query list): what `uri` must equal.
fn reference_uri(
    c: &Call<'_>,
    client_path: &str,
    client_query: Option<&str>,
    extra: Option<&(String, String)>,
) -> Result<Uri, TranslateError> {
    let (default_base, default_path) = defaults(c)?;
    let (default_base, default_path) = (
        default_base.map(|b| b.into_owned()),
        default_path.map(|p| p.into_owned()),
    );
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

fn options(url: Option<&str>, path: Option<&str>) -> ModelOptions {
    ModelOptions {
        upstream_url: url.map(str::to_string),
        upstream_path: path.map(str::to_string),
        azure_instance: Some("inst".into()),
        azure_deployment_id: Some("dep".into()),
        azure_api_version: Some("2024-02-01".into()),
        gemini: Some(json!({"api_endpoint": "vx.example", "project_id": "p", "location_id": "l"})),
        bedrock: Some(json!({"aws_region": "us-east-1"})),
        ..Default::default()
    }
}

fn show(r: Result<Uri, TranslateError>) -> String {
    match r {
        Ok(u) => format!("ok {u}"),
        Err(e) => format!("err {e}"),
    }
}

#[test]
fn same_uri_as_the_former_implementation() {
    let providers = [
        Provider::Openai,
        Provider::Azure,
        Provider::Anthropic,
        Provider::Bedrock,
        Provider::Cohere,
        Provider::Gemini,
        Provider::Mistral,
        Provider::Ollama,
        Provider::Llama2,
        Provider::Deepseek,
        Provider::Vllm,
    ];
    let route_types = [
        RouteType::Chat,
        RouteType::Completions,
        RouteType::Embeddings,
        RouteType::Responses,
        RouteType::Preserve,
    ];
    let urls = [
        None,
        Some("http://127.0.0.1:8080"),
        Some("http://127.0.0.1:8080/"),
        Some("https://up.example/v1/responses"),
        Some("http://up.example:81/custom/path"),
        Some("not a url"),
        Some("/only/a/path"),
    ];
    let paths = [None, Some("/override")];
    let queries = [None, Some(""), Some("a=1&b"), Some("api-version=7&x=y")];
    let extras = [None, Some(("key".to_string(), "s3cret".to_string()))];
    let mut checked = 0;
    for provider in providers {
        for rt in route_types {
            for url in urls {
                for path in paths {
                    let opts = options(url, path);
                    for stream in [false, true] {
                        let call = Call {
                            provider,
                            route_type: rt,
                            model: "m-1",
                            options: &opts,
                            stream,
                        };
                        for q in queries {
                            for extra in &extras {
                                let args = ("/client/p", q, extra.as_ref());
                                let new = show(uri(&call, args.0, args.1, args.2));
                                let old = show(reference_uri(&call, args.0, args.1, args.2));
                                assert_eq!(new, old, "{provider:?} {rt:?} {url:?} {path:?} {q:?}");
                                // The URL parsed once at compile time gives the same.
                                let pre = url.and_then(|u| u.parse::<Uri>().ok());
                                let new =
                                    show(uri_with(&call, pre.as_ref(), args.0, args.1, args.2));
                                assert_eq!(new, old, "{provider:?} {rt:?} {url:?} {path:?} {q:?}");
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 11 * 5 * 7 * 2 * 2 * 4 * 2);
}

#[test]
fn openai_default_base_and_errors() {
    let opts = options(None, None);
    let call = Call {
        provider: Provider::Openai,
        route_type: RouteType::Responses,
        model: "gpt-4o",
        options: &opts,
        stream: false,
    };
    assert_eq!(
        show(uri(&call, "/x", Some("a=b"), None)),
        "ok https://api.openai.com:443/v1/responses?a=b"
    );
    let bad = options(Some("http://[::1"), None);
    let call = Call {
        options: &bad,
        ..call
    };
    assert!(show(uri(&call, "/x", None, None)).starts_with("err "));
    assert!(defaults(&call).is_ok());
}
