//! The request's scheme after routing (`proxy::handle`, right after the route is found): a
//! route whose `protocols` hold `https` but not `http`, reached over plaintext, gets Kong's
//! answer (runloop/handler.lua): `https_redirect_status_code` 426 with "Please use HTTPS
//! protocol", or a 301/302/307/308 redirect to the same host and URI over https.

use http::header::{HeaderName, HeaderValue, CONNECTION, LOCATION, UPGRADE};
use http::{StatusCode, Uri};
use proto::schema::Route;

/// Kong's body of the 426.
pub(super) const USE_HTTPS: &str = r#"{"message":"Please use HTTPS protocol"}"#;

/// What Kong answers instead of proxying.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Refusal {
    pub status: StatusCode,
    /// Empty for a redirect.
    pub body: &'static str,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// `None` when `route` may serve a request over this scheme; else Kong's answer. `host` is
/// the client's Host (a port is dropped, as nginx's `$host` does).
pub(super) fn enforce(route: &Route, https: bool, host: &str, uri: &Uri) -> Option<Refusal> {
    if https {
        return None;
    }
    let has = |p: &str| route.protocols.iter().any(|x| x == p);
    if !has("https") || has("http") {
        return None;
    }
    let code = route.https_redirect_status_code;
    if matches!(code, 301 | 302 | 307 | 308) {
        let status = StatusCode::from_u16(code).ok()?;
        let host = strip_port(host);
        let pq = uri.path_and_query().map_or("/", |p| p.as_str());
        let location = HeaderValue::from_str(&format!("https://{host}{pq}")).ok()?;
        return Some(Refusal {
            status,
            body: "",
            headers: vec![(LOCATION, location)],
        });
    }
    Some(Refusal {
        status: StatusCode::UPGRADE_REQUIRED,
        body: USE_HTTPS,
        headers: vec![
            (CONNECTION, HeaderValue::from_static("Upgrade")),
            (UPGRADE, HeaderValue::from_static("TLS/1.2, HTTP/1.1")),
        ],
    })
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(protocols: &[&str], code: u16) -> Route {
        let mut r: Route = serde_json::from_value(serde_json::json!({
            "id": "00000000-0000-0000-0000-000000000001",
            "paths": ["/"],
        }))
        .unwrap();
        r.protocols = protocols.iter().map(|p| p.to_string()).collect();
        r.https_redirect_status_code = code;
        r
    }

    /// (route protocols, https_redirect_status_code, over TLS, expected (status, Location)).
    type Case<'a> = (&'a [&'a str], u16, bool, Option<(u16, &'a str)>);

    #[test]
    fn https_only_routes_refuse_plaintext_as_kong_does() {
        let uri: Uri = "/a/b?x=1".parse().unwrap();
        let cases: &[Case<'_>] = &[
            (&["http", "https"], 426, false, None),
            (&["http"], 426, false, None),
            (&["https"], 426, true, None),
            (&["https"], 426, false, Some((426, ""))),
            (
                &["https"],
                301,
                false,
                Some((301, "https://gw.test/a/b?x=1")),
            ),
            (
                &["https"],
                302,
                false,
                Some((302, "https://gw.test/a/b?x=1")),
            ),
            (
                &["https"],
                307,
                false,
                Some((307, "https://gw.test/a/b?x=1")),
            ),
            (
                &["https"],
                308,
                false,
                Some((308, "https://gw.test/a/b?x=1")),
            ),
        ];
        for (protocols, code, https, want) in cases {
            let got = enforce(&route(protocols, *code), *https, "gw.test:8000", &uri);
            let got = got.map(|r| {
                let loc = r
                    .headers
                    .iter()
                    .find(|(k, _)| k == LOCATION)
                    .map(|(_, v)| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                if r.status == StatusCode::UPGRADE_REQUIRED {
                    assert_eq!(r.body, USE_HTTPS);
                }
                (r.status.as_u16(), loc)
            });
            let want = want.map(|(s, l)| (s, l.to_string()));
            assert_eq!(got, want, "{protocols:?} {code} https={https}");
        }
        assert_eq!(strip_port("[::1]:8000"), "[::1]");
    }
}
