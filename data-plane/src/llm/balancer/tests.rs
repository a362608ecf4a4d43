//! Unit tests of the balancing algorithms and the circuit breaker.

use super::*;

fn balancer(algorithm: &str, weights: &[u32], extra: serde_json::Value) -> Balancer {
    let mut cfg = serde_json::json!({"algorithm": algorithm});
    if let (Some(c), Some(e)) = (cfg.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    let cfg: Config = serde_json::from_value(cfg).unwrap();
    Balancer::new(&cfg, weights)
}

#[test]
fn priority_uses_the_heaviest_group_and_fails_over() {
    let b = balancer("priority", &[10, 100, 100, 1], serde_json::json!({}));
    let picks: Vec<usize> = (0..4).map(|_| b.pick(&[], None).unwrap()).collect();
    assert_eq!(picks, vec![1, 2, 1, 2]);
    assert_eq!(b.pick(&[1, 2], None), Some(0));
    assert_eq!(b.pick(&[0, 1, 2], None), Some(3));
    assert_eq!(b.pick(&[0, 1, 2, 3], None), None);
}

#[test]
fn lowest_latency_prefers_the_fastest_after_exploring() {
    let b = balancer("lowest-latency", &[1, 1], serde_json::json!({}));
    b.success(0, 500.0);
    // Target 1 was never measured (0): explored first.
    assert_eq!(b.pick(&[], None), Some(1));
    b.success(1, 50.0);
    assert_eq!(b.pick(&[], None), Some(1));
    assert_eq!(b.pick(&[], None), Some(1));
    assert_eq!(b.pick(&[1], None), Some(0));
}

#[test]
fn lowest_usage_and_least_connections() {
    let b = balancer("lowest-usage", &[1, 1], serde_json::json!({}));
    b.used(0, 100.0);
    assert_eq!(b.pick(&[], None), Some(1));
    let lc = balancer("least-connections", &[1, 1], serde_json::json!({}));
    let g = lc.begin(0);
    assert_eq!(lc.pick(&[], None), Some(1));
    assert_eq!(lc.pick(&[], None), Some(1));
    drop(g);
    let _g1 = lc.begin(1);
    assert_eq!(lc.pick(&[], None), Some(0));
}

#[test]
fn consistent_hashing_is_sticky_and_spreads() {
    let b = balancer("consistent-hashing", &[1, 1, 1], serde_json::json!({}));
    let first = b.pick(&[], Some("user-42")).unwrap();
    for _ in 0..5 {
        assert_eq!(b.pick(&[], Some("user-42")), Some(first));
    }
    let other = b.pick(&[first], Some("user-42")).unwrap();
    assert_ne!(other, first);
    let spread: std::collections::HashSet<usize> = (0..60)
        .map(|i| b.pick(&[], Some(&format!("k{i}"))).unwrap())
        .collect();
    assert_eq!(spread.len(), 3);
}

#[test]
fn circuit_breaker_takes_a_target_out_and_back_in() {
    let b = balancer(
        "round-robin",
        &[1, 1],
        serde_json::json!({"max_fails": 2, "fail_timeout": 50}),
    );
    b.failure(0);
    assert!(b.is_up(0));
    b.failure(0);
    assert!(!b.is_up(0));
    for _ in 0..4 {
        assert_eq!(b.pick(&[], None), Some(1));
    }
    // With every untried target out, the out one is still used rather than nothing.
    assert_eq!(b.pick(&[1], None), Some(0));
    std::thread::sleep(Duration::from_millis(60));
    assert!(b.is_up(0));
    let picks: Vec<usize> = (0..2).map(|_| b.pick(&[], None).unwrap()).collect();
    assert!(picks.contains(&0));
}

#[test]
fn breaker_disabled_with_zero_max_fails() {
    let b = balancer("round-robin", &[1], serde_json::json!({}));
    for _ in 0..10 {
        b.failure(0);
    }
    assert!(b.is_up(0));
}

#[test]
fn usage_amount_follows_the_strategy() {
    let a = crate::llm::AiAnalytics {
        usage: crate::llm::Usage {
            prompt_tokens: 10,
            completion_tokens: 5,
            total_tokens: 15,
        },
        input_cost: Some(1e6),
        output_cost: Some(2e6),
        ..Default::default()
    };
    let b = |s: &str| {
        balancer(
            "lowest-usage",
            &[1],
            serde_json::json!({"tokens_count_strategy": s}),
        )
    };
    assert!(b("total-tokens").tracks_usage());
    assert_eq!(b("total-tokens").usage_amount(&a), 15.0);
    assert_eq!(b("prompt-tokens").usage_amount(&a), 10.0);
    assert_eq!(b("completion-tokens").usage_amount(&a), 5.0);
    assert_eq!(b("cost").usage_amount(&a), 20.0);
    assert!(!balancer("round-robin", &[1], serde_json::json!({})).tracks_usage());
}
