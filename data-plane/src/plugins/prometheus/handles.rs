//! The prometheus log phase's metric handles, resolved once per (service, route, consumer) and
//! kept per thread: a request then records through plain handles instead of hashing its label
//! strings into each family (and taking each family's lock) five or six times.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use prometheus::{Counter, Histogram, IntCounter};

use crate::metrics::Metrics;

/// A thread's cache is emptied when it reaches this many entries (the label sets themselves
/// stay in the registry; only the shortcuts go).
const MAX_ENTRIES: usize = 4096;

/// The Kong workspace label.
pub(super) const WORKSPACE: &str = "default";

/// The request-level series of one (service, route, consumer), each resolved when first used
/// (a series appears in `/metrics` only once something was recorded in it, as before).
pub(super) struct RouteHandles {
    service: String,
    route: String,
    consumer: String,
    metrics_id: u64,
    latency: [Option<Histogram>; 3],
    bandwidth: [Option<IntCounter>; 2],
    /// `kong_http_requests_total` by (status, from the service).
    requests: Vec<(u16, bool, IntCounter)>,
}

/// The latency families, by position in `RouteHandles::latency`.
#[derive(Debug, Clone, Copy)]
pub(super) enum Latency {
    Kong = 0,
    Upstream = 1,
    Request = 2,
}

/// The bandwidth directions, by position in `RouteHandles::bandwidth`.
#[derive(Debug, Clone, Copy)]
pub(super) enum Direction {
    Ingress = 0,
    Egress = 1,
}

impl RouteHandles {
    fn new(m: &Metrics, service: &str, route: &str, consumer: &str) -> Self {
        RouteHandles {
            service: service.to_string(),
            route: route.to_string(),
            consumer: consumer.to_string(),
            metrics_id: m.id(),
            latency: [None, None, None],
            bandwidth: [None, None],
            requests: Vec::new(),
        }
    }

    fn is(&self, m: &Metrics, service: &str, route: &str, consumer: &str) -> bool {
        self.metrics_id == m.id()
            && self.service == service
            && self.route == route
            && self.consumer == consumer
    }

    /// The latency histogram child of `which`.
    pub fn latency(&mut self, m: &Metrics, which: Latency) -> &Histogram {
        let (service, route) = (self.service.as_str(), self.route.as_str());
        self.latency[which as usize].get_or_insert_with(|| {
            let family = match which {
                Latency::Kong => &m.kong_latency,
                Latency::Upstream => &m.upstream_latency,
                Latency::Request => &m.request_latency,
            };
            family.with_label_values(&[service, route, WORKSPACE])
        })
    }

    /// The `kong_bandwidth_bytes` child of `dir`.
    pub fn bandwidth(&mut self, m: &Metrics, dir: Direction) -> &IntCounter {
        let (service, route, consumer) = (
            self.service.as_str(),
            self.route.as_str(),
            self.consumer.as_str(),
        );
        self.bandwidth[dir as usize].get_or_insert_with(|| {
            let d = match dir {
                Direction::Ingress => "ingress",
                Direction::Egress => "egress",
            };
            m.bandwidth
                .with_label_values(&[service, route, d, WORKSPACE, consumer])
        })
    }

    /// The `kong_http_requests_total` child for `status` and source.
    pub fn requests(&mut self, m: &Metrics, status: u16, from_service: bool) -> &IntCounter {
        let pos = self
            .requests
            .iter()
            .position(|(s, f, _)| *s == status && *f == from_service);
        let i = match pos {
            Some(i) => i,
            None => {
                let code = status.to_string();
                let source = if from_service { "service" } else { "kong" };
                let c = m.http_requests.with_label_values(&[
                    &self.service,
                    &self.route,
                    &code,
                    source,
                    WORKSPACE,
                    &self.consumer,
                ]);
                self.requests.push((status, from_service, c));
                self.requests.len() - 1
            }
        };
        &self.requests[i].2
    }
}

thread_local! {
    static CACHE: RefCell<HashMap<u64, RouteHandles, BuildHasherDefault<KeyHasher>>> =
        RefCell::new(HashMap::default());
}

