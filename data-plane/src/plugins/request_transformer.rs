//! `request-transformer` access phase (priority 801, after authentication, before the AI
//! plugins and the upstream): rewrites the method, headers, query string and (JSON or form)
//! body of the request, in Kong's order, and may replace the upstream path. Values may be
//! templates (`$(headers.x)`, `$(query_params.y)`, `$(uri_captures.z)`), rendered from the
//! request as it arrived (`env`).

mod args;
pub mod body;
pub mod env;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::request::Parts;
use http::{HeaderMap, Method, Uri};
use proto::schema::plugins::request_transformer::RequestTransformerConfig;

use crate::router::captures::UriCaptures;
use args::Args;
use env::{Changes, Env, RenderError};

/// The template environment for a request (empty when `cfg` has no template; `captures` is
/// asked only then).
pub fn env(
    cfg: &RequestTransformerConfig,
    parts: &Parts,
    captures: impl FnOnce() -> Option<UriCaptures>,
) -> Env {
    if !env::templated(cfg) {
        return Env::default();
    }
    Env::new(parts.headers.clone(), parts.uri.query(), captures())
}

/// Rewrites method, headers and query string in place (Kong: uri, method, headers, …,
/// querystring). Returns the upstream path set by `replace.uri`, if any.
pub fn access(
    cfg: &RequestTransformerConfig,
    env: &Env,
    parts: &mut Parts,
) -> Result<Option<String>, RenderError> {
    let uri = match cfg.replace.uri.as_deref() {
        Some(u) => Some(env.render(u)?.into_owned()),
        None => None,
    };
    if let Some(m) = cfg
        .http_method
        .as_deref()
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
    {
        parts.method = m;
    }
    headers(&env.headers(cfg)?, &mut parts.headers);
    if [
        &cfg.remove.querystring,
        &cfg.rename.querystring,
        &cfg.replace.querystring,
        &cfg.add.querystring,
        &cfg.append.querystring,
    ]
    .iter()
    .any(|l| !l.is_empty())
    {
        let mut a = Args::parse(parts.uri.query().unwrap_or(""));
        a.transform(&env.querystring(cfg)?);
        let q = a.encode();
        let pq = if q.is_empty() {
            parts.uri.path().to_string()
        } else {
            format!("{}?{q}", parts.uri.path())
        };
        let mut up = parts.uri.clone().into_parts();
        if let Ok(p) = pq.parse() {
            up.path_and_query = Some(p);
            if let Ok(u) = Uri::from_parts(up) {
                parts.uri = u;
            }
        }
    }
    Ok(uri)
}

/// A header entry; a value that renders empty is none (nginx does not send an empty header
/// that a plugin sets, it clears it).
fn header(n: &str, v: &str) -> Option<(HeaderName, Option<HeaderValue>)> {
    let name = HeaderName::try_from(n.trim()).ok()?;
    if v.is_empty() {
        return Some((name, None));
    }
    Some((name, Some(HeaderValue::try_from(v).ok()?)))
}

fn headers(c: &Changes<'_>, h: &mut HeaderMap) {
    for name in c.remove {
        if let Ok(n) = HeaderName::try_from(name.as_str()) {
            h.remove(n);
        }
    }
    for (from, to) in &c.rename {
        let (Ok(from), Ok(to)) = (
            HeaderName::try_from(*from),
            HeaderName::try_from(to.as_ref()),
        ) else {
            continue;
        };
        let values: Vec<HeaderValue> = h.get_all(&from).iter().cloned().collect();
        if !values.is_empty() {
            h.remove(&from);
            h.remove(&to);
            for v in values {
                h.append(to.clone(), v);
            }
        }
    }
    for (n, v) in c.replace.iter().filter_map(|(n, v)| header(n, v)) {
        if h.contains_key(&n) {
            match v {
                Some(v) => h.insert(n, v),
                None => h.remove(n),
            };
        }
    }
    for (n, v) in c.add.iter().filter_map(|(n, v)| header(n, v)) {
        if let (false, Some(v)) = (h.contains_key(&n), v) {
            h.insert(n, v);
        }
    }
    for (n, v) in c.append.iter().filter_map(|(n, v)| header(n, v)) {
        if let Some(v) = v {
            h.append(n, v);
        }
    }
}

/// Whether the body must be read: body changes are configured and the body is JSON or a form,
/// or has no content type while `add.body` is set (Kong then makes it a form).
pub fn wants_body(cfg: &RequestTransformerConfig, h: &HeaderMap) -> bool {
    if !cfg.touches_body() {
        return false;
    }
    let ct = h.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    body::kind(ct).is_some() || (ct.is_none() && !cfg.add.body.is_empty())
}

/// The transformed body (the headers get a content type when Kong would set one), or the
/// body unchanged.
pub fn transform_body(
    cfg: &RequestTransformerConfig,
    env: &Env,
    h: &mut HeaderMap,
    b: Bytes,
) -> Result<Bytes, RenderError> {
    let ct = h.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let kind = match (body::kind(ct), ct) {
        (Some(k), _) => k,
        (None, None) if !cfg.add.body.is_empty() => {
            h.insert(CONTENT_TYPE, HeaderValue::from_static(body::FORM));
            body::Kind::Form
        }
        _ => return Ok(b),
    };
    Ok(body::transform(&env.body(cfg)?, kind, &b).unwrap_or(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(v: serde_json::Value) -> RequestTransformerConfig {
        serde_json::from_value(v).unwrap()
    }

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn headers_query_method_and_uri() {
        let c = cfg(json!({
            "http_method": "POST",
            "remove": {"headers": ["x-drop"], "querystring": ["q1"]},
            "rename": {"headers": ["x-old:x-new"]},
            "replace": {"headers": ["x-keep:replaced", "x-absent:no"], "uri": "/v2/things"},
            "add": {"headers": ["x-keep:not-added", "x-added:yes"], "querystring": ["q3:c"]},
            "append": {"headers": ["x-multi:two"]}
        }));
        let mut p = parts(
            "/path?q1=a&q2=b",
            &[
                ("x-drop", "1"),
                ("x-old", "o"),
                ("x-keep", "k"),
                ("x-multi", "one"),
            ],
        );
        let uri = access(&c, &Env::default(), &mut p).unwrap();
        assert_eq!(uri.as_deref(), Some("/v2/things"));
        assert_eq!(p.method, Method::POST);
        assert_eq!(p.uri.to_string(), "/path?q2=b&q3=c");
        let h = &p.headers;
        assert!(
            !h.contains_key("x-drop") && !h.contains_key("x-old") && !h.contains_key("x-absent")
        );
        assert_eq!(h["x-new"], "o");
        assert_eq!(h["x-keep"], "replaced");
        assert_eq!(h["x-added"], "yes");
        let multi: Vec<_> = h.get_all("x-multi").iter().collect();
        assert_eq!(multi, vec!["one", "two"]);
    }

    #[test]
    fn body_without_content_type_becomes_a_form_when_adding() {
        let c = cfg(json!({"add": {"body": ["k:v"]}}));
        let mut h = HeaderMap::new();
        assert!(wants_body(&c, &h));
        let out = transform_body(&c, &Env::default(), &mut h, Bytes::new()).unwrap();
        assert_eq!(&out[..], b"k=v");
        assert_eq!(h[CONTENT_TYPE], body::FORM);
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(!wants_body(&c, &h));
        assert!(!wants_body(&cfg(json!({})), &HeaderMap::new()));
    }
}
