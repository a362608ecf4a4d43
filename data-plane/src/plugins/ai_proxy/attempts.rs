//! `ai-proxy-advanced` fail-over, called by the proxy after each upstream attempt: classifies
//! the result against `failover_criteria`, feeds the balancer (latency, circuit breaker), and
//! prepares the next attempt on another target while `retries` allow.

use http::{Method, StatusCode};

use super::{AiPlugin, AiReject, AiRequest};
use crate::llm::balancer::Failure;

/// What the proxy saw of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Response headers with this status.
    Status(StatusCode),
    /// The proxy answered itself with this status (502: connection error, 504: timeout).
    Failed(StatusCode),
}

impl AiPlugin {
    /// Classifies an attempt and records it with the balancer. `None`: the attempt is the
    /// answer the client gets.
    pub fn observe(&self, plan: &AiRequest, seen: Seen, latency_ms: f64) -> Option<Failure> {
        let failure = match seen {
            Seen::Failed(StatusCode::GATEWAY_TIMEOUT) => Some(Failure::Timeout),
            Seen::Failed(_) => Some(Failure::Error),
            Seen::Status(s) => self.criteria.failure_of_status(s.as_u16()),
        };
        match failure {
            None => self.balancer.success(plan.target, latency_ms),
            Some(f) if self.criteria.counts(f) => self.balancer.failure(plan.target),
            Some(_) => {}
        }
        failure
    }

    /// The next attempt after `failure`, when the criteria, `retries` and the untried
    /// targets allow one; `None` to give the client the failed attempt's answer.
    #[allow(clippy::too_many_arguments)] // the client request's parts, as `prepare` takes them
    pub fn retry(
        &self,
        plan: &AiRequest,
        failure: Failure,
        method: &Method,
        path: &str,
        query: Option<&str>,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Option<Result<AiRequest, AiReject>> {
        let retries_done = plan.tried.len().saturating_sub(1);
        if retries_done >= self.retries as usize || plan.tried.len() >= self.targets.len() {
            return None;
        }
        if !self.criteria.retry(failure, method.is_idempotent()) {
            return None;
        }
        tracing::debug!(
            target = plan.target,
            ?failure,
            "ai-proxy-advanced: failing over"
        );
        match self.prepare_attempt(path, query, headers, body, &plan.tried) {
            // No target left (e.g. aliases): the failed answer stands.
            Err(r)
                if r.status == StatusCode::INTERNAL_SERVER_ERROR
                    && r.message == super::NO_TARGET =>
            {
                None
            }
            other => Some(other),
        }
    }
}
