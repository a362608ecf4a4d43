use super::*;
use serde_json::json;

fn config(v: serde_json::Value) -> Config {
    let mut entities = Vec::new();
    for kind in proto::schema::ENTITY_KINDS {
        for e in v[kind].as_array().cloned().unwrap_or_default() {
            entities.push(proto::v1::Entity {
                kind: kind.to_string(),
                id: e["id"].as_str().unwrap().to_string(),
                json: e.to_string().into_bytes(),
            });
        }
    }
    Config::from_entities(&entities).unwrap()
}

const S1: &str = "00000000-0000-0000-0000-000000000001";
const S2: &str = "00000000-0000-0000-0000-000000000002";

#[test]
fn disabled_services_and_plugins_are_skipped() {
    let cfg = config(json!({
        "services": [
            {"id": S1, "host": "a.test"},
            {"id": S2, "host": "b.test", "enabled": false}
        ],
        "routes": [
            {"id": "10000000-0000-0000-0000-000000000001", "paths": ["/a"], "service": {"id": S1}},
            {"id": "10000000-0000-0000-0000-000000000002", "paths": ["/b"], "service": {"id": S2}}
        ],
        "plugins": [
            {"id": "20000000-0000-0000-0000-000000000001", "name": "prometheus", "config": {}},
            {"id": "20000000-0000-0000-0000-000000000002", "name": "key-auth", "enabled": false, "config": {}}
        ]
    }));
    let rt = compile(&cfg, 3, "abc").unwrap();
    assert_eq!(rt.routes.len(), 1);
    assert_eq!(rt.plugins.len(), 1);
    assert_eq!(rt.version, 3);
    assert!(rt.is_loaded());
}

#[test]
fn credential_index_finds_consumer() {
    let cfg = config(json!({
        "consumers": [{"id": S1, "username": "alice"}],
        "keyauth_credentials": [{"id": S2, "key": "secret", "consumer": {"id": S1}}]
    }));
    let rt = compile(&cfg, 1, "h").unwrap();
    let owner = rt.consumers.by_key("secret").unwrap();
    assert_eq!(owner.credential.to_string(), S2);
    assert_eq!(owner.consumer.username.as_deref(), Some("alice"));
    assert!(rt.consumers.by_key("nope").is_none());
    assert!(rt.consumers.by_id_or_username("alice").is_some());
    assert!(rt.consumers.by_id_or_username(S1).is_some());
}

#[test]
fn services_named_after_an_upstream_get_its_balancer() {
    let up = "50000000-0000-0000-0000-000000000001";
    let cfg = config(json!({
        "upstreams": [{"id": up, "name": "backend.up"}],
        "targets": [{"id": "60000000-0000-0000-0000-000000000001", "upstream": {"id": up}, "target": "10.0.0.1:80"}],
        "services": [{"id": S1, "host": "backend.up"}, {"id": S2, "host": "a.test"}],
        "routes": [
            {"id": "10000000-0000-0000-0000-000000000001", "paths": ["/a"], "service": {"id": S1}},
            {"id": "10000000-0000-0000-0000-000000000002", "paths": ["/b"], "service": {"id": S2}}
        ],
        "plugins": [{"id": "20000000-0000-0000-0000-000000000001", "name": "prometheus",
                     "config": {"upstream_health_metrics": true}}]
    }));
    let rt = compile(&cfg, 1, "h").unwrap();
    let by_path = |p: &str| {
        rt.routes
            .iter()
            .find(|r| r.route.paths.as_deref() == Some(&[p.to_string()][..]))
            .unwrap()
    };
    let b = by_path("/a").balancer.as_ref().unwrap();
    assert_eq!(b.name, "backend.up");
    assert_eq!(b.targets().len(), 1);
    assert!(by_path("/b").balancer.is_none());
    assert!(rt.upstream_health_metrics);
    assert_eq!(rt.upstreams.len(), 1);
}

