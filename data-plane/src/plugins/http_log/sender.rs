//! http-log delivery: one HTTP request per batch to `http_endpoint` with the configured method,
//! content type, headers and timeout, over a keep-alive client of its own.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use proto::schema::plugins::http_log::HttpLogConfig;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("bad request to the log endpoint: {0}")]
    Request(#[from] http::Error),
    #[error("log endpoint timed out")]
    Timeout,
    #[error("log endpoint request failed: {0}")]
    Failed(#[from] hyper_util::client::legacy::Error),
    #[error("log endpoint answered {0}")]
    Status(http::StatusCode),
}

pub struct Sender {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    endpoint: http::Uri,
    method: http::Method,
    headers: http::HeaderMap,
    timeout: Duration,
}

impl Sender {
    pub fn new(cfg: &HttpLogConfig) -> Result<Self, SendError> {
        let timeout = Duration::try_from_secs_f64(cfg.timeout.max(1.0) / 1000.0)
            .unwrap_or(Duration::from_secs(10));
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| SendError::Tls(e.to_string()))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let keepalive = Duration::try_from_secs_f64(cfg.keepalive.max(0.0) / 1000.0)
            .unwrap_or(Duration::from_secs(60));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(keepalive)
            .build(https);
        let mut headers = http::HeaderMap::new();
        for (k, v) in cfg.headers.iter().flatten() {
            match (
                http::HeaderName::try_from(k.as_str()),
                http::HeaderValue::try_from(v.as_str()),
            ) {
                (Ok(k), Ok(v)) => {
                    headers.append(k, v);
                }
                _ => tracing::warn!(header = %k, "http-log: skipping an invalid header"),
            }
        }
        if let Ok(ct) = http::HeaderValue::try_from(cfg.content_type.as_str()) {
            headers.insert(http::header::CONTENT_TYPE, ct);
        }
        let endpoint: http::Uri = cfg
            .http_endpoint
            .parse()
            .map_err(|e: http::uri::InvalidUri| SendError::Request(e.into()))?;
        // Kong sends userinfo in the URL as basic auth.
        if let Some(auth) = basic_auth(&endpoint) {
            headers.insert(http::header::AUTHORIZATION, auth);
        }
        Ok(Sender {
            client,
            endpoint,
            method: http::Method::from_bytes(cfg.method.as_bytes()).unwrap_or(http::Method::POST),
            headers,
            timeout,
        })
    }

    pub async fn send(&self, body: Bytes) -> Result<(), SendError> {
        let mut req = http::Request::builder()
            .method(self.method.clone())
            .uri(self.endpoint.clone())
            .body(Full::new(body))?;
        *req.headers_mut() = self.headers.clone();
        let resp = tokio::time::timeout(self.timeout, self.client.request(req))
            .await
            .map_err(|_| SendError::Timeout)??;
        let status = resp.status();
        // Drain the answer so the connection goes back to the pool.
        let _ = tokio::time::timeout(self.timeout, resp.into_body().collect()).await;
        if status.as_u16() >= 400 {
            return Err(SendError::Status(status));
        }
        Ok(())
    }
}

/// `http://user:pass@host/` → `Basic base64(user:pass)`.
fn basic_auth(uri: &http::Uri) -> Option<http::HeaderValue> {
    let authority = uri.authority()?.as_str();
    let (userinfo, _) = authority.rsplit_once('@')?;
    let value = format!("Basic {}", base64(userinfo.as_bytes()));
    http::HeaderValue::try_from(value).ok()
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_becomes_basic_auth() {
        let u: http::Uri = "http://user:pass@127.0.0.1:9/x".parse().unwrap();
        assert_eq!(basic_auth(&u).unwrap(), "Basic dXNlcjpwYXNz");
        let u: http::Uri = "http://127.0.0.1:9/x".parse().unwrap();
        assert!(basic_auth(&u).is_none());
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
    }
}
