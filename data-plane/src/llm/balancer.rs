//! Target balancing for `ai-proxy-advanced`, one state per plugin instance shared by all
//! requests: picks a target per attempt (round-robin, priority, lowest-latency, lowest-usage,
//! consistent-hashing, least-connections), skipping targets already tried and targets whose
//! circuit breaker is open, and learns from each attempt's outcome.

pub mod failover;
pub mod round_robin;

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proto::schema::plugins::ai_proxy_advanced::{Algorithm, Balancer as Config};

pub use failover::{Criteria, Failure};
pub use round_robin::RoundRobin;

/// What one target has shown so far. f64 values are stored as bits.
#[derive(Debug, Default)]
struct Stats {
    inflight: AtomicU64,
    /// EWMA of latency (ms, or ms per output token for `tpot`); 0 = never measured.
    latency: AtomicU64,
    /// Tokens (or cost) consumed so far.
    usage: AtomicU64,
    fails: AtomicU32,
    /// Milliseconds since `epoch` until which the target is out; 0 = in.
    down_until: AtomicU64,
}

fn load(a: &AtomicU64) -> f64 {
    f64::from_bits(a.load(Ordering::Relaxed))
}

#[derive(Debug)]
pub struct Balancer {
    algorithm: Algorithm,
    weights: Vec<u32>,
    rr: RoundRobin,
    stats: Arc<[Stats]>,
    epoch: Instant,
    max_fails: u32,
    fail_timeout: Duration,
    pub tpot: bool,
    pub usage_strategy: String,
}

/// Holds a target's in-flight count up while a request to it lasts.
#[derive(Debug)]
pub struct InFlight {
    stats: Arc<[Stats]>,
    idx: usize,
}

impl InFlight {
    /// Tokens (or cost) a streamed reply of this target used, for lowest-usage.
    pub fn used(&self, amount: f64) {
        if let Some(s) = self.stats.get(self.idx) {
            add_usage(s, amount);
        }
    }
}

fn add_usage(s: &Stats, amount: f64) {
    let _ = s
        .usage
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            Some((f64::from_bits(v) + amount).to_bits())
        });
}

