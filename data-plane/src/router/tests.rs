//! Table-driven tests of the router's priority rules and of its candidate index.

use super::*;

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn spec(n: u128) -> RouteSpec {
    RouteSpec {
        id: uuid(n),
        ..Default::default()
    }
}

fn find(
    router: &Router,
    method: &str,
    host: &str,
    path: &str,
    hdrs: &[(&str, &str)],
) -> Option<usize> {
    let mut headers = HeaderMap::new();
    for (k, v) in hdrs {
        headers.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    router
        .find(&RequestInfo {
            method,
            host,
            path,
            headers: &headers,
            sni: None,
            https: false,
        })
        .map(|m| m.index)
}

type Case<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    Option<usize>,
);

#[test]
fn priority_table() {
    let routes = vec![
        // 0: prefix /api
        RouteSpec {
            paths: vec!["/api".into()],
            ..spec(1)
        },
        // 1: longer prefix wins
        RouteSpec {
            paths: vec!["/api/v1".into()],
            ..spec(2)
        },
        // 2: regex beats prefix of same weight
        RouteSpec {
            paths: vec!["~/api/v[0-9]+/x".into()],
            ..spec(3)
        },
        // 3: host + path beats path only
        RouteSpec {
            hosts: vec!["example.com".into()],
            paths: vec!["/api".into()],
            ..spec(4)
        },
        // 4: wildcard host + path loses to plain host + path
        RouteSpec {
            hosts: vec!["*.example.com".into()],
            paths: vec!["/api".into()],
            ..spec(5)
        },
        // 5: header route (weight 2 with path)
        RouteSpec {
            headers: vec![("x-version".into(), vec!["v2".into()])],
            paths: vec!["/api".into()],
            ..spec(6)
        },
        // 6: method only
        RouteSpec {
            methods: vec!["DELETE".into()],
            ..spec(7)
        },
    ];
    let r = Router::new(&routes).unwrap();
    let cases: &[Case] = &[
        ("GET", "other", "/api/x", &[], Some(0)),
        ("GET", "other", "/api/v1/y", &[], Some(1)),
        ("GET", "other", "/api/v1/x", &[], Some(2)),
        ("GET", "example.com:8000", "/api/v1/x", &[], Some(3)),
        ("GET", "a.example.com", "/api/v1/x", &[], Some(4)),
        (
            "GET",
            "example.org",
            "/api",
            &[("X-Version", "V2")],
            Some(5),
        ),
        ("DELETE", "other", "/nothing", &[], Some(6)),
        ("GET", "other", "/nothing", &[], None),
        ("GET", "other", "/ap", &[], None),
    ];
    for (method, host, path, hdrs, want) in cases {
        assert_eq!(
            find(&r, method, host, path, hdrs),
            *want,
            "{method} {host} {path}"
        );
    }
}

#[test]
fn regex_priority_orders_regex_routes() {
    let routes = vec![
        RouteSpec {
            paths: vec!["~/a".into()],
            regex_priority: 1,
            ..spec(1)
        },
        RouteSpec {
            paths: vec!["~/a/b".into()],
            regex_priority: 5,
            ..spec(2)
        },
    ];
    let r = Router::new(&routes).unwrap();
    assert_eq!(find(&r, "GET", "h", "/a/b", &[]), Some(1));
    assert_eq!(find(&r, "GET", "h", "/a/c", &[]), Some(0));
}

#[test]
fn equal_priority_prefers_larger_uuid() {
    let routes = vec![
        RouteSpec {
            paths: vec!["/same".into()],
            ..spec(1)
        },
        RouteSpec {
            paths: vec!["/same".into()],
            ..spec(9)
        },
    ];
    let r = Router::new(&routes).unwrap();
    assert_eq!(find(&r, "GET", "h", "/same", &[]), Some(1));
}

