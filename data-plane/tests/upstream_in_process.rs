//! In-process balancing over upstream targets: tiny hyper servers on 127.0.0.1 as targets, the
//! proxy on port 0, services whose host names an upstream. Weights, retries past a dead target,
//! passive health checks, consistent hashing on a header, `host_header` and "no peer".

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

use common::{client, dead_port, entity, gateway, header, listen, send, TestClient};

/// A target answering `{"id": id, "host": <Host header>, "body": <request body>}` with `status`.
async fn target(id: &'static str, status: u16) -> SocketAddr {
    listen(move |req| async move {
        let host = header(&req, "host").unwrap_or_default();
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let out = json!({"id": id, "host": host, "body": String::from_utf8_lossy(&body)});
        hyper::Response::builder()
            .status(status)
            .body(Full::new(Bytes::from(out.to_string())))
            .unwrap()
    })
    .await
}

/// One upstream `name` with `targets`, a service on it and a route `/<name>`.
fn upstream_entities(
    n: u32,
    upstream: Value,
    targets: &[(SocketAddr, u32)],
) -> Vec<proto::v1::Entity> {
    let up = format!("00000000-0000-0000-0000-0000000000{n:02}");
    let svc = format!("10000000-0000-0000-0000-0000000000{n:02}");
    let name = upstream["name"].as_str().unwrap().to_string();
    let mut u = upstream;
    u["id"] = json!(up);
    let mut out = vec![
        entity("upstreams", u),
        entity(
            "services",
            json!({"id": svc, "host": name, "port": 80, "retries": 5}),
        ),
        entity(
            "routes",
            json!({"id": format!("20000000-0000-0000-0000-0000000000{n:02}"),
                   "paths": [format!("/{name}")], "service": {"id": svc}}),
        ),
    ];
    for (i, (addr, weight)) in targets.iter().enumerate() {
        out.push(entity(
            "targets",
            json!({"id": format!("30000000-0000-0000-0000-0000000{n:02}{i:03}"),
                   "upstream": {"id": up}, "target": addr.to_string(), "weight": weight}),
        ));
    }
    out
}

async fn call(
    c: &TestClient,
    method: &str,
    url: String,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    let (status, _, body) = send(c, method, url, headers, body.to_string()).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn balances_over_targets_like_kong() {
    let a = target("A", 200).await;
    let b = target("B", 200).await;
    let c = target("C", 200).await;
    let failing = target("F", 500).await;
    let dead = dead_port();
    let mut ents = Vec::new();
    ents.extend(upstream_entities(
        1,
        json!({"name": "weighted"}),
        &[(a, 300), (b, 100), (c, 0)],
    ));
    ents.extend(upstream_entities(
        2,
        json!({"name": "retry"}),
        &[(dead, 100), (a, 100)],
    ));
    ents.extend(upstream_entities(
        3,
        json!({"name": "passive", "healthchecks": {"passive": {"unhealthy": {"http_failures": 2}}}}),
        &[(a, 100), (failing, 100)],
    ));
    ents.extend(upstream_entities(
        4,
        json!({"name": "hashed", "algorithm": "consistent-hashing", "hash_on": "header", "hash_on_header": "x-user"}),
        &[(a, 100), (b, 100), (c, 100)],
    ));
    ents.extend(upstream_entities(5, json!({"name": "empty"}), &[]));
    ents.extend(upstream_entities(
        6,
        json!({"name": "named", "host_header": "api.internal"}),
        &[(b, 100)],
    ));
    let (gw, _) = gateway(&ents).await;
    let cl = client();

    // Weights 300/100/0: exactly 3:1, the weight-0 target never.
    let mut counts: HashMap<String, u32> = HashMap::new();
    for _ in 0..40 {
        let (s, v) = call(&cl, "GET", format!("http://{gw}/weighted"), &[], "").await;
        assert_eq!(s, 200);
        *counts
            .entry(v["id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(counts.get("A"), Some(&30), "{counts:?}");
    assert_eq!(counts.get("B"), Some(&10), "{counts:?}");
    assert_eq!(counts.get("C"), None, "{counts:?}");
    // The Host header is the target's (with its port), as Kong sends it.
    let (_, v) = call(&cl, "GET", format!("http://{gw}/weighted"), &[], "").await;
    assert!(v["host"].as_str().unwrap().starts_with("127.0.0.1:"), "{v}");
    let (_, v) = call(&cl, "GET", format!("http://{gw}/named"), &[], "").await;
    assert_eq!(v["host"], format!("api.internal:{}", b.port()));

    // A dead target is skipped by retrying on the next one; a POST body is sent again.
    for i in 0..6 {
        let (s, v) = call(
            &cl,
            "POST",
            format!("http://{gw}/retry"),
            &[],
            &format!("body-{i}"),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["id"], "A");
        assert_eq!(v["body"], format!("body-{i}"));
    }

    // Passive checks: two 500s take the failing target out; then only A answers.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let (s, v) = call(&cl, "GET", format!("http://{gw}/passive"), &[], "").await;
        statuses.push((s, v["id"].as_str().unwrap_or("").to_string()));
    }
    assert_eq!(
        statuses.iter().filter(|(s, _)| *s == 500).count(),
        2,
        "{statuses:?}"
    );
    assert!(
        statuses[6..].iter().all(|(s, id)| *s == 200 && id == "A"),
        "{statuses:?}"
    );

    // Consistent hashing: a header value always reaches the same target; values spread.
    let mut seen = std::collections::HashSet::new();
    for u in 0..12 {
        let user = format!("user-{u}");
        let mut ids = std::collections::HashSet::new();
        for _ in 0..4 {
            let (s, v) = call(
                &cl,
                "GET",
                format!("http://{gw}/hashed"),
                &[("x-user", &user)],
                "",
            )
            .await;
            assert_eq!(s, 200);
            ids.insert(v["id"].as_str().unwrap().to_string());
        }
        assert_eq!(ids.len(), 1, "{user} went to {ids:?}");
        seen.extend(ids);
    }
    assert!(seen.len() >= 2, "{seen:?}");

    // No target: Kong's 503.
    let (s, v) = call(&cl, "GET", format!("http://{gw}/empty"), &[], "").await;
    assert_eq!(s, 503);
    assert_eq!(
        v,
        json!({"message": "failure to get a peer from the ring-balancer"})
    );
}

#[tokio::test]
async fn active_checks_take_a_failing_target_out() {
    let a = target("A", 200).await;
    let failing = target("F", 500).await;
    let checks = json!({"active": {"http_path": "/health", "timeout": 1,
        "healthy": {"interval": 0.05, "successes": 1},
        "unhealthy": {"interval": 0.05, "http_failures": 1}}});
    let ents = upstream_entities(
        1,
        json!({"name": "probed", "healthchecks": checks}),
        &[(a, 100), (failing, 100)],
    );
    let (gw, _) = gateway(&ents).await;
    let cl = client();
    // The prober marks F unhealthy within a few intervals; then only A answers.
    let mut out_after = None;
    for round in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        let mut ids = Vec::new();
        for _ in 0..4 {
            let (_, v) = call(&cl, "GET", format!("http://{gw}/probed"), &[], "").await;
            ids.push(v["id"].as_str().unwrap_or("").to_string());
        }
        if ids.iter().all(|id| id == "A") {
            out_after = Some(round);
            break;
        }
    }
    assert!(
        out_after.is_some(),
        "F was never taken out by active checks"
    );
}
