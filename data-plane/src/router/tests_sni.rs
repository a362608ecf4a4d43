//! Table-driven tests of route `snis`: matched against the TLS SNI of https requests,
//! ignored over plaintext (Kong's `net.protocol != "https" || tls.sni == …`), and counted in
//! the match weight of Kong's priority.

use super::*;

fn spec(n: u128) -> RouteSpec {
    RouteSpec {
        id: Uuid::from_u128(n),
        ..Default::default()
    }
}

/// (path, sni, https) → index of the matched route.
fn find(router: &Router, path: &str, sni: Option<&str>, https: bool) -> Option<usize> {
    let headers = HeaderMap::new();
    router
        .find(&RequestInfo {
            method: "GET",
            host: "gw.test",
            path,
            headers: &headers,
            sni,
            https,
        })
        .map(|m| m.index)
}

#[test]
fn snis_match_the_tls_server_name_only_over_https() {
    let routes = vec![
        // 0: sni a.test on /a
        RouteSpec {
            paths: vec!["/a".into()],
            snis: vec!["a.test".into()],
            ..spec(1)
        },
        // 1: sni b.test (written with a trailing dot and upper case) on /a
        RouteSpec {
            paths: vec!["/a".into()],
            snis: vec!["B.test.".into()],
            ..spec(2)
        },
        // 2: fallback on /a, no snis
        RouteSpec {
            paths: vec!["/a".into()],
            ..spec(3)
        },
        // 3: snis only, no paths
        RouteSpec {
            snis: vec!["only.test".into()],
            ..spec(4)
        },
    ];
    let r = Router::new(&routes).unwrap();
    let cases: &[(&str, Option<&str>, bool, Option<usize>)] = &[
        ("/a", Some("a.test"), true, Some(0)),
        ("/a", Some("A.TEST"), true, Some(0)),
        ("/a", Some("b.test"), true, Some(1)),
        ("/a", Some("c.test"), true, Some(2)),
        // TLS without SNI (an IP address): no route with snis matches.
        ("/a", None, true, Some(2)),
        ("/x", Some("only.test"), true, Some(3)),
        ("/x", Some("other.test"), true, None),
        ("/x", None, true, None),
        // Plaintext: snis are not considered (Kong #6425); the route with snis and a path
        // (weight 2) wins over the one with a path only, by weight then larger UUID.
        ("/a", None, false, Some(1)),
        ("/x", None, false, Some(3)),
    ];
    for (path, sni, https, want) in cases {
        assert_eq!(
            find(&r, path, *sni, *https),
            *want,
            "path {path} sni {sni:?} https {https}"
        );
    }
}

#[test]
fn snis_count_in_the_match_weight() {
    let routes = vec![
        // 0: host + path (weight 2, plain host)
        RouteSpec {
            hosts: vec!["gw.test".into()],
            paths: vec!["/p".into()],
            ..spec(9)
        },
        // 1: sni + host + path (weight 3) beats it over https
        RouteSpec {
            hosts: vec!["gw.test".into()],
            paths: vec!["/p".into()],
            snis: vec!["s.test".into()],
            ..spec(1)
        },
        // 2: sni + path (weight 2, no plain host bit) loses to 0 over https
        RouteSpec {
            paths: vec!["/p/longer".into()],
            snis: vec!["s.test".into()],
            ..spec(2)
        },
    ];
    let r = Router::new(&routes).unwrap();
    let cases: &[(&str, Option<&str>, bool, Option<usize>)] = &[
        ("/p", Some("s.test"), true, Some(1)),
        ("/p", Some("t.test"), true, Some(0)),
        ("/p/longer", Some("s.test"), true, Some(1)),
        ("/p/longer", Some("t.test"), true, Some(0)),
        // plaintext: route 1 still has weight 3 and its snis are ignored
        ("/p", None, false, Some(1)),
    ];
    for (path, sni, https, want) in cases {
        assert_eq!(
            find(&r, path, *sni, *https),
            *want,
            "path {path} sni {sni:?} https {https}"
        );
    }
}
