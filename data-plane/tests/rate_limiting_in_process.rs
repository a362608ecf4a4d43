//! In-process end-to-end for `rate-limiting` (local policy): Kong's headers count down, the
//! request over the limit gets 429 with Kong's body and `Retry-After` and never reaches the
//! upstream, prometheus counts it with `source="kong"`, counters survive a config swap that
//! keeps the plugin id, and consumer-scoped limits apply after key-auth.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use common::{apply, call, client, config, echo_upstream, gateway};
use serde_json::json;

const ROUTE: &str = "10000000-0000-0000-0000-0000000000e1";
const AUTH_ROUTE: &str = "10000000-0000-0000-0000-0000000000e2";
const ALICE: &str = "30000000-0000-0000-0000-0000000000e1";

fn entities(up: std::net::SocketAddr, minute: u32) -> Vec<proto::v1::Entity> {
    config(
        up,
        &[(ROUTE, "/limited"), (AUTH_ROUTE, "/auth")],
        vec![
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000e1", "name": "rate-limiting",
                "route": {"id": ROUTE}, "config": {"minute": minute, "hour": 100, "limit_by": "ip"}}),
            ),
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000e2", "name": "prometheus", "config": {"status_code_metrics": true}}),
            ),
            ("consumers", json!({"id": ALICE, "username": "alice"})),
            (
                "keyauth_credentials",
                json!({"id": "40000000-0000-0000-0000-0000000000e1", "key": "k-alice",
                "consumer": {"id": ALICE}}),
            ),
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000e3", "name": "key-auth",
                "route": {"id": AUTH_ROUTE}, "config": {}}),
            ),
            // Consumer-scoped: chosen only once key-auth (priority 1250) has run.
            (
                "plugins",
                json!({"id": "20000000-0000-0000-0000-0000000000e4", "name": "rate-limiting",
                "consumer": {"id": ALICE}, "config": {"second": 1, "hide_client_headers": true,
                "error_message": "alice, slow down"}}),
            ),
        ],
    )
}

#[tokio::test]
async fn limits_headers_refusal_metrics_and_config_swap() {
    let up = echo_upstream().await;
    let (gw, state) = gateway(&entities(up, 3)).await;
    let c = client();
    let url = format!("http://{gw}/limited");

    for left in ["2", "1"] {
        let (s, h, b) = call(&c, "GET", url.clone(), &[]).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(h["x-ratelimit-limit-minute"], "3");
        assert_eq!(h["x-ratelimit-remaining-minute"], left);
        assert_eq!(h["ratelimit-limit"], "3");
        assert_eq!(h["ratelimit-remaining"], left);
        assert_eq!(h["x-ratelimit-limit-hour"], "100");
        let reset: u32 = h["ratelimit-reset"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&reset), "{reset}");
    }

    // The same plugin id with a new config: the count so far is kept (2 of 3 used).
    apply(&state, &entities(up, 3), 2);
    let (s, h, _) = call(&c, "GET", url.clone(), &[]).await;
    assert_eq!(s, 200);
    assert_eq!(h["x-ratelimit-remaining-minute"], "0");

    let (s, h, b) = call(&c, "GET", url.clone(), &[]).await;
    assert_eq!(s, 429);
    assert_eq!(b, r#"{"message":"API rate limit exceeded"}"#);
    assert!(h.contains_key("retry-after"));
    assert_eq!(h["ratelimit-remaining"], "0");
    assert!(
        !h.contains_key("via"),
        "a Kong-made answer, not the upstream's"
    );

    let m = state.metrics.render();
    assert!(
        m.contains(r#"code="429",source="kong""#),
        "refusals are counted with source kong: {m}"
    );

    // Consumer-scoped instance after key-auth: its own limit, message and hidden headers.
    let auth = format!("http://{gw}/auth");
    let (s, h, _) = call(&c, "GET", auth.clone(), &[("apikey", "k-alice")]).await;
    assert_eq!(s, 200);
    assert!(!h.contains_key("ratelimit-limit"));
    // Three requests within a second cross at most one second boundary: one more is refused.
    let mut refused = Vec::new();
    for _ in 0..2 {
        let (s, _, b) = call(&c, "GET", auth.clone(), &[("apikey", "k-alice")]).await;
        if s == 429 {
            refused.push(b);
        }
    }
    assert!(!refused.is_empty());
    assert_eq!(refused[0], r#"{"message":"alice, slow down"}"#);
}
