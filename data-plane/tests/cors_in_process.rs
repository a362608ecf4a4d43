//! In-process end-to-end for `cors`: a preflight is answered by the proxy (the upstream never
//! sees it), actual requests get the `Access-Control-*` headers on the upstream's answer, and
//! `preflight_continue` hands the preflight to the upstream.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use common::{call, client, config, echo_upstream, gateway};
use serde_json::{json, Value};

#[tokio::test]
async fn preflight_answered_and_actual_requests_decorated() {
    let up = echo_upstream().await;
    let (strict, cont) = (
        "10000000-0000-0000-0000-0000000000d1",
        "10000000-0000-0000-0000-0000000000d2",
    );
    let ents = config(
        up,
        &[(strict, "/strict"), (cont, "/continue")],
        vec![
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000d1", "name": "cors", "route": {"id": strict},
                "config": {"origins": ["https://app.example.com", r"https://.*\.trusted\.io"], "credentials": true,
                           "exposed_headers": ["X-Total"], "max_age": 600, "methods": ["GET", "POST"]}}),
            ),
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000d2", "name": "cors", "route": {"id": cont},
                "config": {"preflight_continue": true}}),
            ),
        ],
    );
    let (gw, _state) = gateway(&ents).await;
    let c = client();
    let preflight = [
        ("origin", "https://app.example.com"),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "content-type"),
    ];

    let (s, h, b) = call(&c, "OPTIONS", format!("http://{gw}/strict"), &preflight).await;
    assert_eq!(s, 200);
    assert_eq!(b, "", "the upstream must not answer a preflight");
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(h["access-control-allow-methods"], "GET,POST");
    assert_eq!(h["access-control-allow-headers"], "content-type");
    assert_eq!(h["access-control-max-age"], "600");
    assert!(h.contains_key("x-kong-request-id"));

    let (s, h, b) = call(
        &c,
        "GET",
        format!("http://{gw}/strict"),
        &[("origin", "https://a.trusted.io")],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(serde_json::from_str::<Value>(&b).unwrap()["method"], "GET");
    assert_eq!(h["access-control-allow-origin"], "https://a.trusted.io");
    assert_eq!(h["access-control-expose-headers"], "X-Total");
    assert_eq!(h["vary"], "Origin");
    let (_, h, _) = call(
        &c,
        "GET",
        format!("http://{gw}/strict"),
        &[("origin", "https://evil.io")],
    )
    .await;
    assert!(!h.contains_key("access-control-allow-origin"));

    // preflight_continue: the upstream answers the OPTIONS request, no CORS headers added.
    let (s, h, b) = call(&c, "OPTIONS", format!("http://{gw}/continue"), &preflight).await;
    assert_eq!(s, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&b).unwrap()["method"],
        "OPTIONS"
    );
    assert!(!h.contains_key("access-control-allow-origin"));
    let (_, h, _) = call(
        &c,
        "GET",
        format!("http://{gw}/continue"),
        &[("origin", "https://x.y")],
    )
    .await;
    assert_eq!(h["access-control-allow-origin"], "*");
}
