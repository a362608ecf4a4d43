//! Balancer tests: compiled from entities, picks by weight, health and in-flight counts.

use super::*;
use serde_json::{json, Value};

pub(crate) fn config(upstream: Value, targets: &[(&str, u32)]) -> Config {
    let mut cfg = Config::default();
    cfg.upstreams
        .push(serde_json::from_value(upstream).unwrap());
    let up = cfg.upstreams[0].id;
    for (i, (t, w)) in targets.iter().enumerate() {
        cfg.targets.push(
            serde_json::from_value(json!({
                "id": format!("00000000-0000-0000-0000-0000000001{i:02}"),
                "upstream": {"id": up}, "target": t, "weight": w
            }))
            .unwrap(),
        );
    }
    cfg
}

const UP: &str = "00000000-0000-0000-0000-000000000099";

fn balancer(extra: Value, targets: &[(&str, u32)]) -> Arc<Balancer> {
    let mut u = json!({"id": UP, "name": "backend"});
    if let (Some(u), Some(e)) = (u.as_object_mut(), extra.as_object()) {
        u.extend(e.clone());
    }
    let b = compile(&config(u, targets)).unwrap();
    b.get("backend").unwrap().clone()
}

#[test]
fn weights_and_disabled_targets() {
    let b = balancer(json!({}), &[("a:1", 300), ("b:2", 100), ("c:3", 0)]);
    assert_eq!(
        b.target(1).map(|t| (t.host.as_str(), t.port)),
        Some(("b", 2))
    );
    let mut counts = [0; 3];
    for _ in 0..400 {
        counts[b.pick(None, &[]).unwrap()] += 1;
    }
    assert_eq!(counts, [300, 100, 0]);
}

#[test]
fn retries_skip_tried_targets_then_reuse_them() {
    let b = balancer(json!({}), &[("a:1", 100), ("b:2", 100)]);
    for _ in 0..5 {
        assert_eq!(b.pick(None, &[0]), Some(1));
    }
    assert!(b.pick(None, &[0, 1]).is_some());
}

#[test]
fn unhealthy_targets_are_out_and_none_left_means_no_peer() {
    let b = balancer(
        json!({"healthchecks": {"passive": {"unhealthy": {"tcp_failures": 1}}}}),
        &[("a:1", 100), ("b:2", 100)],
    );
    assert_eq!(b.report(0, Outcome::TcpFailure, None), Some(false));
    for _ in 0..5 {
        assert_eq!(b.pick(None, &[]), Some(1));
    }
    assert_eq!(b.report(1, Outcome::TcpFailure, None), Some(false));
    assert_eq!(b.pick(None, &[]), None);
    let empty = balancer(json!({}), &[]);
    assert_eq!(empty.pick(None, &[]), None);
}

#[test]
fn consistent_hashing_on_header_with_fallback() {
    let b = balancer(
        json!({"algorithm": "consistent-hashing", "hash_on": "header",
               "hash_on_header": "x-user", "hash_fallback": "ip"}),
        &[("a:1", 100), ("b:2", 100), ("c:3", 100)],
    );
    let mut h = http::HeaderMap::new();
    h.insert("x-user", "u1".parse().unwrap());
    let facts = |headers| RequestFacts {
        consumer: None,
        client_ip: "10.1.1.1",
        headers,
        path: "/",
        query: None,
        captures: None,
    };
    assert_eq!(b.hash_key(&facts(&h)).as_deref(), Some("u1"));
    let empty = http::HeaderMap::new();
    assert_eq!(b.hash_key(&facts(&empty)).as_deref(), Some("10.1.1.1"));
    let first = b.pick(Some("u1"), &[]).unwrap();
    for _ in 0..20 {
        assert_eq!(b.pick(Some("u1"), &[]), Some(first));
    }
    // A retry goes to another target.
    assert_ne!(b.pick(Some("u1"), &[first]), Some(first));
    // Many keys reach every target.
    let mut seen = [false; 3];
    for k in 0..100 {
        seen[b.pick(Some(&format!("k{k}")), &[]).unwrap()] = true;
    }
    assert_eq!(seen, [true; 3]);
}

