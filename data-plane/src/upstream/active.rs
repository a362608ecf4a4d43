//! Active health checks: one background prober per upstream whose `healthchecks.active` has an
//! interval > 0. It GETs `http_path` on each target (every `healthy.interval` while the target
//! is healthy, every `unhealthy.interval` while not) and feeds the answers to the target's
//! health counters. It stops when the runtime that compiled the balancer is dropped.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::HOST;
use http::{Method, Request};

use super::health::Outcome;
use super::Balancer;
use crate::proxy::body::full;
use crate::proxy::forward::{ForwardError, Upstream};

/// Starts the prober of `balancer` when its active checks are on and a tokio runtime is there.
pub fn start(balancer: &Arc<Balancer>) {
    if !balancer.rules.active_enabled() || balancer.targets().is_empty() {
        return;
    }
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let client = match Upstream::new() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(upstream = %balancer.name, error = %e, "active health checks disabled");
            return;
        }
    };
    handle.spawn(run(Arc::downgrade(balancer), client));
}

fn secs(v: f64) -> Option<Duration> {
    (v > 0.0).then(|| Duration::from_secs_f64(v))
}

async fn run(weak: Weak<Balancer>, client: Upstream) {
    let mut due: Vec<Instant> = Vec::new();
    loop {
        let Some(b) = weak.upgrade() else {
            return;
        };
        let now = Instant::now();
        due.resize(b.targets().len(), now);
        let healthy_every = secs(b.rules.active.healthy.interval);
        let unhealthy_every = secs(b.rules.active.unhealthy.interval);
        for (i, t) in b.targets().iter().enumerate() {
            let every = if t.health.is_healthy() {
                healthy_every
            } else {
                unhealthy_every
            };
            let (Some(every), Some(at)) = (every, due.get_mut(i)) else {
                continue;
            };
            if *at > now || t.weight == 0 {
                continue;
            }
            *at = now + every;
            let outcome = probe(&b, i, &client).await;
            if let Some(healthy) = t.health.report(&b.rules.active, outcome) {
                tracing::warn!(upstream = %b.name, target = %t.name, healthy, "active health check: target state changed");
            }
        }
        let next = due
            .iter()
            .min()
            .copied()
            .unwrap_or(now + Duration::from_secs(1));
        drop(b);
        tokio::time::sleep_until(next.max(Instant::now() + Duration::from_millis(10)).into()).await;
    }
}

async fn probe(b: &Balancer, i: usize, client: &Upstream) -> Outcome {
    let Some(t) = b.target(i) else {
        return Outcome::TcpFailure;
    };
    let check = &b.rules.active;
    let scheme = if check.kind == "https" {
        "https"
    } else {
        "http"
    };
    let path = if check.http_path.starts_with('/') {
        check.http_path.as_str()
    } else {
        "/"
    };
    let host = b.host_header.as_deref().unwrap_or(&t.host);
    let mut req = Request::new(full(Bytes::new()));
    *req.method_mut() = Method::GET;
    match format!("{scheme}://{}:{}{path}", t.host, t.port).parse() {
        Ok(u) => *req.uri_mut() = u,
        Err(_) => return Outcome::TcpFailure,
    }
    if let Ok(v) = format!("{host}:{}", t.port).parse() {
        req.headers_mut().insert(HOST, v);
    }
    let timeout = secs(check.timeout).unwrap_or(Duration::from_secs(1));
    match client.send(req, timeout).await {
        Ok(r) => Outcome::Status(r.status().as_u16()),
        Err(ForwardError::Timeout) => Outcome::Timeout,
        Err(_) => Outcome::TcpFailure,
    }
}
