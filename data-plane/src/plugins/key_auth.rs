//! `key-auth` access phase: finds the API key (header, query, body), maps it to a consumer,
//! and rewrites the upstream request (consumer headers, hidden credentials).

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, WWW_AUTHENTICATE};
use http::request::Parts;
use http::HeaderMap;
use http::StatusCode;
use proto::schema::plugins::key_auth::KeyAuthConfig;
use proto::schema::Consumer;
use std::sync::Arc;
use uuid::Uuid;

use crate::runtime::ConsumerIndex;

/// The consumer a request runs as after key-auth.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub consumer: Arc<Consumer>,
    pub anonymous: bool,
    /// The key-auth credential's id (none for the anonymous consumer).
    pub credential: Option<Uuid>,
    /// The consumer headers, when the caller writes them upstream itself (`headers_beside`);
    /// otherwise they were set in the request's headers.
    pub headers: Option<ConsumerHeaders>,
}

/// A key-auth refusal: status, JSON body and extra headers.
#[derive(Debug)]
pub struct Rejection {
    pub status: StatusCode,
    pub body: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// Runs key-auth on `parts` (and the buffered `body` when `key_in_body`). `Ok(None)` means the
/// plugin did not apply (preflight skipped). `headers_beside`: nothing after key-auth reads the
/// request's headers, so the consumer headers come back in `Authenticated::headers` for the
/// upstream request instead of being set in `parts`.
pub fn access(
    cfg: &KeyAuthConfig,
    consumers: &ConsumerIndex,
    parts: &mut Parts,
    body: Option<&mut Bytes>,
    headers_beside: bool,
) -> Result<Option<Authenticated>, Rejection> {
    let headers = |parts: &mut Parts, h: ConsumerHeaders| {
        if headers_beside {
            Some(h)
        } else {
            set_consumer_headers(&mut parts.headers, &h);
            None
        }
    };
    if parts.method == http::Method::OPTIONS && !cfg.run_on_preflight {
        return Ok(None);
    }
    let found = find_key(cfg, parts, body);
    let failure = match &found {
        None => Rejection {
            status: StatusCode::UNAUTHORIZED,
            body: r#"{"message":"No API key found in request"}"#.into(),
            headers: vec![(WWW_AUTHENTICATE, www_authenticate(cfg))],
        },
        Some(key) => match consumers.by_key(key) {
            Some(owner) => {
                return Ok(Some(Authenticated {
                    consumer: owner.consumer.clone(),
                    anonymous: false,
                    credential: Some(owner.credential),
                    headers: headers(parts, owner.headers.clone()),
                }));
            }
            None => Rejection {
                status: StatusCode::UNAUTHORIZED,
                body: r#"{"message":"Unauthorized"}"#.into(),
                headers: Vec::new(),
            },
        },
    };
    let Some(anon) = cfg.anonymous.as_deref().filter(|a| !a.is_empty()) else {
        return Err(failure);
    };
    match consumers.by_id_or_username(anon) {
        Some(c) => Ok(Some(Authenticated {
            consumer: c.clone(),
            anonymous: true,
            credential: None,
            headers: headers(parts, ConsumerHeaders::new(c, None).anonymous()),
        })),
        None => Err(Rejection {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: r#"{"message":"An unexpected error occurred"}"#.into(),
            headers: Vec::new(),
        }),
    }
}

fn www_authenticate(cfg: &KeyAuthConfig) -> HeaderValue {
    cfg.realm
        .as_deref()
        .and_then(|r| HeaderValue::from_str(&format!("Key realm=\"{r}\"")).ok())
        .unwrap_or(HeaderValue::from_static("Key"))
}

/// The first key found: headers, then query, then body. Hides it when `hide_credentials`.
fn find_key(cfg: &KeyAuthConfig, parts: &mut Parts, body: Option<&mut Bytes>) -> Option<String> {
    for name in &cfg.key_names {
        if cfg.key_in_header {
            if let Some(v) = parts
                .headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
            {
                let key = v.to_string();
                if cfg.hide_credentials {
                    parts.headers.remove(name.as_str());
                }
                return Some(key);
            }
        }
        if cfg.key_in_query {
            if let Some(key) = query_param(parts.uri.query(), name) {
                if cfg.hide_credentials {
                    strip_query_param(parts, name);
                }
                return Some(key);
            }
        }
    }
    if cfg.key_in_body {
        let body = body?;
        let is_form = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        for name in &cfg.key_names {
            if is_form {
                let text = String::from_utf8_lossy(body).to_string();
                if let Some(key) = query_param(Some(&text), name) {
                    if cfg.hide_credentials {
                        *body = Bytes::from(without_param(&text, name));
                    }
                    return Some(key);
                }
            } else if let Ok(serde_json::Value::Object(mut m)) = serde_json::from_slice(body) {
                if let Some(key) = m.get(name).and_then(|v| v.as_str()).map(str::to_string) {
                    if cfg.hide_credentials {
                        m.remove(name);
                        *body = Bytes::from(serde_json::Value::Object(m).to_string());
                    }
                    return Some(key);
                }
            }
        }
    }
    None
}

static X_CONSUMER_ID: HeaderName = HeaderName::from_static("x-consumer-id");
static X_CONSUMER_USERNAME: HeaderName = HeaderName::from_static("x-consumer-username");
static X_CONSUMER_CUSTOM_ID: HeaderName = HeaderName::from_static("x-consumer-custom-id");
static X_CREDENTIAL_IDENTIFIER: HeaderName = HeaderName::from_static("x-credential-identifier");
static X_ANONYMOUS_CONSUMER: HeaderName = HeaderName::from_static("x-anonymous-consumer");

/// The consumer headers key-auth sets upstream for one consumer (and credential), made once
/// when the config is compiled (`None`: the header is removed). Shared: a request takes it with
/// one reference count.
#[derive(Debug, Clone)]
pub struct ConsumerHeaders(Arc<Values>);

#[derive(Debug, Clone)]
struct Values {
    id: Option<HeaderValue>,
    username: Option<HeaderValue>,
    custom_id: Option<HeaderValue>,
    credential: Option<HeaderValue>,
    /// `X-Anonymous-Consumer: true`.
    anonymous: bool,
}

impl ConsumerHeaders {
    pub fn new(c: &Consumer, credential: Option<&Uuid>) -> Self {
        let value = |v: Option<&str>| v.and_then(|v| HeaderValue::from_str(v).ok());
        let mut buf = Uuid::encode_buffer();
        let id = value(Some(c.id.hyphenated().encode_lower(&mut buf)));
        let mut buf = Uuid::encode_buffer();
        ConsumerHeaders(Arc::new(Values {
            id,
            username: value(c.username.as_deref()),
            custom_id: value(c.custom_id.as_deref()),
            credential: value(credential.map(|id| &*id.hyphenated().encode_lower(&mut buf))),
            anonymous: false,
        }))
    }

