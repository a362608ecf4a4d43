//! Upstreams: compiled with the runtime, one balancer per `upstreams` entity (by name) over its
//! targets. The proxy's plain flow asks the balancer of a service whose host is an upstream
//! name for a target per attempt (`pick`), holds an in-flight guard while the response streams
//! and reports the outcome (passive health, latency).

pub mod active;
pub mod algo;
pub mod guard;
pub mod hash_key;
pub mod health;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proto::schema::{Config, Target as TargetEntity, Upstream};

use algo::{Candidate, SmoothRoundRobin};
pub use guard::InFlight;
use hash_key::{HashOn, RequestFacts};
use health::{Outcome, Rules, TargetHealth};

/// Kong's body when no target can be used.
pub const NO_PEER: &str = r#"{"message":"failure to get a peer from the ring-balancer"}"#;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("targets[{target}]: upstream {upstream} does not exist")]
    MissingUpstream {
        target: uuid::Uuid,
        upstream: uuid::Uuid,
    },
    #[error("targets[{target}]: '{value}' is not host:port")]
    BadTarget { target: uuid::Uuid, value: String },
    #[error("upstreams[{name}].healthchecks: {source}")]
    Healthchecks {
        name: String,
        source: serde_json::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    RoundRobin,
    ConsistentHashing,
    LeastConnections,
    Latency,
}

/// One target of an upstream, with its live counters.
#[derive(Debug)]
pub struct Target {
    /// As configured: `host:port`.
    pub name: String,
    /// The host part (IPv6 in brackets), for the URI and the `Host` header.
    pub host: String,
    pub port: u16,
    pub weight: u32,
    in_flight: AtomicU64,
    /// EWMA of the time to response headers, in µs; 0 = no sample yet.
    latency_us: AtomicU64,
    pub health: TargetHealth,
}

impl Target {
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// The balancer of one upstream; shared by every request of the runtime that compiled it.
#[derive(Debug)]
pub struct Balancer {
    pub name: String,
    pub host_header: Option<String>,
    pub rules: Rules,
    targets: Vec<Target>,
    names: Vec<String>,
    algorithm: Algorithm,
    hash_on: HashOn,
    hash_fallback: HashOn,
    rr: SmoothRoundRobin,
    rotate: AtomicUsize,
}

impl Balancer {
    fn new(u: &Upstream, targets: Vec<Target>) -> Result<Balancer, UpstreamError> {
        let rules =
            Rules::from_value(&u.healthchecks).map_err(|source| UpstreamError::Healthchecks {
                name: u.name.clone(),
                source,
            })?;
        let field = |kind: &str, [header, arg, capture]: [&Option<String>; 3]| match kind {
            "header" => header.clone(),
            "cookie" => u.hash_on_cookie.clone(),
            "query_arg" => arg.clone(),
            "uri_capture" => capture.clone(),
            _ => None,
        };
        let on = field(
            &u.hash_on,
            [
                &u.hash_on_header,
                &u.hash_on_query_arg,
                &u.hash_on_uri_capture,
            ],
        );
        let fb = field(
            &u.hash_fallback,
            [
                &u.hash_fallback_header,
                &u.hash_fallback_query_arg,
                &u.hash_fallback_uri_capture,
            ],
        );
        Ok(Balancer {
            name: u.name.clone(),
            host_header: u.host_header.clone().filter(|h| !h.is_empty()),
            rules,
            names: targets.iter().map(|t| t.name.clone()).collect(),
            rr: SmoothRoundRobin::new(targets.len()),
            targets,
            algorithm: match u.algorithm.as_str() {
                "consistent-hashing" => Algorithm::ConsistentHashing,
                "least-connections" => Algorithm::LeastConnections,
                "latency" => Algorithm::Latency,
                _ => Algorithm::RoundRobin,
            },
            hash_on: HashOn::new(&u.hash_on, on.as_deref()),
            hash_fallback: HashOn::new(&u.hash_fallback, fb.as_deref()),
            rotate: AtomicUsize::new(0),
        })
    }

    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    pub fn target(&self, i: usize) -> Option<&Target> {
        self.targets.get(i)
    }

    /// Whether the hash key reads the route's `uri_captures` (then the caller works them out).
    pub fn hashes_on_captures(&self) -> bool {
        self.algorithm == Algorithm::ConsistentHashing
            && [&self.hash_on, &self.hash_fallback]
                .iter()
                .any(|h| matches!(h, HashOn::UriCapture(_)))
    }

    /// The consistent-hashing key of a request (`hash_on`, else `hash_fallback`); `None` for
    /// the other algorithms or when the request carries neither.
    pub fn hash_key(&self, facts: &RequestFacts<'_>) -> Option<String> {
        if self.algorithm != Algorithm::ConsistentHashing {
            return None;
        }
        hash_key::key(&self.hash_on, facts).or_else(|| hash_key::key(&self.hash_fallback, facts))
    }