#[test]
fn consistent_hashing_on_a_uri_capture_and_as_fallback() {
    use crate::router::captures::UriCaptures;
    let targets = [("a:1", 100), ("b:2", 100), ("c:3", 100)];
    let on = balancer(
        json!({"algorithm": "consistent-hashing", "hash_on": "uri_capture",
               "hash_on_uri_capture": "tenant"}),
        &targets,
    );
    let fallback = balancer(
        json!({"algorithm": "consistent-hashing", "hash_on": "header",
               "hash_on_header": "x-user", "hash_fallback": "uri_capture",
               "hash_fallback_uri_capture": "tenant"}),
        &targets,
    );
    assert!(on.hashes_on_captures() && fallback.hashes_on_captures());
    assert!(!balancer(json!({}), &targets).hashes_on_captures());
    let paths = ["~/t/(?<tenant>[a-z0-9]+)/".to_string()];
    let h = http::HeaderMap::new();
    let pick = |b: &Balancer, path: &str| {
        let caps = UriCaptures::of(&paths, path);
        let key = b.hash_key(&RequestFacts {
            consumer: None,
            client_ip: "10.1.1.1",
            headers: &h,
            path,
            query: None,
            captures: caps.as_ref(),
        });
        (key.clone(), b.pick(key.as_deref(), &[]).unwrap())
    };
    let (key, first) = pick(&on, "/t/acme/orders/1");
    assert_eq!(key.as_deref(), Some("acme"));
    // The same capture picks the same target, whatever else the path holds.
    for i in 0..20 {
        assert_eq!(
            pick(&on, &format!("/t/acme/orders/{i}")),
            (key.clone(), first)
        );
    }
    // As the fallback (no x-user header) it keys the same way.
    let (fb_key, fb_first) = pick(&fallback, "/t/acme/x");
    assert_eq!(fb_key.as_deref(), Some("acme"));
    for _ in 0..20 {
        assert_eq!(pick(&fallback, "/t/acme/y").1, fb_first);
    }
    // Different captures reach every target; no capture means no key.
    let mut seen = [false; 3];
    for k in 0..100 {
        seen[pick(&on, &format!("/t/tenant{k}/")).1] = true;
    }
    assert_eq!(seen, [true; 3]);
    assert_eq!(pick(&on, "/other").0, None);
}

#[test]
fn least_connections_follows_in_flight_guards() {
    let b = balancer(
        json!({"algorithm": "least-connections"}),
        &[("a:1", 100), ("b:2", 100)],
    );
    let g1 = b.start(0);
    let g2 = b.start(0);
    assert_eq!(b.target(0).map(Target::in_flight), Some(2));
    for _ in 0..4 {
        assert_eq!(b.pick(None, &[]), Some(1));
    }
    let _g3 = b.start(1);
    let _g4 = b.start(1);
    let _g5 = b.start(1);
    assert_eq!(b.pick(None, &[]), Some(0));
    drop((g1, g2));
    assert_eq!(b.target(0).map(Target::in_flight), Some(0));
}

#[test]
fn latency_prefers_the_faster_target() {
    let b = balancer(
        json!({"algorithm": "latency"}),
        &[("a:1", 100), ("b:2", 100)],
    );
    b.report(0, Outcome::Status(200), Some(Duration::from_millis(50)));
    b.report(1, Outcome::Status(200), Some(Duration::from_millis(5)));
    for _ in 0..4 {
        assert_eq!(b.pick(None, &[]), Some(1));
    }
}

#[test]
fn bad_targets_and_orphans_are_errors() {
    let mut cfg = config(json!({"id": UP, "name": "backend"}), &[("nohost", 1)]);
    assert!(matches!(
        compile(&cfg),
        Err(UpstreamError::BadTarget { .. })
    ));
    cfg.targets.clear();
    cfg.upstreams.clear();
    cfg.targets.push(
        serde_json::from_value(json!({"id": UP, "upstream": {"id": UP}, "target": "a:1"})).unwrap(),
    );
    assert!(matches!(
        compile(&cfg),
        Err(UpstreamError::MissingUpstream { .. })
    ));
}

#[test]
fn target_health_rows_feed_the_metric() {
    let b = balancer(
        json!({"healthchecks": {"passive": {"unhealthy": {"tcp_failures": 1}}}}),
        &[("a:1", 100), ("b:2", 100)],
    );
    b.report(1, Outcome::TcpFailure, None);
    let mut all = Balancers::default();
    all.by_name.insert("backend".into(), b);
    let rows = all.health_rows();
    assert_eq!(
        rows[0],
        ("backend".into(), "a:1".into(), "a:1".into(), "healthy")
    );
    assert_eq!(rows[1].3, "unhealthy");
    let m = crate::metrics::Metrics::new("n", "0").unwrap();
    m.set_upstream_health(&rows);
    let text = m.render();
    assert!(text.contains(r#"kong_upstream_target_health{upstream="backend",target="b:2",address="b:2",state="unhealthy",subsystem="http"} 1"#), "{text}");
    assert!(text.contains(r#"kong_upstream_target_health{upstream="backend",target="b:2",address="b:2",state="healthy",subsystem="http"} 0"#), "{text}");
    m.set_upstream_health(&[]);
    assert!(!m.render().contains("kong_upstream_target_health{"));
}