#[test]
fn a_delta_compile_reuses_unchanged_plugin_instances_and_balancers() {
    let up = "50000000-0000-0000-0000-000000000001";
    let (p1, p2) = (
        "20000000-0000-0000-0000-000000000001",
        "20000000-0000-0000-0000-000000000002",
    );
    let cfg = config(json!({
        "upstreams": [{"id": up, "name": "backend.up"}],
        "services": [{"id": S1, "host": "backend.up"}],
        "routes": [{"id": "10000000-0000-0000-0000-000000000001", "paths": ["/a"], "service": {"id": S1}}],
        "plugins": [
            {"id": p1, "name": "key-auth", "config": {}},
            {"id": p2, "name": "prometheus", "config": {}}
        ]
    }));
    let src = Sources::from_config(cfg);
    let rt = compile_sources(&src, None, 1, "h1").unwrap();
    let change = config(json!({
        "routes": [{"id": "10000000-0000-0000-0000-000000000001", "paths": ["/b"], "service": {"id": S1}}],
        "plugins": [{"id": p2, "name": "prometheus", "config": {"status_code_metrics": true}}]
    }));
    let next = src.apply(change, &[]);
    let rt2 = compile_sources(&next, Some((&src, &rt)), 2, "h2").unwrap();
    let inst = |rt: &Runtime, id: &str| rt.instances[&Uuid::parse_str(id).unwrap()].1.clone();
    assert!(
        Arc::ptr_eq(&inst(&rt, p1), &inst(&rt2, p1)),
        "unchanged plugin kept"
    );
    assert!(
        !Arc::ptr_eq(&inst(&rt, p2), &inst(&rt2, p2)),
        "changed plugin rebuilt"
    );
    let bal = |rt: &Runtime| rt.routes[0].balancer.clone().unwrap();
    assert!(Arc::ptr_eq(&bal(&rt), &bal(&rt2)), "balancer kept");
    assert_eq!(
        rt2.routes[0].route.paths.as_deref(),
        Some(&["/b".to_string()][..])
    );
    assert_eq!(rt2.plugins.len(), 2);

    // A route-only change shares the plugin and consumer indexes as they are.
    let only_route = config(json!({
        "routes": [{"id": "10000000-0000-0000-0000-000000000001", "paths": ["/c"], "service": {"id": S1}}]
    }));
    let third = next.apply(only_route, &[]);
    let rt3 = compile_sources(&third, Some((&next, &rt2)), 3, "h3").unwrap();
    assert!(Arc::ptr_eq(&rt2.plugins, &rt3.plugins));
    assert!(Arc::ptr_eq(&rt2.consumers, &rt3.consumers));
    assert_eq!(
        rt3.routes[0].route.paths.as_deref(),
        Some(&["/c".to_string()][..])
    );
}

#[test]
fn empty_runtime_is_not_ready() {
    assert!(!Runtime::empty().is_loaded());
}

#[test]
fn metric_labels_name_the_service_and_route_or_fall_back() {
    let cfg = config(json!({
        "services": [
            {"id": S1, "name": "svc", "host": "a.test"},
            {"id": S2, "host": "b.test"}
        ],
        "routes": [
            {"id": "10000000-0000-0000-0000-000000000001", "name": "named", "paths": ["/a"],
             "service": {"id": S1}},
            {"id": "10000000-0000-0000-0000-000000000002", "paths": ["/b"], "service": {"id": S2}},
            {"id": "10000000-0000-0000-0000-000000000003", "paths": ["/c"]}
        ]
    }));
    let rt = compile(&cfg, 1, "h").unwrap();
    let mut labels: Vec<(String, String)> = rt
        .routes
        .iter()
        .map(|r| (r.service_label().to_string(), r.label().to_string()))
        .collect();
    labels.sort();
    assert_eq!(
        labels,
        [
            (
                "".to_string(),
                "10000000-0000-0000-0000-000000000003".to_string()
            ),
            (
                "b.test".to_string(),
                "10000000-0000-0000-0000-000000000002".to_string()
            ),
            ("svc".to_string(), "named".to_string()),
        ]
    );
}

#[test]
fn the_upstream_host_has_a_port_only_when_it_is_not_the_schemes_default() {
    let host = |protocol: &str, port: u16| {
        let cfg = config(json!({
            "services": [{"id": S1, "host": "a.test", "port": port, "protocol": protocol}],
            "routes": [{"id": "10000000-0000-0000-0000-000000000001", "paths": ["/a"],
                        "service": {"id": S1}}]
        }));
        let rt = compile(&cfg, 1, "h").unwrap();
        let h = rt.routes[0].upstream_host.clone().unwrap();
        h.to_str().unwrap().to_string()
    };
    assert_eq!(host("http", 80), "a.test");
    assert_eq!(host("https", 443), "a.test");
    assert_eq!(host("http", 8080), "a.test:8080");
    assert_eq!(host("https", 80), "a.test:80");
    assert_eq!(host("http", 443), "a.test:443");
}
