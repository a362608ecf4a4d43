//! `rate-limiting` access phase (priority 910, after authentication): counts the request for
//! its identifier in every configured window (`local` policy, [`counters`]), refuses it when a
//! limit is reached, and decides Kong's `RateLimit-*` / `X-RateLimit-*` response headers.

pub mod counters;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use proto::schema::plugins::rate_limiting::{LimitBy, RateLimitingConfig};
use uuid::Uuid;

use super::response_headers::HeaderChange;
use counters::{window_starts, Counters, EXPIRATION};

/// Kong's per-window header suffixes, in `counters` window order.
const WINDOW_NAMES: [&str; 6] = ["Second", "Minute", "Hour", "Day", "Month", "Year"];

/// A compiled `rate-limiting` instance: its config and its counters.
#[derive(Debug)]
pub struct RateLimiter {
    cfg: Box<RateLimitingConfig>,
    limits: Vec<(usize, f64)>,
    counters: Arc<Counters>,
}

/// What identifies the client of a request, as far as the plugin may use it.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub consumer: Option<Uuid>,
    pub credential: Option<Uuid>,
    pub service: Option<Uuid>,
    pub headers: &'a HeaderMap,
    pub path: &'a str,
    pub ip: IpAddr,
}

/// The decision for one request.
#[derive(Debug)]
pub enum Outcome {
    /// Proxy on; the header filter sets these headers.
    Allowed(Vec<HeaderChange>),
    /// Kong's `kong.response.error(error_code, error_message, headers)`.
    Refused {
        status: StatusCode,
        body: String,
        headers: Vec<(HeaderName, HeaderValue)>,
    },
}

impl RateLimiter {
    pub fn new(plugin_id: Uuid, cfg: Box<RateLimitingConfig>) -> Self {
        let limits = cfg
            .limits()
            .into_iter()
            .filter_map(|(name, l)| {
                let w = proto::schema::plugins::rate_limiting::PERIODS
                    .iter()
                    .position(|p| *p == name)?;
                Some((w, l))
            })
            .collect();
        Self {
            cfg,
            limits,
            counters: Counters::for_plugin(plugin_id),
        }
    }

    pub fn access(&self, client: &Client<'_>) -> Outcome {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        self.access_at(client, now_ms)
    }

    fn access_at(&self, client: &Client<'_>, now_ms: i64) -> Outcome {
        let ident = self.identifier(client);
        let usage = self.counters.hit(&ident, now_ms, &self.limits);
        let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
        let mut reset = None;
        if !self.cfg.hide_client_headers {
            let starts = window_starts(now_ms);
            // The window reported in RateLimit-*: fewest remaining, then the longest window.
            let mut best: Option<(i64, i64, f64)> = None; // (remaining, window secs, limit)
            for &(w, limit, used) in &usage.windows {
                let mut remaining = limit as i64 - used as i64;
                if usage.stop.is_none() || usage.stop == Some(w) {
                    remaining -= 1;
                }
                let remaining = remaining.max(0);
                let window = EXPIRATION.get(w).copied().unwrap_or(1);
                let better = best
                    .is_none_or(|(r, win, _)| remaining < r || (remaining == r && window > win));
                if better {
                    best = Some((remaining, window, limit));
                    let start = starts.get(w).copied().unwrap_or(now_ms);
                    reset = Some((window - (now_ms - start).div_euclid(1000)).max(1));
                }
                let name = WINDOW_NAMES.get(w).copied().unwrap_or("Second");
                push(
                    &mut headers,
                    &format!("X-RateLimit-Limit-{name}"),
                    &lua(limit),
                );
                push(
                    &mut headers,
                    &format!("X-RateLimit-Remaining-{name}"),
                    &remaining.to_string(),
                );
            }
            if let Some((remaining, _, limit)) = best {
                push(&mut headers, "RateLimit-Limit", &lua(limit));
                push(&mut headers, "RateLimit-Remaining", &remaining.to_string());
            }
            if let Some(r) = reset {
                push(&mut headers, "RateLimit-Reset", &r.to_string());
            }
        }
        if usage.stop.is_some() {
            if let Some(r) = reset {
                push(&mut headers, "Retry-After", &r.to_string());
            }
            let body = serde_json::json!({ "message": self.cfg.error_message }).to_string();
            let status = StatusCode::from_u16(self.cfg.error_code as u16)
                .unwrap_or(StatusCode::TOO_MANY_REQUESTS);
            return Outcome::Refused {
                status,
                body,
                headers,
            };
        }
        Outcome::Allowed(
            headers
                .into_iter()
                .map(|(k, v)| HeaderChange::Set(k, v))
                .collect(),
        )
    }

    /// Kong's `get_identifier`: consumer and credential fall back to the client IP, as do a
    /// missing header, a different path and a route without a service.
    fn identifier(&self, c: &Client<'_>) -> String {
        let id = match self.cfg.limit_by {
            LimitBy::Consumer => c.consumer.or(c.credential).map(|u| u.to_string()),
            LimitBy::Credential => c.credential.map(|u| u.to_string()),
            LimitBy::Service => c.service.map(|u| u.to_string()),
            LimitBy::Header => self
                .cfg
                .header_name
                .as_deref()
                .and_then(|n| c.headers.get(n))
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            LimitBy::Path => self
                .cfg
                .path
                .as_deref()
                .filter(|p| *p == c.path)
                .map(str::to_string),
            LimitBy::Ip | LimitBy::ConsumerGroup => None,
        };
        id.unwrap_or_else(|| c.ip.to_string())
    }
}

fn push(h: &mut Vec<(HeaderName, HeaderValue)>, name: &str, value: &str) {
    if let (Ok(k), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        h.push((k, v));
    }
}

/// Lua's `tostring` of a limit: integers without a fraction.
fn lua(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
#[path = "rate_limiting/tests.rs"]
mod tests;
