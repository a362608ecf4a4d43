//! Forwarding to the upstream: plain HTTP through the per-thread pool (`pool`), HTTPS through
//! the keep-alive client (webpki roots, one pool per thread); the upstream URI for a service
//! (Kong `get_upstream_uri_v0`), and timeout classification.

use std::cell::RefCell;
use std::sync::{Arc, Weak};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::body::ProxyBody;

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("upstream timed out")]
    Timeout,
    #[error("upstream request failed: {0}")]
    Failed(String),
    /// The connection could not be made (refused, unreachable): safe to retry elsewhere.
    #[error("upstream connect failed: {0}")]
    Connect(String),
    #[error("TLS setup failed: {0}")]
    Tls(String),
}

type PooledClient = Client<HttpsConnector<HttpConnector>, ProxyBody>;

/// The pooled upstream client. Each thread that sends gets its own keep-alive pool (built on
/// first use): a proxy worker reuses the connections it opened, whose tasks run on its own
/// runtime, without sharing a pool lock or waking another thread.
#[derive(Clone)]
pub struct Upstream {
    connector: HttpsConnector<HttpConnector>,
    /// Identifies this client's per-thread pools; they are dropped once every clone is gone.
    token: Arc<()>,
}

thread_local! {
    /// This thread's pools, one per live `Upstream` (by its token's address).
    static POOLS: RefCell<Vec<(Weak<()>, PooledClient)>> = const { RefCell::new(Vec::new()) };
}

impl Upstream {
    pub fn new() -> Result<Self, ForwardError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(60)));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| ForwardError::Tls(e.to_string()))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Upstream {
            connector,
            token: Arc::new(()),
        })
    }

    /// Starts `req` on this thread's pool for this client.
    fn start(&self, req: http::Request<ProxyBody>) -> ResponseFuture {
        POOLS.with(|pools| {
            let mut pools = pools.borrow_mut();
            if let Some((_, c)) = pools
                .iter()
                .find(|(t, _)| std::ptr::eq(t.as_ptr(), Arc::as_ptr(&self.token)))
            {
                return c.request(req);
            }
            pools.retain(|(t, _)| t.strong_count() > 0);
            let client = Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(60))
                .pool_timer(TokioTimer::new())
                .build(self.connector.clone());
            let fut = client.request(req);
            pools.push((Arc::downgrade(&self.token), client));
            fut
        })
    }

    /// Sends `req` and waits at most `timeout` for the response headers.
    pub async fn send(
        &self,
        req: http::Request<ProxyBody>,
        timeout: Duration,
    ) -> Result<http::Response<Incoming>, ForwardError> {
        if req.uri().scheme() == Some(&http::uri::Scheme::HTTP) {
            return match tokio::time::timeout(timeout, super::pool::send(req)).await {
                Err(_) => Err(ForwardError::Timeout),
                Ok(r) => r,
            };
        }
        match tokio::time::timeout(timeout, self.start(req)).await {
            Err(_) => Err(ForwardError::Timeout),
            Ok(Err(e)) => {
                let mut msg = e.to_string();
                let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg.push_str(": ");
                    msg.push_str(&s.to_string());
                    src = s.source();
                }
                if msg.contains("timed out") {
                    Err(ForwardError::Timeout)
                } else if e.is_connect() {
                    Err(ForwardError::Connect(msg))
                } else {
                    Err(ForwardError::Failed(msg))
                }
            }
            Ok(Ok(r)) => Ok(r),
        }
    }
}

/// Kong's `get_upstream_uri_v0`: the upstream path from the service path (`base`, default `/`),
/// `strip_path`, the request path and the part of it the route matched.
pub fn upstream_path(
    base: Option<&str>,
    strip_path: bool,
    req_path: &str,
    matched: &str,
) -> String {
    let base = base.filter(|b| !b.is_empty()).unwrap_or("/");
    let postfix = if strip_path {
        req_path.get(matched.len()..).unwrap_or("")
    } else {
        req_path
    };
    if base.ends_with('/') {
        if strip_path {
            if postfix.is_empty() {
                if base == "/" || req_path.ends_with('/') {
                    base.to_string()
                } else {
                    base.strip_suffix('/').unwrap_or(base).to_string()
                }
            } else if postfix.starts_with('/') {
                format!("{}{}", base.strip_suffix('/').unwrap_or(base), postfix)
            } else {
                format!("{base}{postfix}")
            }
        } else {
            format!("{base}{}", req_path.get(1..).unwrap_or(""))
        }
    } else if strip_path {
        if postfix.is_empty() {
            if req_path.len() > 1 && req_path.ends_with('/') {
                format!("{base}/")
            } else {
                base.to_string()
            }
        } else if postfix.starts_with('/') {
            format!("{base}{postfix}")
        } else {
            format!("{base}/{postfix}")
        }
    } else if req_path == "/" {
        base.to_string()
    } else {
        format!("{base}{req_path}")
    }
}

#[cfg(test)]
mod tests {
    use super::upstream_path;

    #[test]
    fn v0_path_table() {
        // (service path, strip, request path, matched prefix, expected)
        let cases = [
            (None, true, "/api/foo", "/api", "/foo"),
            (None, true, "/api", "/api", "/"),
            (None, false, "/api/foo", "/api", "/api/foo"),
            (Some("/svc"), true, "/api/foo", "/api", "/svc/foo"),
            (Some("/svc"), true, "/api", "/api", "/svc"),
            (Some("/svc"), true, "/api/", "/api", "/svc/"),
            (Some("/svc"), true, "/apifoo", "/api", "/svc/foo"),
            (Some("/svc/"), true, "/api/foo", "/api", "/svc/foo"),
            (Some("/svc/"), true, "/api", "/api", "/svc"),
            (Some("/svc/"), true, "/apifoo", "/api", "/svc/foo"),
            (Some("/svc/"), false, "/api/foo", "/api", "/svc/api/foo"),
            (Some("/svc"), false, "/api/foo", "/api", "/svc/api/foo"),
            (Some("/svc"), false, "/", "", "/svc"),
            (None, true, "/anything", "", "/anything"),
        ];
        for (base, strip, req, matched, want) in cases {
            assert_eq!(
                upstream_path(base, strip, req, matched),
                want,
                "{base:?} {strip} {req} {matched}"
            );
        }
    }
}
