//! What request-transformer templates read (Kong's template environment): the client's request
//! headers and query arguments as they arrived (before any change of this plugin) and the
//! route's `uri_captures`; and each configured list with its values rendered.

use std::borrow::Cow;

use http::HeaderMap;
use proto::schema::plugins::request_transformer::template::{self, Key, Source};
use proto::schema::plugins::request_transformer::{split_pair, RequestTransformerConfig};

use super::args::Args;
use crate::router::captures::UriCaptures;

/// A template the DP cannot render (the CP refuses these; Kong answers 500 for one that fails).
#[derive(Debug, thiserror::Error)]
#[error("request-transformer failed to render the template {value}, error:{reason}")]
pub struct RenderError {
    pub value: String,
    pub reason: String,
}

/// `name:value` entries with their values rendered.
pub type Pairs<'a> = Vec<(&'a str, Cow<'a, str>)>;

/// One part of the request (headers, querystring or body): Kong's five lists.
pub struct Changes<'a> {
    pub remove: &'a [String],
    pub rename: Pairs<'a>,
    pub replace: Pairs<'a>,
    pub add: Pairs<'a>,
    pub append: Pairs<'a>,
}

/// The template environment. Empty (and never read) when the config has no template.
#[derive(Debug, Default)]
pub struct Env {
    headers: HeaderMap,
    query: Args,
    captures: Option<UriCaptures>,
}

/// Whether any value of `cfg` is a template.
pub fn templated(cfg: &RequestTransformerConfig) -> bool {
    let lists = [
        &cfg.rename.headers,
        &cfg.rename.querystring,
        &cfg.rename.body,
        &cfg.replace.headers,
        &cfg.replace.querystring,
        &cfg.replace.body,
        &cfg.add.headers,
        &cfg.add.querystring,
        &cfg.add.body,
        &cfg.append.headers,
        &cfg.append.querystring,
        &cfg.append.body,
    ];
    lists
        .iter()
        .flat_map(|l| l.iter())
        .any(|e| template::is_templated(e))
        || cfg
            .replace
            .uri
            .as_deref()
            .is_some_and(template::is_templated)
}

impl Env {
    /// The environment of a request with these (original) headers, query and captures.
    pub fn new(headers: HeaderMap, query: Option<&str>, captures: Option<UriCaptures>) -> Self {
        Env {
            headers,
            query: Args::parse(query.unwrap_or("")),
            captures,
        }
    }

