//! Unit tests of `cors`: preflight answers, origin matching (exact, regex, `*`), credentials.

use super::*;
use http::HeaderMap;
use serde_json::json;

fn cors(cfg: serde_json::Value) -> Cors {
    Cors::new(serde_json::from_value(cfg).unwrap())
}

fn parts(method: &str, h: &[(&str, &str)]) -> Parts {
    let mut b = http::Request::builder().method(method).uri("/x");
    for (k, v) in h {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn applied(changes: &[HeaderChange]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(ACAO, HeaderValue::from_static("upstream"));
    for c in changes {
        c.apply(&mut h);
    }
    h
}

fn run(c: &Cors, p: &Parts) -> (bool, HeaderMap) {
    match c.access(p) {
        Access::Preflight(x) => (true, applied(&x)),
        Access::Continue(x) => (false, applied(&x)),
    }
}

#[test]
fn preflight_is_answered_with_the_config() {
    let c = cors(
        json!({"origins": ["http://a.com"], "headers": ["x-a", "x-b"], "max_age": 3600,
                        "methods": ["GET", "POST"], "credentials": true, "private_network": true}),
    );
    let p = parts(
        "OPTIONS",
        &[
            ("origin", "http://a.com:80"),
            ("access-control-request-method", "POST"),
            ("access-control-request-private-network", "true"),
        ],
    );
    let (pre, h) = run(&c, &p);
    assert!(pre);
    assert_eq!(h[ACAO], "http://a.com:80");
    assert_eq!(h[ACAC], "true");
    assert_eq!(h["access-control-allow-headers"], "x-a,x-b");
    assert_eq!(h["access-control-allow-methods"], "GET,POST");
    assert_eq!(h["access-control-max-age"], "3600");
    assert_eq!(h["access-control-allow-private-network"], "true");
    assert_eq!(h["vary"], "Origin");
}

#[test]
fn preflight_echoes_requested_headers_and_can_continue() {
    let c = cors(json!({}));
    let p = parts(
        "OPTIONS",
        &[
            ("origin", "http://x.io"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "x-y"),
        ],
    );
    let (pre, h) = run(&c, &p);
    assert!(pre);
    assert_eq!(h[ACAO], "*");
    assert_eq!(h["access-control-allow-headers"], "x-y");
    assert_eq!(
        h["access-control-allow-methods"],
        "CONNECT,DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT,TRACE"
    );
    assert!(!h.contains_key("access-control-max-age"));
    // OPTIONS without Access-Control-Request-Method is an actual request.
    let (pre, _) = run(&c, &parts("OPTIONS", &[("origin", "http://x.io")]));
    assert!(!pre);
    let c = cors(json!({"preflight_continue": true}));
    let (pre, h) = run(
        &c,
        &parts(
            "OPTIONS",
            &[
                ("origin", "http://x.io"),
                ("access-control-request-method", "GET"),
            ],
        ),
    );
    assert!(!pre);
    assert_eq!(h[ACAO], "upstream");
}

#[test]
fn actual_request_origin_matching() {
    let c = cors(
        json!({"origins": ["https://a.com", r"https://.*\.b\.com", r"c\.org"],
                        "exposed_headers": ["x-e1", "x-e2"]}),
    );
    let get = |o: &str| run(&c, &parts("GET", &[("origin", o)])).1;
    assert_eq!(get("https://a.com:443")[ACAO], "https://a.com:443");
    assert_eq!(get("https://x.b.com")[ACAO], "https://x.b.com");
    assert_eq!(get("http://c.org:8080")[ACAO], "http://c.org:8080");
    let h = get("https://evil.com");
    assert!(!h.contains_key(ACAO), "{h:?}");
    assert_eq!(h["vary"], "Origin");
    assert_eq!(h["access-control-expose-headers"], "x-e1,x-e2");
    // Regexes are anchored: a suffix does not match.
    assert!(!get("https://x.b.com.evil.net").contains_key(ACAO));
    assert!(!h.contains_key(ACAC));
}

#[test]
fn wildcard_with_credentials_echoes_the_origin() {
    let c = cors(json!({"origins": ["*"], "credentials": true}));
    let h = run(&c, &parts("GET", &[("origin", "http://z.net")])).1;
    assert_eq!(h[ACAO], "http://z.net");
    assert_eq!(h[ACAC], "true");
    let h = run(&c, &parts("GET", &[])).1;
    assert_eq!(h[ACAO], "*");
    assert!(!h.contains_key(ACAC));
}

#[test]
fn origin_absent_can_skip_the_headers() {
    let c = cors(json!({"allow_origin_absent": false}));
    assert_eq!(run(&c, &parts("GET", &[])).1[ACAO], "upstream");
    assert_eq!(
        run(&c, &parts("GET", &[("origin", "http://o")])).1[ACAO],
        "*"
    );
}

#[test]
fn max_age_like_lua() {
    assert_eq!(lua_number(10.0), "10");
    assert_eq!(lua_number(1.5), "1.5");
}