#[test]
fn regex_is_anchored_and_reports_matched_path() {
    let routes = vec![RouteSpec {
        paths: vec!["~/v[0-9]+".into()],
        ..spec(1)
    }];
    let r = Router::new(&routes).unwrap();
    assert_eq!(find(&r, "GET", "h", "/x/v1", &[]), None);
    let headers = HeaderMap::new();
    let m = r
        .find(&RequestInfo {
            method: "GET",
            host: "h",
            path: "/v12/rest",
            headers: &headers,
            sni: None,
            https: false,
        })
        .unwrap();
    assert_eq!(m.matched_len, "/v12".len());
}

#[test]
fn trailing_wildcard_host_and_header_regex() {
    let routes = vec![RouteSpec {
        hosts: vec!["api.*".into()],
        headers: vec![("x-env".into(), vec!["~*^prod".into()])],
        ..spec(1)
    }];
    let r = Router::new(&routes).unwrap();
    assert_eq!(
        find(
            &r,
            "GET",
            "api.example.com",
            "/",
            &[("x-env", "PRODUCTION")]
        ),
        Some(0)
    );
    assert_eq!(
        find(&r, "GET", "api.example.com", "/", &[("x-env", "staging")]),
        None
    );
    assert_eq!(
        find(&r, "GET", "www.example.com", "/", &[("x-env", "prod")]),
        None
    );
}

#[test]
fn bad_regex_is_an_error() {
    let routes = vec![RouteSpec {
        paths: vec!["~/(".into()],
        ..spec(1)
    }];
    assert!(Router::new(&routes).is_err());
}

#[test]
fn ten_thousand_prefix_routes_pick_the_longest_and_keep_priority() {
    let mut routes: Vec<RouteSpec> = (0..10_000u128)
        .map(|n| RouteSpec {
            paths: vec![format!("/r{n:05}")],
            ..spec(100 + n)
        })
        .collect();
    // 10000: a shorter prefix that also matches /r00042...
    routes.push(RouteSpec {
        paths: vec!["/r".into()],
        ..spec(1)
    });
    // 10001: a regex route outranks prefixes of the same weight.
    routes.push(RouteSpec {
        paths: vec!["~/r0004[0-9]/x$".into()],
        ..spec(2)
    });
    // 10002: host + path outranks path only.
    routes.push(RouteSpec {
        hosts: vec!["Example.com".into()],
        paths: vec!["/r".into()],
        ..spec(3)
    });
    let r = Router::new(&routes).unwrap();
    assert_eq!(find(&r, "GET", "h", "/r00042/y", &[]), Some(42));
    assert_eq!(find(&r, "GET", "h", "/r09999", &[]), Some(9999));
    assert_eq!(find(&r, "GET", "h", "/r5", &[]), Some(10_000));
    assert_eq!(find(&r, "GET", "h", "/r00042/x", &[]), Some(10_001));
    assert_eq!(
        find(&r, "GET", "EXAMPLE.com:80", "/r00042/y", &[]),
        Some(10_002)
    );
    assert_eq!(find(&r, "GET", "h", "/x", &[]), None);
    assert_eq!(find(&r, "GET", "h", "/", &[]), None);
}

#[test]
fn a_route_without_paths_competes_with_prefix_routes() {
    let routes = vec![
        RouteSpec {
            paths: vec!["/api".into()],
            ..spec(1)
        },
        // methods, no paths: weight 1 like the path-only route, which wins on path length
        RouteSpec {
            methods: vec!["POST".into()],
            ..spec(2)
        },
    ];
    let r = Router::new(&routes).unwrap();
    assert_eq!(find(&r, "POST", "h", "/api", &[]), Some(0));
    assert_eq!(find(&r, "POST", "h", "/other", &[]), Some(1));
    assert_eq!(find(&r, "GET", "h", "/api", &[]), Some(0));
    assert_eq!(find(&r, "GET", "h", "/other", &[]), None);
}

#[test]
fn odd_hosts_do_not_panic() {
    assert_eq!(matchers::strip_port("[::1]:80"), "[::1]");
    assert_eq!(matchers::strip_port("[::1"), "[::1");
    assert_eq!(matchers::strip_port("a.b:8000"), "a.b");
}
