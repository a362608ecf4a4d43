//! When a failed upstream attempt is retried on another target (`failover_criteria`, with
//! nginx's `proxy_next_upstream` meaning) and when it counts against the target's circuit
//! breaker (`max_fails` within `fail_timeout`).

/// How an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The connection could not be made or broke before a response.
    Error,
    /// No response within the timeout.
    Timeout,
    /// The upstream answered with this status.
    Status(u16),
}

/// The parsed `failover_criteria`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Criteria {
    error: bool,
    timeout: bool,
    non_idempotent: bool,
    statuses: Vec<u16>,
}

impl Criteria {
    pub fn parse(items: &[String]) -> Self {
        let mut c = Criteria::default();
        for i in items {
            match i.as_str() {
                "error" | "invalid_header" => c.error = true,
                "timeout" => c.timeout = true,
                "non_idempotent" => c.non_idempotent = true,
                other => {
                    if let Some(code) = other.strip_prefix("http_").and_then(|s| s.parse().ok()) {
                        c.statuses.push(code);
                    }
                }
            }
        }
        c
    }

    /// A status the criteria name (so the response is a failure, not an answer).
    pub fn failure_of_status(&self, status: u16) -> Option<Failure> {
        self.statuses
            .contains(&status)
            .then_some(Failure::Status(status))
    }

    /// Whether to try the next target. As in nginx, a request that reached the upstream is
    /// only re-sent for a non-idempotent method (LLM calls are POSTs) with `non_idempotent`;
    /// connection errors happen before anything was sent and are always retryable.
    pub fn retry(&self, f: Failure, idempotent: bool) -> bool {
        let resend_ok = idempotent || self.non_idempotent;
        match f {
            Failure::Error => self.error,
            Failure::Timeout => self.timeout && resend_ok,
            Failure::Status(s) => self.statuses.contains(&s) && resend_ok,
        }
    }

    /// Whether the failure counts against the target's circuit breaker: errors and timeouts
    /// always, 403 and 404 never, other statuses when the criteria name them.
    pub fn counts(&self, f: Failure) -> bool {
        match f {
            Failure::Error | Failure::Timeout => true,
            Failure::Status(403 | 404) => false,
            Failure::Status(s) => self.statuses.contains(&s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(items: &[&str]) -> Criteria {
        Criteria::parse(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_retry_only_connection_errors_for_posts() {
        let d = c(&["error", "timeout"]);
        assert!(d.retry(Failure::Error, false));
        assert!(!d.retry(Failure::Timeout, false));
        assert!(d.retry(Failure::Timeout, true));
        assert_eq!(d.failure_of_status(500), None);
    }

    #[test]
    fn statuses_need_naming_and_non_idempotent() {
        let x = c(&[
            "error",
            "timeout",
            "http_500",
            "http_429",
            "non_idempotent",
            "http_404",
        ]);
        assert_eq!(x.failure_of_status(500), Some(Failure::Status(500)));
        assert!(x.retry(Failure::Status(429), false));
        assert!(x.retry(Failure::Timeout, false));
        assert!(!x.retry(Failure::Status(503), false));
        assert!(x.counts(Failure::Status(500)));
        assert!(!x.counts(Failure::Status(404)));
        assert!(!c(&["http_500"]).retry(Failure::Status(500), false));
    }
}