/// Runs `f` with the handles of (service, route, consumer) in `m`.
pub(super) fn with<R>(
    m: &Metrics,
    service: &str,
    route: &str,
    consumer: &str,
    f: impl FnOnce(&mut RouteHandles) -> R,
) -> R {
    let key = {
        let mut h = foldhash::fast::FixedState::default().build_hasher();
        h.write_u64(m.id());
        h.write(service.as_bytes());
        h.write_u8(0xff);
        h.write(route.as_bytes());
        h.write_u8(0xff);
        h.write(consumer.as_bytes());
        h.finish()
    };
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let hit = cache
            .get(&key)
            .is_some_and(|e| e.is(m, service, route, consumer));
        if !hit {
            if cache.len() >= MAX_ENTRIES {
                cache.clear();
            }
            cache.insert(key, RouteHandles::new(m, service, route, consumer));
        }
        match cache.get_mut(&key) {
            Some(e) => f(e),
            // Just inserted: unreachable, but resolve directly rather than panic.
            None => f(&mut RouteHandles::new(m, service, route, consumer)),
        }
    })
}

/// The AI series of one (provider, request model), each resolved when first used.
pub(super) struct AiHandles {
    provider: String,
    model: String,
    metrics_id: u64,
    requests: Option<IntCounter>,
    cost: Option<Counter>,
    /// `prompt_tokens`, `completion_tokens`, `total_tokens`.
    tokens: [Option<IntCounter>; 3],
    /// `kong_ai_llm_latency_ms`, `…_time_to_first_token_ms`, `…_time_per_output_token_ms`.
    timings: [Option<Histogram>; 3],
}

/// The AI timing families, by position in `AiHandles::timings`.
#[derive(Debug, Clone, Copy)]
pub(super) enum AiTiming {
    Latency = 0,
    Ttft = 1,
    Tpot = 2,
}

/// The token kinds, by position in `AiHandles::tokens`.
pub(super) const TOKEN_KINDS: [&str; 3] = ["prompt_tokens", "completion_tokens", "total_tokens"];

impl AiHandles {
    fn new(m: &Metrics, provider: &str, model: &str) -> Self {
        AiHandles {
            provider: provider.to_string(),
            model: model.to_string(),
            metrics_id: m.id(),
            requests: None,
            cost: None,
            tokens: [None, None, None],
            timings: [None, None, None],
        }
    }

    fn is(&self, m: &Metrics, provider: &str, model: &str) -> bool {
        self.metrics_id == m.id() && self.provider == provider && self.model == model
    }

    /// `kong_ai_llm_requests_total`.
    pub fn requests(&mut self, m: &Metrics) -> &IntCounter {
        let labels = [&self.provider, &self.model, "", "", "", "", WORKSPACE];
        self.requests
            .get_or_insert_with(|| m.ai_requests.with_label_values(&labels))
    }

    /// `kong_ai_llm_cost_total`.
    pub fn cost(&mut self, m: &Metrics) -> &Counter {
        let labels = [&self.provider, &self.model, "", "", "", "", WORKSPACE];
        self.cost
            .get_or_insert_with(|| m.ai_cost.with_label_values(&labels))
    }

    /// `kong_ai_llm_tokens_total` for `TOKEN_KINDS[i]`.
    pub fn tokens(&mut self, m: &Metrics, i: usize) -> Option<&IntCounter> {
        let kind = *TOKEN_KINDS.get(i)?;
        let (provider, model) = (self.provider.as_str(), self.model.as_str());
        let slot = self.tokens.get_mut(i)?;
        Some(slot.get_or_insert_with(|| {
            m.ai_tokens
                .with_label_values(&[provider, model, "", "", "", "", kind, WORKSPACE])
        }))
    }

    /// The histogram child of `which`.
    pub fn timing(&mut self, m: &Metrics, which: AiTiming) -> &Histogram {
        let labels = [&self.provider, &self.model, "", "", "", "", WORKSPACE];
        self.timings[which as usize].get_or_insert_with(|| {
            let family = match which {
                AiTiming::Latency => &m.ai_latency,
                AiTiming::Ttft => &m.ai_ttft,
                AiTiming::Tpot => &m.ai_tpot,
            };
            family.with_label_values(&labels)
        })
    }
}