    /// `value` rendered (borrowed when it holds no template).
    pub fn render<'v>(&self, value: &'v str) -> Result<Cow<'v, str>, RenderError> {
        if !template::is_templated(value) {
            return Ok(Cow::Borrowed(value));
        }
        let t = template::parse(value).map_err(|e| RenderError {
            value: value.to_string(),
            reason: e.0,
        })?;
        Ok(Cow::Owned(t.render(&mut |s, k| self.lookup(s, k))))
    }

    /// Lua's view of one field: a header (case-insensitive, `_` read as `-` as nginx's
    /// `get_headers` does; repeated ones joined with ", "), a query argument (the first value;
    /// a flag without value is Lua's `true`), or a capture (named, or by number).
    fn lookup(&self, source: Source, key: &Key) -> Option<String> {
        match (source, key) {
            (Source::Headers, Key::Name(n)) => {
                let lower = n.to_ascii_lowercase();
                let mut vals = self.headers.get_all(lower.as_str()).iter().peekable();
                if vals.peek().is_none() {
                    vals = self
                        .headers
                        .get_all(lower.replace('_', "-").as_str())
                        .iter()
                        .peekable();
                }
                let vals: Vec<&str> = vals.filter_map(|v| v.to_str().ok()).collect();
                (!vals.is_empty()).then(|| vals.join(", "))
            }
            (Source::QueryParams, Key::Name(n)) => {
                let (_, vs) = self.query.0.iter().find(|(k, _)| k == n)?;
                match vs.first()? {
                    Some(v) => Some(v.clone()),
                    None => Some("true".to_string()),
                }
            }
            (Source::UriCaptures, Key::Name(n)) => {
                self.captures.as_ref()?.name(n).map(str::to_string)
            }
            (Source::UriCaptures, Key::Index(i)) => self
                .captures
                .as_ref()?
                .index(usize::try_from(*i).ok()?)
                .map(str::to_string),
            // Headers and arguments have no numbered entries.
            (_, Key::Index(_)) => None,
        }
    }

    /// The `name:value` entries of `list`, values rendered.
    pub fn pairs<'a>(&self, list: &'a [String]) -> Result<Pairs<'a>, RenderError> {
        let mut out = Vec::with_capacity(list.len());
        for e in list {
            if let Some((n, v)) = split_pair(e) {
                out.push((n, self.render(v)?));
            }
        }
        Ok(out)
    }

    fn changes<'a>(
        &self,
        remove: &'a [String],
        lists: [&'a [String]; 4],
    ) -> Result<Changes<'a>, RenderError> {
        let [rename, replace, add, append] = lists;
        Ok(Changes {
            remove,
            rename: self.pairs(rename)?,
            replace: self.pairs(replace)?,
            add: self.pairs(add)?,
            append: self.pairs(append)?,
        })
    }

    pub fn headers<'a>(
        &self,
        cfg: &'a RequestTransformerConfig,
    ) -> Result<Changes<'a>, RenderError> {
        self.changes(
            &cfg.remove.headers,
            [
                &cfg.rename.headers,
                &cfg.replace.headers,
                &cfg.add.headers,
                &cfg.append.headers,
            ],
        )
    }

    pub fn querystring<'a>(
        &self,
        cfg: &'a RequestTransformerConfig,
    ) -> Result<Changes<'a>, RenderError> {
        self.changes(
            &cfg.remove.querystring,
            [
                &cfg.rename.querystring,
                &cfg.replace.querystring,
                &cfg.add.querystring,
                &cfg.append.querystring,
            ],
        )
    }

    pub fn body<'a>(&self, cfg: &'a RequestTransformerConfig) -> Result<Changes<'a>, RenderError> {
        self.changes(
            &cfg.remove.body,
            [
                &cfg.rename.body,
                &cfg.replace.body,
                &cfg.add.body,
                &cfg.append.body,
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        let mut h = HeaderMap::new();
        h.insert("x-user", "ann".parse().unwrap());
        h.append("x-multi", "a".parse().unwrap());
        h.append("x-multi", "b".parse().unwrap());
        let paths = ["~/u/(?<name>\\w+)/(\\d+)".to_string()];
        let caps = UriCaptures::of(&paths, "/u/bob/7");
        Env::new(h, Some("z=9&flag&z=10&e="), caps)
    }

    fn r(e: &Env, v: &str) -> String {
        e.render(v).unwrap().into_owned()
    }

    #[test]
    fn each_template_form_renders_from_the_request() {
        let e = env();
        assert_eq!(r(&e, "$(headers.x_user)"), "ann");
        assert_eq!(r(&e, "$(headers[\"X-User\"])"), "ann");
        assert_eq!(r(&e, "$(headers['x-multi'])"), "a, b");
        assert_eq!(r(&e, "$(query_params.z)"), "9");
        assert_eq!(r(&e, "$(query_params.flag)"), "true");
        assert_eq!(r(&e, "$(query_params.e)"), "");
        assert_eq!(
            r(&e, "/v/$(uri_captures.name)/$(uri_captures[2])"),
            "/v/bob/7"
        );
        assert_eq!(r(&e, "$(uri_captures[0])"), "/u/bob/7");
        assert_eq!(r(&e, "plain"), "plain");
    }

    #[test]
    fn missing_values_render_empty_or_fall_back() {
        let e = env();
        assert_eq!(r(&e, "[$(headers.absent)]"), "[]");
        assert_eq!(r(&e, "$(query_params.absent or 'dflt')"), "dflt");
        assert_eq!(r(&e, "$(uri_captures.absent or uri_captures[1])"), "bob");
        assert_eq!(r(&e, "$(headers[1])"), "");
        // No captures at all (a prefix route).
        let none = Env::new(HeaderMap::new(), None, None);
        assert_eq!(r(&none, "$(uri_captures[1] or 'x')"), "x");
    }

    #[test]
    fn a_malformed_template_is_an_error_naming_it() {
        let e = env();
        let err = e.render("$(headers x)").unwrap_err();
        assert_eq!(err.value, "$(headers x)");
        assert!(err
            .to_string()
            .contains("failed to render the template $(headers x)"));
        let c: RequestTransformerConfig =
            serde_json::from_value(serde_json::json!({"add": {"headers": ["a:$(ERROR())"]}}))
                .unwrap();
        assert!(templated(&c));
        assert!(e.headers(&c).is_err());
        assert!(!templated(&RequestTransformerConfig::default()));
    }
}
