//! Forwarding to the upstream: the shared keep-alive client (http + https with webpki roots),
//! the upstream URI for a service (Kong `get_upstream_uri_v0`), and timeout classification.

use std::time::Duration;

use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

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

/// The pooled upstream client.
#[derive(Clone)]
pub struct Upstream {
    client: Client<HttpsConnector<HttpConnector>, ProxyBody>,
}

impl Upstream {
    pub fn new() -> Result<Self, ForwardError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(60)));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| ForwardError::Tls(e.to_string()))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https);
        Ok(Upstream { client })
    }

    /// Sends `req` and waits at most `timeout` for the response headers.
    pub async fn send(
        &self,
        req: http::Request<ProxyBody>,
        timeout: Duration,
    ) -> Result<http::Response<Incoming>, ForwardError> {
        match tokio::time::timeout(timeout, self.client.request(req)).await {
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