thread_local! {
    static AI_CACHE: RefCell<HashMap<u64, AiHandles, BuildHasherDefault<KeyHasher>>> =
        RefCell::new(HashMap::default());
}

/// Runs `f` with the AI handles of (provider, request model) in `m`.
pub(super) fn with_ai<R>(
    m: &Metrics,
    provider: &str,
    model: &str,
    f: impl FnOnce(&mut AiHandles) -> R,
) -> R {
    let key = {
        let mut h = foldhash::fast::FixedState::default().build_hasher();
        h.write_u64(m.id());
        h.write(provider.as_bytes());
        h.write_u8(0xff);
        h.write(model.as_bytes());
        h.finish()
    };
    AI_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let hit = cache.get(&key).is_some_and(|e| e.is(m, provider, model));
        if !hit {
            if cache.len() >= MAX_ENTRIES {
                cache.clear();
            }
            cache.insert(key, AiHandles::new(m, provider, model));
        }
        match cache.get_mut(&key) {
            Some(e) => f(e),
            None => f(&mut AiHandles::new(m, provider, model)),
        }
    })
}

/// The keys are already hashes.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_record_into_the_registry_and_follow_the_metrics_instance() {
        let a = Metrics::new("a", "v").unwrap();
        let b = Metrics::new("b", "v").unwrap();
        for m in [&a, &b, &a] {
            with(m, "svc", "r", "alice", |h| {
                h.requests(m, 200, true).inc();
                h.bandwidth(m, Direction::Egress).inc_by(5);
            });
        }
        with(&a, "svc", "r", "", |h| h.requests(&a, 401, false).inc());
        let t = a.render();
        assert!(t.contains("kong_http_requests_total{service=\"svc\",route=\"r\",code=\"200\",source=\"service\",workspace=\"default\",consumer=\"alice\"} 2"), "{t}");
        assert!(t.contains("kong_http_requests_total{service=\"svc\",route=\"r\",code=\"401\",source=\"kong\",workspace=\"default\",consumer=\"\"} 1"), "{t}");
        assert!(t.contains("kong_bandwidth_bytes{service=\"svc\",route=\"r\",direction=\"egress\",workspace=\"default\",consumer=\"alice\"} 10"), "{t}");
        assert!(b.render().contains("consumer=\"alice\"} 1"));
        // Nothing recorded, no series.
        assert!(!t.contains("direction=\"ingress\""), "{t}");
        assert!(!t.contains("kong_upstream_latency_ms_bucket{"), "{t}");
    }

    #[test]
    fn ai_handles_record_into_the_registry_and_follow_the_metrics_instance() {
        let a = Metrics::new("a", "v").unwrap();
        let b = Metrics::new("b", "v").unwrap();
        for m in [&a, &b, &a] {
            with_ai(m, "openai", "gpt-4o", |h| {
                h.requests(m).inc();
                h.tokens(m, 1).unwrap().inc_by(3);
            });
        }
        assert!(with_ai(&a, "openai", "gpt-4o", |h| h
            .tokens(&a, 3)
            .is_none()));
        let t = a.render();
        assert!(t.contains("kong_ai_llm_requests_total{ai_provider=\"openai\",ai_model=\"gpt-4o\",cache_status=\"\",vector_db=\"\",embeddings_provider=\"\",embeddings_model=\"\",workspace=\"default\"} 2"), "{t}");
        assert!(
            t.contains("token_type=\"completion_tokens\",workspace=\"default\"} 6"),
            "{t}"
        );
        // Nothing recorded, no series.
        assert!(!t.contains("token_type=\"prompt_tokens\""), "{t}");
        assert!(!t.contains("kong_ai_llm_cost_total{"), "{t}");
        assert!(b
            .render()
            .contains("token_type=\"completion_tokens\",workspace=\"default\"} 3"));
    }
}
