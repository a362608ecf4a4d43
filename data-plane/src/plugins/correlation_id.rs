//! `correlation-id` access phase (priority 100001, before every other plugin): makes sure the
//! upstream request carries the correlation header, and returns the id for the header filter
//! to echo to the client when `echo_downstream` is set.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{HeaderName, HeaderValue};
use http::request::Parts;
use proto::schema::plugins::correlation_id::{CorrelationIdConfig, Generator};
use uuid::Uuid;

/// The correlation header of a request after the access phase.
#[derive(Debug, Clone)]
pub struct Correlation {
    pub name: HeaderName,
    pub value: HeaderValue,
    /// `echo_downstream`: the header filter sets it on the response.
    pub echo: bool,
}

/// Keeps the client's header when present and not empty, else generates one and sets it on
/// the upstream request. `None` only if the configured name is not a header name.
pub fn access(
    cfg: &CorrelationIdConfig,
    parts: &mut Parts,
    local: Option<SocketAddr>,
) -> Option<Correlation> {
    let name = HeaderName::from_bytes(cfg.header_name.as_bytes()).ok()?;
    let value = match parts.headers.get(&name).filter(|v| !v.is_empty()) {
        Some(v) => v.clone(),
        None => {
            let v = HeaderValue::from_str(&generate(cfg.generator, local)).ok()?;
            parts.headers.insert(name.clone(), v.clone());
            v
        }
    };
    Some(Correlation {
        name,
        value,
        echo: cfg.echo_downstream,
    })
}

/// Kong's generators: a random UUID; this process' UUID `#` a counter; or `tracker`
/// (server address, port, pid, a request counter, `1`, time with milliseconds).
pub fn generate(g: Generator, local: Option<SocketAddr>) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static WORKER: OnceLock<Uuid> = OnceLock::new();
    match g {
        Generator::Uuid => random_uuid().to_string(),
        Generator::UuidCounter => {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
            format!("{}#{n}", WORKER.get_or_init(random_uuid))
        }
        Generator::Tracker => {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
            let (ip, port) = local
                .map(|a| (a.ip().to_string(), a.port()))
                .unwrap_or_else(|| ("0.0.0.0".into(), 0));
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            format!("{ip}-{port}-{}-{n}-1-{now:.3}", std::process::id())
        }
    }
}

fn random_uuid() -> Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(h: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().uri("/x");
        for (k, v) in h {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn missing_header_is_generated_and_sent_upstream() {
        let cfg = CorrelationIdConfig::default();
        let mut p = parts(&[]);
        let c = access(&cfg, &mut p, None).unwrap();
        let v = p.headers["kong-request-id"].to_str().unwrap().to_string();
        assert_eq!(c.value, v.as_str());
        let (uuid, n) = v.split_once('#').unwrap();
        assert!(Uuid::parse_str(uuid).is_ok(), "{v}");
        assert!(n.parse::<u64>().unwrap() >= 1);
        assert!(!c.echo);
    }

    #[test]
    fn client_header_is_kept_and_empty_one_replaced() {
        let cfg = CorrelationIdConfig {
            header_name: "X-Corr".into(),
            generator: Generator::Uuid,
            echo_downstream: true,
        };
        let mut p = parts(&[("x-corr", "abc")]);
        let c = access(&cfg, &mut p, None).unwrap();
        assert_eq!(c.value, "abc");
        assert!(c.echo);
        let mut p = parts(&[("x-corr", "")]);
        let c = access(&cfg, &mut p, None).unwrap();
        assert!(Uuid::parse_str(c.value.to_str().unwrap()).is_ok());
        assert_eq!(p.headers["x-corr"], c.value);
    }

    #[test]
    fn uuid_counter_counts_and_tracker_names_the_server() {
        let a = generate(Generator::UuidCounter, None);
        let b = generate(Generator::UuidCounter, None);
        assert_eq!(a.split('#').next(), b.split('#').next());
        assert_ne!(a, b);
        let t = generate(Generator::Tracker, Some("127.0.0.1:8000".parse().unwrap()));
        assert!(t.starts_with("127.0.0.1-8000-"), "{t}");
    }
}