    /// The same, for the anonymous consumer.
    pub fn anonymous(self) -> Self {
        let mut v = Arc::unwrap_or_clone(self.0);
        v.anonymous = true;
        ConsumerHeaders(Arc::new(v))
    }

    /// Each header with its value, `None` where the header is removed.
    fn each(&self) -> [(&'static HeaderName, Option<&HeaderValue>); 5] {
        static TRUE: HeaderValue = HeaderValue::from_static("true");
        let v = &self.0;
        [
            (&X_CONSUMER_ID, v.id.as_ref()),
            (&X_CONSUMER_USERNAME, v.username.as_ref()),
            (&X_CONSUMER_CUSTOM_ID, v.custom_id.as_ref()),
            (&X_CREDENTIAL_IDENTIFIER, v.credential.as_ref()),
            (&X_ANONYMOUS_CONSUMER, v.anonymous.then_some(&TRUE)),
        ]
    }

    /// Whether the header `name` (lowercase) is one of them: a client's own never goes on.
    pub fn names(name: &str) -> bool {
        matches!(
            name,
            "x-consumer-id"
                | "x-consumer-username"
                | "x-consumer-custom-id"
                | "x-credential-identifier"
                | "x-anonymous-consumer"
        )
    }

    /// Writes the headers that are set, each through `line(name, value)`.
    pub fn write(&self, mut line: impl FnMut(&[u8], &[u8])) {
        for (n, v) in self.each() {
            if let Some(v) = v {
                line(n.as_str().as_bytes(), v.as_bytes());
            }
        }
    }
}

/// Sets the consumer headers `v` in `h` (and removes those `v` has no value for).
pub fn set_consumer_headers(h: &mut HeaderMap, v: &ConsumerHeaders) {
    for (name, v) in v.each() {
        match v {
            Some(v) => {
                h.insert(name.clone(), v.clone());
            }
            None => {
                h.remove(name);
            }
        }
    }
}

/// The decoded value of `name` in an `a=b&c=d` string.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

fn without_param(query: &str, name: &str) -> String {
    query
        .split('&')
        .filter(|pair| {
            let k = pair.split_once('=').map_or(*pair, |(k, _)| k);
            !pair.is_empty() && percent_decode(k) != name
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn strip_query_param(parts: &mut Parts, name: &str) {
    let q = without_param(parts.uri.query().unwrap_or(""), name);
    let pq = if q.is_empty() {
        parts.uri.path().to_string()
    } else {
        format!("{}?{q}", parts.uri.path())
    };
    let mut up = http::uri::Parts::from(parts.uri.clone());
    if let Ok(pq) = pq.parse() {
        up.path_and_query = Some(pq);
        if let Ok(u) = http::Uri::from_parts(up) {
            parts.uri = u;
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::compile;
    use proto::schema::Config;
    use serde_json::json;

    const ALICE: &str = "00000000-0000-0000-0000-0000000000a1";
    const ANON: &str = "00000000-0000-0000-0000-0000000000a2";
    const CRED: &str = "00000000-0000-0000-0000-0000000000c1";

    fn consumers() -> std::sync::Arc<ConsumerIndex> {
        let ents = [
            (
                "consumers",
                ALICE,
                json!({"id": ALICE, "username": "alice", "custom_id": "c-1"}),
            ),
            ("consumers", ANON, json!({"id": ANON, "username": "guest"})),
            (
                "keyauth_credentials",
                CRED,
                json!({"id": CRED, "key": "k 1", "consumer": {"id": ALICE}}),
            ),
        ]
        .map(|(k, id, v)| proto::v1::Entity {
            kind: k.into(),
            id: id.into(),
            json: v.to_string().into_bytes(),
        });
        compile(&Config::from_entities(&ents).unwrap(), 1, "h")
            .unwrap()
            .consumers
    }

    fn cfg(v: serde_json::Value) -> KeyAuthConfig {
        match proto::schema::plugins::PluginConfig::parse("key-auth", &v).unwrap() {
            proto::schema::plugins::PluginConfig::KeyAuth(c) => c,
            other => panic!("{other:?}"),
        }
    }

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn header_key_authenticates_and_sets_consumer_headers() {
        let mut p = parts("/x", &[("apikey", "k 1")]);
        let a = access(&cfg(json!({})), &consumers(), &mut p, None, false)
            .unwrap()
            .unwrap();
        assert_eq!(a.consumer.username.as_deref(), Some("alice"));
        assert_eq!(p.headers["x-consumer-id"], ALICE);
        assert_eq!(p.headers["x-consumer-username"], "alice");
        assert_eq!(p.headers["x-consumer-custom-id"], "c-1");
        assert_eq!(p.headers["x-credential-identifier"], CRED);
        assert!(p.headers.contains_key("apikey"));
    }

    #[test]
    fn consumer_headers_beside_are_the_ones_set_otherwise() {
        for (conf, key) in [(json!({}), "k 1"), (json!({"anonymous": "guest"}), "nope")] {
            let (mut set, mut beside) = (parts("/x", &[("apikey", key)]), parts("/x", &[]));
            beside.headers = set.headers.clone();
            let a = access(&cfg(conf.clone()), &consumers(), &mut set, None, false).unwrap();
            assert!(a.unwrap().headers.is_none());
            let b = access(&cfg(conf), &consumers(), &mut beside, None, true).unwrap();
            let h = b.unwrap().headers.expect("headers beside");
            assert!(!beside.headers.contains_key("x-consumer-id"), "{beside:?}");
            let mut written = Vec::new();
            h.write(|n, v| {
                written.push((String::from_utf8(n.to_vec()).unwrap(), v.to_vec()));
            });
            let mut was_set: Vec<_> = set
                .headers
                .iter()
                .filter(|(n, _)| ConsumerHeaders::names(n.as_str()))
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect();
            was_set.sort();
            written.sort();
            assert_eq!(written, was_set);
            assert!(written.len() >= 2, "{written:?}");
        }
    }

    #[test]
    fn query_key_hidden() {
        let mut p = parts("/x?a=1&apikey=k%201&b=2", &[]);
        access(
            &cfg(json!({"hide_credentials": true})),
            &consumers(),
            &mut p,
            None,
            false,
        )
        .unwrap();
        assert_eq!(p.uri.query(), Some("a=1&b=2"));
    }

    #[test]
    fn missing_and_unknown_keys() {
        let mut p = parts("/x", &[]);
        let e = access(
            &cfg(json!({"realm": "kong"})),
            &consumers(),
            &mut p,
            None,
            false,
        )
        .unwrap_err();
        assert_eq!(e.status, 401);
        assert_eq!(e.body, r#"{"message":"No API key found in request"}"#);
        assert_eq!(e.headers[0].1, "Key realm=\"kong\"");
        let mut p = parts("/x", &[("apikey", "nope")]);
        let e = access(&cfg(json!({})), &consumers(), &mut p, None, false).unwrap_err();
        assert_eq!(e.body, r#"{"message":"Unauthorized"}"#);
        assert!(e.headers.is_empty());
    }

    #[test]
    fn anonymous_and_preflight() {
        let mut p = parts("/x", &[]);
        let a = access(
            &cfg(json!({"anonymous": "guest"})),
            &consumers(),
            &mut p,
            None,
            false,
        )
        .unwrap()
        .unwrap();
        assert!(a.anonymous);
        assert_eq!(p.headers["x-anonymous-consumer"], "true");
        let mut p = http::Request::builder()
            .method("OPTIONS")
            .uri("/")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        assert!(access(
            &cfg(json!({"run_on_preflight": false})),
            &consumers(),
            &mut p,
            None,
            false
        )
        .unwrap()
        .is_none());
    }

    #[test]
    fn body_key_json_and_form() {
        let c = cfg(json!({"key_in_body": true, "hide_credentials": true}));
        let mut p = parts("/x", &[("content-type", "application/json")]);
        let mut body = Bytes::from(r#"{"apikey":"k 1","q":1}"#);
        assert!(access(&c, &consumers(), &mut p, Some(&mut body), false)
            .unwrap()
            .is_some());
        assert_eq!(body, Bytes::from(r#"{"q":1}"#));
        let mut p = parts(
            "/x",
            &[("content-type", "application/x-www-form-urlencoded")],
        );
        let mut body = Bytes::from("apikey=k+1&z=2");
        assert!(access(&c, &consumers(), &mut p, Some(&mut body), false)
            .unwrap()
            .is_some());
        assert_eq!(body, Bytes::from("z=2"));
    }
}
