//! Unit tests of `rate-limiting`: Kong's headers, refusals, identifiers and hidden headers.

use super::*;
use serde_json::json;

// 2026-11-29T07:26:18.500Z
const NOW: i64 = 1_795_937_178_500;

fn limiter(id: u128, cfg: serde_json::Value) -> RateLimiter {
    RateLimiter::new(Uuid::from_u128(id), serde_json::from_value(cfg).unwrap())
}

fn client<'a>(headers: &'a HeaderMap, consumer: Option<Uuid>) -> Client<'a> {
    Client {
        consumer,
        credential: None,
        service: Some(Uuid::from_u128(7)),
        headers,
        path: "/p",
        ip: "10.0.0.1".parse().unwrap(),
    }
}

fn allowed(o: Outcome) -> HeaderMap {
    let Outcome::Allowed(changes) = o else {
        panic!("refused: {o:?}")
    };
    let mut h = HeaderMap::new();
    for c in changes {
        c.apply(&mut h);
    }
    h
}

#[test]
fn headers_count_down_then_refusal_with_retry_after() {
    let rl = limiter(1, json!({"minute": 2, "hour": 10}));
    let h = HeaderMap::new();
    let first = allowed(rl.access_at(&client(&h, None), NOW));
    assert_eq!(first["x-ratelimit-limit-minute"], "2");
    assert_eq!(first["x-ratelimit-remaining-minute"], "1");
    assert_eq!(first["x-ratelimit-remaining-hour"], "9");
    assert_eq!(first["ratelimit-limit"], "2");
    assert_eq!(first["ratelimit-remaining"], "1");
    assert_eq!(first["ratelimit-reset"], "42"); // 60 - 18 s into the minute
    let second = allowed(rl.access_at(&client(&h, None), NOW));
    assert_eq!(second["ratelimit-remaining"], "0");
    let Outcome::Refused {
        status,
        body,
        headers,
    } = rl.access_at(&client(&h, None), NOW)
    else {
        panic!("not refused")
    };
    assert_eq!(status, 429);
    assert_eq!(body, r#"{"message":"API rate limit exceeded"}"#);
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(get("retry-after").unwrap(), "42");
    assert_eq!(get("x-ratelimit-remaining-minute").unwrap(), "0");
    // The hour window was not counted by the refusal: 8 left before this request.
    assert_eq!(get("x-ratelimit-remaining-hour").unwrap(), "8");
}

#[test]
fn limit_by_consumer_falls_back_to_ip_and_header_keys_apart() {
    let rl = limiter(2, json!({"second": 1}));
    let h = HeaderMap::new();
    let alice = Some(Uuid::from_u128(1));
    assert!(matches!(
        rl.access_at(&client(&h, alice), NOW),
        Outcome::Allowed(_)
    ));
    assert!(matches!(
        rl.access_at(&client(&h, None), NOW),
        Outcome::Allowed(_)
    ));
    assert!(matches!(
        rl.access_at(&client(&h, None), NOW),
        Outcome::Refused { .. }
    ));
    let rl = limiter(
        3,
        json!({"second": 1, "limit_by": "header", "header_name": "x-team"}),
    );
    let mut a = HeaderMap::new();
    a.insert("x-team", HeaderValue::from_static("a"));
    let mut b = HeaderMap::new();
    b.insert("x-team", HeaderValue::from_static("b"));
    assert!(matches!(
        rl.access_at(&client(&a, None), NOW),
        Outcome::Allowed(_)
    ));
    assert!(matches!(
        rl.access_at(&client(&b, None), NOW),
        Outcome::Allowed(_)
    ));
    assert!(matches!(
        rl.access_at(&client(&a, None), NOW),
        Outcome::Refused { .. }
    ));
}

#[test]
fn hidden_headers_custom_error_and_path_identifier() {
    let rl = limiter(
        4,
        json!({"second": 1, "hide_client_headers": true, "error_code": 503,
               "error_message": "slow down", "limit_by": "path", "path": "/p"}),
    );
    let h = HeaderMap::new();
    assert!(allowed(rl.access_at(&client(&h, None), NOW)).is_empty());
    let Outcome::Refused {
        status,
        body,
        headers,
    } = rl.access_at(&client(&h, None), NOW)
    else {
        panic!("not refused")
    };
    assert_eq!(status, 503);
    assert_eq!(body, r#"{"message":"slow down"}"#);
    assert!(headers.is_empty(), "{headers:?}");
}
