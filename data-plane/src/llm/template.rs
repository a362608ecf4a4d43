//! Kong's `$(source.key)` model templates, resolved per request before a target is called:
//! a `model.name` or a top-level string option that holds `$(headers.x-model)` or
//! `$(query_params.deployment)` is replaced, whole, by that request value. Errors are Kong's
//! 400 messages. (`uri_captures` templates are refused by the control plane.)

use http::HeaderMap;
use proto::schema::plugins::ai::ModelOptions;

use crate::plugins::log::capture::decode;

/// Where template values come from: the client's headers and query string.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub headers: &'a HeaderMap,
    pub query: Option<&'a str>,
}

/// The text between the first `$(` and the next `)`, as Kong's pattern `%$%((.-)%)` finds it.
fn directive(v: &str) -> Option<&str> {
    let start = v.find("$(")? + 2;
    let len = v[start..].find(')')?;
    Some(&v[start..start + len])
}

/// Whether a value is a template.
pub fn is_template(v: &str) -> bool {
    directive(v).is_some()
}

impl Source<'_> {
    /// The request's value of `source.key`; `Err` for a source Kong does not know.
    fn lookup(&self, source: &str, key: &str) -> Result<Option<String>, String> {
        match source {
            "headers" => Ok(self
                .headers
                .get(key)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)),
            "query_params" => Ok(self.query.and_then(|q| {
                q.split('&').find_map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(k) == key).then(|| decode(v))
                })
            })),
            other => Err(format!("source '{other}' is not supported")),
        }
    }

    /// `(source, key)` of a directive, Kong's "cannot parse" when it is not `a.b`.
    fn split<'d>(d: &'d str, field: &str) -> Result<(&'d str, &'d str), String> {
        let parts: Vec<&str> = d.split('.').collect();
        match parts.as_slice() {
            [s, k] => Ok((s, k)),
            _ => Err(format!("cannot parse expression for field '{field}'")),
        }
    }

    /// `model.name` with its template resolved.
    pub fn name(&self, name: &str) -> Result<String, String> {
        let Some(d) = directive(name) else {
            return Ok(name.to_string());
        };
        let (source, key) = Self::split(d, "model.name")?;
        self.lookup(source, key)?
            .ok_or_else(|| format!("'{source}', key '{key}' was not provided"))
    }

    fn option(&self, v: &mut Option<String>) -> Result<(), String> {
        let Some(d) = v.as_deref().and_then(directive) else {
            return Ok(());
        };
        let field = v.clone().unwrap_or_default();
        let (source, key) = Self::split(d, &field)?;
        let value = self
            .lookup(source, key)?
            .ok_or_else(|| format!("{source} key {key} was not provided"))?;
        *v = Some(value);
        Ok(())
    }

    /// `options` with the templates of its string options resolved.
    pub fn options(&self, options: &ModelOptions) -> Result<ModelOptions, String> {
        let mut o = options.clone();
        for v in [
            &mut o.upstream_url,
            &mut o.upstream_path,
            &mut o.anthropic_version,
            &mut o.azure_instance,
            &mut o.azure_api_version,
            &mut o.azure_deployment_id,
        ] {
            self.option(v)?;
        }
        Ok(o)
    }
}

/// Whether a target needs templates resolved per request.
pub fn templated(name: Option<&str>, o: &ModelOptions) -> bool {
    name.is_some_and(is_template)
        || [
            &o.upstream_url,
            &o.upstream_path,
            &o.anthropic_version,
            &o.azure_instance,
            &o.azure_api_version,
            &o.azure_deployment_id,
        ]
        .into_iter()
        .any(|v| v.as_deref().is_some_and(is_template))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source<'a>(h: &'a HeaderMap, q: Option<&'a str>) -> Source<'a> {
        Source {
            headers: h,
            query: q,
        }
    }

    #[test]
    fn values_come_from_headers_and_query() {
        let mut h = HeaderMap::new();
        h.insert("x-model", "gpt-4o".parse().unwrap());
        let s = source(&h, Some("a=1&deployment=dep%201"));
        assert_eq!(s.name("$(headers.x-model)").unwrap(), "gpt-4o");
        assert_eq!(s.name("plain").unwrap(), "plain");
        let o = ModelOptions {
            azure_deployment_id: Some("$(query_params.deployment)".into()),
            azure_instance: Some("fixed".into()),
            ..Default::default()
        };
        assert!(templated(None, &o));
        let r = s.options(&o).unwrap();
        assert_eq!(r.azure_deployment_id.as_deref(), Some("dep 1"));
        assert_eq!(r.azure_instance.as_deref(), Some("fixed"));
    }

    #[test]
    fn kongs_errors() {
        let h = HeaderMap::new();
        let s = source(&h, None);
        assert_eq!(
            s.name("$(headers.x-model)").unwrap_err(),
            "'headers', key 'x-model' was not provided"
        );
        assert_eq!(
            s.name("$(headers_x)").unwrap_err(),
            "cannot parse expression for field 'model.name'"
        );
        assert_eq!(
            s.name("$(cookies.a)").unwrap_err(),
            "source 'cookies' is not supported"
        );
        let o = ModelOptions {
            azure_instance: Some("$(uri_captures_uri_cap_1)".into()),
            ..Default::default()
        };
        assert_eq!(
            s.options(&o).unwrap_err(),
            "cannot parse expression for field '$(uri_captures_uri_cap_1)'"
        );
        let o = ModelOptions {
            upstream_url: Some("$(query_params.url)".into()),
            ..Default::default()
        };
        assert_eq!(
            s.options(&o).unwrap_err(),
            "query_params key url was not provided"
        );
        assert!(!templated(Some("gpt-4o"), &ModelOptions::default()));
    }
}