/// What one request used, per `tokens_count_strategy`.
pub fn amount(strategy: &str, a: &crate::llm::AiAnalytics) -> f64 {
    let u = a.usage;
    match strategy {
        "prompt-tokens" => u.prompt_tokens as f64,
        "completion-tokens" => u.completion_tokens as f64,
        "cost" => a.cost(),
        _ => u.total_tokens as f64,
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(s) = self.stats.get(self.idx) {
            s.inflight.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Balancer {
    pub fn new(config: &Config, weights: &[u32]) -> Self {
        Balancer {
            algorithm: config.algorithm,
            weights: weights.to_vec(),
            rr: RoundRobin::new(weights),
            stats: (0..weights.len()).map(|_| Stats::default()).collect(),
            epoch: Instant::now(),
            max_fails: config.max_fails,
            fail_timeout: Duration::from_millis(config.fail_timeout),
            tpot: config.latency_strategy == "tpot",
            usage_strategy: config.tokens_count_strategy.clone(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn is_up(&self, i: usize) -> bool {
        self.stats
            .get(i)
            .is_some_and(|s| s.down_until.load(Ordering::Relaxed) <= self.now_ms())
    }

    /// The target for the next attempt, never one in `tried`. Targets whose breaker is open
    /// are skipped unless every untried target is out. `hash_key` is the value of
    /// `hash_on_header` (consistent-hashing only).
    pub fn pick(&self, tried: &[usize], hash_key: Option<&str>) -> Option<usize> {
        let untried = |i: usize| !tried.contains(&i);
        let any_up = (0..self.weights.len()).any(|i| untried(i) && self.is_up(i));
        let ok = |i: usize| untried(i) && (!any_up || self.is_up(i));
        match self.algorithm {
            Algorithm::Priority => {
                let top = (0..self.weights.len())
                    .filter(|i| ok(*i))
                    .map(|i| self.weights[i])
                    .max()?;
                self.rr.next_among(|i| ok(i) && self.weights[i] == top)
            }
            Algorithm::LowestLatency => self.lowest(ok, |i, _| load(&self.stats[i].latency)),
            Algorithm::LowestUsage => self.lowest(ok, |i, w| load(&self.stats[i].usage) / w),
            Algorithm::LeastConnections => self.lowest(ok, |i, w| {
                self.stats[i].inflight.load(Ordering::Relaxed) as f64 / w
            }),
            Algorithm::ConsistentHashing => match hash_key.filter(|k| !k.is_empty()) {
                Some(key) => self.rendezvous(key, ok),
                None => self.rr.next_among(ok),
            },
            Algorithm::RoundRobin | Algorithm::Semantic => self.rr.next_among(ok),
        }
    }

    /// Round-robin among the eligible targets with the lowest score.
    fn lowest(
        &self,
        ok: impl Fn(usize) -> bool,
        score: impl Fn(usize, f64) -> f64,
    ) -> Option<usize> {
        let scores: Vec<(usize, f64)> = (0..self.weights.len())
            .filter(|i| ok(*i))
            .map(|i| (i, score(i, f64::from(self.weights[i].max(1)))))
            .collect();
        let min = scores.iter().map(|(_, s)| *s).fold(f64::INFINITY, f64::min);
        self.rr
            .next_among(|i| scores.iter().any(|(j, s)| *j == i && *s <= min))
    }

    /// Weighted rendezvous hashing: the same key keeps its target while that target is in.
    fn rendezvous(&self, key: &str, ok: impl Fn(usize) -> bool) -> Option<usize> {
        (0..self.weights.len())
            .filter(|i| ok(*i))
            .map(|i| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                (key, i).hash(&mut h);
                // u in (0, 1]; score = -ln(u) / weight, lowest wins.
                let u = ((h.finish() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
                (i, -u.ln() / f64::from(self.weights[i].max(1)))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    }

    /// Counts a request to `idx` as in flight until the guard drops.
    pub fn begin(&self, idx: usize) -> Option<InFlight> {
        let s = self.stats.get(idx)?;
        s.inflight.fetch_add(1, Ordering::Relaxed);
        Some(InFlight {
            stats: self.stats.clone(),
            idx,
        })
    }

    /// A successful attempt: closes the breaker's count, feeds latency (EWMA, α = 0.3).
    pub fn success(&self, idx: usize, latency_ms: f64) {
        let Some(s) = self.stats.get(idx) else { return };
        s.fails.store(0, Ordering::Relaxed);
        let old = load(&s.latency);
        let new = if old == 0.0 {
            latency_ms
        } else {
            0.7 * old + 0.3 * latency_ms
        };
        s.latency
            .store(new.max(f64::MIN_POSITIVE).to_bits(), Ordering::Relaxed);
    }

    /// Whether replies' usage should be reported (`lowest-usage`).
    pub fn tracks_usage(&self) -> bool {
        self.algorithm == Algorithm::LowestUsage
    }

    /// What one request used, per `tokens_count_strategy`.
    pub fn usage_amount(&self, a: &crate::llm::AiAnalytics) -> f64 {
        amount(&self.usage_strategy, a)
    }

    /// Tokens (or cost) used by a request to `idx`, for lowest-usage.
    pub fn used(&self, idx: usize, amount: f64) {
        if let Some(s) = self.stats.get(idx) {
            add_usage(s, amount);
        }
    }

    /// A failed attempt that counts: `max_fails` of them take the target out for
    /// `fail_timeout`, after which it is back in (a success resets the count).
    pub fn failure(&self, idx: usize) {
        let Some(s) = self.stats.get(idx) else { return };
        if self.max_fails == 0 {
            return;
        }
        let n = s.fails.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= self.max_fails {
            s.fails.store(0, Ordering::Relaxed);
            let until = self.now_ms() + u64::try_from(self.fail_timeout.as_millis()).unwrap_or(0);
            s.down_until.store(until.max(1), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests;
