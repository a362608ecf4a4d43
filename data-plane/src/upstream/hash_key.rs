//! The consistent-hashing key of a request: what `hash_on` (then `hash_fallback`) names — the
//! consumer, the client IP, a header, a cookie, the path, a query argument or a named capture
//! of the route's regex path.

use http::HeaderMap;

use crate::router::captures::UriCaptures;

/// One `hash_on`/`hash_fallback` choice with its field (header, cookie or argument name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashOn {
    None,
    Consumer,
    Ip,
    Header(String),
    Cookie(String),
    Path,
    QueryArg(String),
    /// A named group of the matched regex path (Kong looks `uri_captures[name]` up by its
    /// string name, so numbered groups never match).
    UriCapture(String),
}

impl HashOn {
    /// `kind` with the upstream field that goes with it (`None` when that field is unset).
    pub fn new(kind: &str, field: Option<&str>) -> HashOn {
        let named =
            |f: fn(String) -> HashOn| field.map(|v| f(v.to_string())).unwrap_or(HashOn::None);
        match kind {
            "consumer" => HashOn::Consumer,
            "ip" => HashOn::Ip,
            "header" => named(HashOn::Header),
            "cookie" => named(HashOn::Cookie),
            "path" => HashOn::Path,
            "query_arg" => named(HashOn::QueryArg),
            "uri_capture" => named(HashOn::UriCapture),
            _ => HashOn::None,
        }
    }
}

/// What the key can be taken from.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    pub consumer: Option<&'a str>,
    pub client_ip: &'a str,
    pub headers: &'a HeaderMap,
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// The route's `uri_captures`, when the upstream hashes on one (else not worked out).
    pub captures: Option<&'a UriCaptures>,
}

/// The key for `on`, or `None` when the request does not carry it (then the fallback applies).
pub fn key(on: &HashOn, r: &RequestFacts<'_>) -> Option<String> {
    let k = match on {
        HashOn::None => None,
        HashOn::UriCapture(name) => r.captures.and_then(|c| c.name(name)).map(str::to_string),
        HashOn::Consumer => r.consumer.map(str::to_string),
        HashOn::Ip => Some(r.client_ip.to_string()),
        HashOn::Header(name) => {
            // Kong joins a repeated header's values with ",".
            let vals: Vec<&str> = r
                .headers
                .get_all(name.as_str())
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            (!vals.is_empty()).then(|| vals.join(","))
        }
        HashOn::Cookie(name) => r
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|kv| {
                let (k, v) = kv.trim().split_once('=')?;
                (k == name).then(|| v.to_string())
            }),
        HashOn::Path => Some(r.path.to_string()),
        HashOn::QueryArg(name) => r.query.and_then(|q| {
            q.split('&').find_map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k == name).then(|| v.to_string())
            })
        }),
    };
    k.filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_their_source() {
        let mut h = HeaderMap::new();
        h.append("x-user", "a".parse().unwrap());
        h.append("x-user", "b".parse().unwrap());
        h.insert("cookie", "s=1; sid=abc".parse().unwrap());
        let r = RequestFacts {
            consumer: Some("alice"),
            client_ip: "10.0.0.9",
            headers: &h,
            path: "/p/q",
            query: Some("x=1&user=bob&flag"),
            captures: None,
        };
        let k = |kind: &str, f: Option<&str>| key(&HashOn::new(kind, f), &r);
        assert_eq!(k("consumer", None).as_deref(), Some("alice"));
        assert_eq!(k("ip", None).as_deref(), Some("10.0.0.9"));
        assert_eq!(k("header", Some("X-User")).as_deref(), Some("a,b"));
        assert_eq!(k("header", Some("x-missing")), None);
        assert_eq!(k("cookie", Some("sid")).as_deref(), Some("abc"));
        assert_eq!(k("path", None).as_deref(), Some("/p/q"));
        assert_eq!(k("query_arg", Some("user")).as_deref(), Some("bob"));
        assert_eq!(k("query_arg", Some("flag")), None);
        assert_eq!(k("none", None), None);
        assert_eq!(k("header", None), None);
        assert_eq!(k("uri_capture", Some("user")), None);
    }

    #[test]
    fn uri_capture_keys_come_from_named_groups() {
        let paths = ["~/t/(?<tenant>[a-z]+)/(\\d+)".to_string()];
        let caps = UriCaptures::of(&paths, "/t/acme/7").unwrap();
        let h = HeaderMap::new();
        let r = RequestFacts {
            consumer: None,
            client_ip: "10.0.0.9",
            headers: &h,
            path: "/t/acme/7",
            query: None,
            captures: Some(&caps),
        };
        let k = |f: &str| key(&HashOn::new("uri_capture", Some(f)), &r);
        assert_eq!(k("tenant").as_deref(), Some("acme"));
        // Kong indexes the captures with the field's string: numbered groups are not found.
        assert_eq!(k("1"), None);
        assert_eq!(k("absent"), None);
        assert_eq!(HashOn::new("uri_capture", None), HashOn::None);
    }
}
