//! Upstream health: the `healthchecks` record read into typed rules, and per-target counters
//! that passive reports (proxied responses) and active probes feed. A target whose failure
//! counter reaches its threshold goes out of the balancer; `successes` brings it back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::Value;

/// One side (`healthy` or `unhealthy`) of an active or passive check.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Side {
    pub interval: f64,
    pub http_statuses: Vec<u16>,
    pub successes: u32,
    pub tcp_failures: u32,
    pub timeouts: u32,
    pub http_failures: u32,
}

/// `healthchecks.active` or `healthchecks.passive`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Check {
    #[serde(rename = "type")]
    pub kind: String,
    pub timeout: f64,
    pub http_path: String,
    pub healthy: Side,
    pub unhealthy: Side,
}

/// The `healthchecks` record of an upstream.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Rules {
    pub active: Check,
    pub passive: Check,
}

impl Rules {
    /// Reads `healthchecks` under Kong's defaults (a missing field keeps its default), filled as
    /// the CP fills them.
    pub fn from_value(v: &Value) -> Result<Rules, serde_json::Error> {
        serde_json::from_value(proto::schema::fill_healthchecks(v.clone()))
    }

    /// Whether any passive threshold is set (otherwise reports are not counted).
    pub fn passive_enabled(&self) -> bool {
        let u = &self.passive.unhealthy;
        u.tcp_failures > 0 || u.timeouts > 0 || u.http_failures > 0
    }

    /// Whether active probing is on (an interval > 0 on either side).
    pub fn active_enabled(&self) -> bool {
        self.active.healthy.interval > 0.0 || self.active.unhealthy.interval > 0.0
    }
}

/// What one proxied response or probe said about a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Status(u16),
    TcpFailure,
    Timeout,
}

#[derive(Debug, Default)]
struct Counters {
    successes: u32,
    tcp_failures: u32,
    timeouts: u32,
    http_failures: u32,
}

/// One target's health state.
#[derive(Debug)]
pub struct TargetHealth {
    healthy: AtomicBool,
    counters: Mutex<Counters>,
}

impl Default for TargetHealth {
    fn default() -> Self {
        TargetHealth {
            healthy: AtomicBool::new(true),
            counters: Mutex::new(Counters::default()),
        }
    }
}

impl TargetHealth {
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Counts `outcome` under `check` (lua-resty-healthcheck's rules: successes are counted only
    /// while unhealthy, failures only while healthy; a success clears the failure counters and a
    /// failure the success counter; crossing a threshold flips the state and clears them all).
    /// Returns the new state when it changed.
    pub fn report(&self, check: &Check, outcome: Outcome) -> Option<bool> {
        let healthy = self.is_healthy();
        let (u, h) = (&check.unhealthy, &check.healthy);
        let Ok(mut c) = self.counters.lock() else {
            return None;
        };
        let success = match outcome {
            Outcome::Status(s) if h.http_statuses.contains(&s) => true,
            Outcome::Status(s) if u.http_statuses.contains(&s) => false,
            Outcome::Status(_) => return None,
            Outcome::TcpFailure | Outcome::Timeout => false,
        };
        let flip = if success {
            if healthy || h.successes == 0 {
                *c = Counters::default();
                return None;
            }
            c.tcp_failures = 0;
            c.timeouts = 0;
            c.http_failures = 0;
            c.successes += 1;
            c.successes >= h.successes
        } else {
            if !healthy {
                return None;
            }
            c.successes = 0;
            let (n, limit) = match outcome {
                Outcome::TcpFailure => (&mut c.tcp_failures, u.tcp_failures),
                Outcome::Timeout => (&mut c.timeouts, u.timeouts),
                Outcome::Status(_) => (&mut c.http_failures, u.http_failures),
            };
            *n += 1;
            limit > 0 && *n >= limit
        };
        if !flip {
            return None;
        }
        *c = Counters::default();
        self.healthy.store(!healthy, Ordering::Relaxed);
        Some(!healthy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(v: Value) -> Rules {
        Rules::from_value(&v).unwrap()
    }

    #[test]
    fn defaults_disable_passive_and_active() {
        let r = rules(json!({}));
        assert!(!r.passive_enabled());
        assert!(!r.active_enabled());
        assert_eq!(r.passive.unhealthy.http_statuses, [429, 500, 503]);
        assert_eq!(r.active.http_path, "/");
        let t = TargetHealth::default();
        for _ in 0..100 {
            assert_eq!(t.report(&r.passive, Outcome::Status(500)), None);
            assert_eq!(t.report(&r.passive, Outcome::TcpFailure), None);
        }
        assert!(t.is_healthy());
    }

    #[test]
    fn failures_take_a_target_out_and_successes_bring_it_back() {
        let r = rules(
            json!({"passive": {"unhealthy": {"http_failures": 2, "tcp_failures": 1},
                                          "healthy": {"successes": 2}}}),
        );
        assert!(r.passive_enabled());
        let t = TargetHealth::default();
        assert_eq!(t.report(&r.passive, Outcome::Status(500)), None);
        // A success in between clears the failure count.
        assert_eq!(t.report(&r.passive, Outcome::Status(200)), None);
        assert_eq!(t.report(&r.passive, Outcome::Status(500)), None);
        assert_eq!(t.report(&r.passive, Outcome::Status(503)), Some(false));
        assert!(!t.is_healthy());
        assert_eq!(t.report(&r.passive, Outcome::Status(200)), None);
        assert_eq!(t.report(&r.passive, Outcome::Status(200)), Some(true));
        assert!(t.is_healthy());
        assert_eq!(t.report(&r.passive, Outcome::TcpFailure), Some(false));
        // Statuses in neither list count for nothing.
        assert_eq!(t.report(&r.passive, Outcome::Status(418)), None);
        assert!(!t.is_healthy());
    }

    #[test]
    fn timeouts_have_their_own_threshold() {
        let r = rules(json!({"passive": {"unhealthy": {"timeouts": 3}}}));
        let t = TargetHealth::default();
        assert_eq!(t.report(&r.passive, Outcome::TcpFailure), None);
        assert_eq!(t.report(&r.passive, Outcome::Timeout), None);
        assert_eq!(t.report(&r.passive, Outcome::Timeout), None);
        assert_eq!(t.report(&r.passive, Outcome::Timeout), Some(false));
    }
}