    /// A target for the next attempt: healthy, weight > 0 and, while any is left, not in
    /// `tried`. `None` = no healthy target (Kong's "failure to get a peer").
    pub fn pick(&self, key: Option<&str>, tried: &[usize]) -> Option<usize> {
        let usable = |t: &Target| t.weight > 0 && t.health.is_healthy();
        let cands = |skip_tried: bool| -> Vec<Candidate> {
            self.targets
                .iter()
                .enumerate()
                .filter(|(i, t)| usable(t) && !(skip_tried && tried.contains(i)))
                .map(|(index, t)| Candidate {
                    index,
                    weight: t.weight,
                    in_flight: t.in_flight(),
                    latency_ms: t.latency_us.load(Ordering::Relaxed) as f64 / 1000.0,
                })
                .collect()
        };
        let mut c = cands(true);
        if c.is_empty() {
            c = cands(false);
        }
        if c.is_empty() {
            return None;
        }
        let start = || self.rotate.fetch_add(1, Ordering::Relaxed);
        match (self.algorithm, key) {
            (Algorithm::ConsistentHashing, Some(k)) => algo::rendezvous(k, &c, &self.names),
            (Algorithm::LeastConnections, _) => algo::least_connections(&c, start()),
            (Algorithm::Latency, _) => algo::latency(&c, start()),
            _ => self.rr.pick(&c),
        }
    }

    /// Counts a request to target `i` until the guard drops (least-connections).
    pub fn start(self: &Arc<Self>, i: usize) -> InFlight {
        InFlight::new(self.clone(), i)
    }

    /// What a proxied attempt to target `i` gave: passive health and the latency EWMA.
    /// Returns the new health state when it changed.
    pub fn report(&self, i: usize, outcome: Outcome, latency: Option<Duration>) -> Option<bool> {
        let t = self.targets.get(i)?;
        if let Some(l) = latency {
            let sample = l.as_micros().min(u128::from(u64::MAX / 2)) as u64;
            let old = t.latency_us.load(Ordering::Relaxed);
            let new = if old == 0 {
                sample.max(1)
            } else {
                (old * 4 + sample) / 5
            };
            t.latency_us.store(new.max(1), Ordering::Relaxed);
        }
        if !self.rules.passive_enabled() {
            return None;
        }
        let changed = t.health.report(&self.rules.passive, outcome);
        if let Some(healthy) = changed {
            tracing::warn!(upstream = %self.name, target = %t.name, healthy, "passive health check: target state changed");
        }
        changed
    }

    fn in_flight_counter(&self, i: usize) -> Option<&AtomicU64> {
        self.targets.get(i).map(|t| &t.in_flight)
    }
}

/// Every upstream of a runtime, by name.
#[derive(Debug, Default, Clone)]
pub struct Balancers {
    by_name: HashMap<String, Arc<Balancer>>,
}

impl Balancers {
    pub fn get(&self, name: &str) -> Option<&Arc<Balancer>> {
        self.by_name.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Balancer>> {
        self.by_name.values()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// `(upstream, target, address, state)` per target for `kong_upstream_target_health`;
    /// the address is the target itself (targets are not resolved ahead of connecting).
    pub fn health_rows(&self) -> Vec<(String, String, String, &'static str)> {
        let mut rows = Vec::new();
        for b in self.by_name.values() {
            let checked = b.rules.passive_enabled() || b.rules.active_enabled();
            for t in &b.targets {
                let state = match (checked, t.health.is_healthy()) {
                    (false, _) => "healthchecks_off",
                    (true, true) => "healthy",
                    (true, false) => "unhealthy",
                };
                rows.push((b.name.clone(), t.name.clone(), t.name.clone(), state));
            }
        }
        rows.sort();
        rows
    }
}

/// Builds one balancer per upstream with its targets (in config order).
pub fn compile(cfg: &Config) -> Result<Balancers, UpstreamError> {
    let mut targets: HashMap<uuid::Uuid, Vec<Target>> = HashMap::new();
    let known: HashMap<uuid::Uuid, &Upstream> = cfg.upstreams.iter().map(|u| (u.id, u)).collect();
    for t in &cfg.targets {
        if !known.contains_key(&t.upstream.id) {
            return Err(UpstreamError::MissingUpstream {
                target: t.id,
                upstream: t.upstream.id,
            });
        }
        targets
            .entry(t.upstream.id)
            .or_default()
            .push(parse_target(t)?);
    }
    let mut by_name = HashMap::new();
    for u in &cfg.upstreams {
        let b = Arc::new(Balancer::new(u, targets.remove(&u.id).unwrap_or_default())?);
        active::start(&b);
        by_name.insert(u.name.clone(), b);
    }
    Ok(Balancers { by_name })
}

fn parse_target(t: &TargetEntity) -> Result<Target, UpstreamError> {
    let bad = || UpstreamError::BadTarget {
        target: t.id,
        value: t.target.clone(),
    };
    let (host, port) = t.target.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || (host.contains(':') && !host.starts_with('[')) {
        return Err(bad());
    }
    Ok(Target {
        name: t.target.clone(),
        host: host.to_string(),
        port,
        weight: t.weight,
        in_flight: AtomicU64::new(0),
        latency_us: AtomicU64::new(0),
        health: TargetHealth::default(),
    })
}

#[cfg(test)]
mod tests;
