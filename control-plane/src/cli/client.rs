//! A minimal Admin API client for the CLI (hyper, plain HTTP, JSON in and out).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid admin URL '{0}': expected http://HOST:PORT")]
    BadUrl(String),
    #[error("cannot reach the control plane at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("unexpected answer from {url}: {reason}")]
    BadAnswer { url: String, reason: String },
    #[error("cannot encode the request body: {0}")]
    Encode(String),
}

pub struct AdminClient {
    base: String,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl AdminClient {
    pub fn new(base: &str) -> Result<Self, ClientError> {
        let base = if base.contains("://") {
            base.to_string()
        } else {
            format!("http://{base}")
        };
        if !base.starts_with("http://") {
            return Err(ClientError::BadUrl(base));
        }
        let base = base.trim_end_matches('/').to_string();
        let client = Client::builder(TokioExecutor::new()).build_http();
        Ok(Self { base, client })
    }

    pub async fn get(&self, path: &str) -> Result<(u16, Value), ClientError> {
        self.send(http::Method::GET, path, Bytes::new()).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Result<(u16, Value), ClientError> {
        // `to_vec` writes bytes directly; `to_string` goes through the formatting machinery.
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Encode(e.to_string()))?;
        self.send(http::Method::POST, path, Bytes::from(bytes))
            .await
    }

    /// Posts a document as text: JSON, or YAML (the CP reads either).
    pub async fn post_text(&self, path: &str, text: String) -> Result<(u16, Value), ClientError> {
        let kind = if text.trim_start().starts_with('{') {
            "application/json"
        } else {
            "application/yaml"
        };
        self.send_as(http::Method::POST, path, Bytes::from(text), kind)
            .await
    }

    async fn send(
        &self,
        method: http::Method,
        path: &str,
        body: Bytes,
    ) -> Result<(u16, Value), ClientError> {
        self.send_as(method, path, body, "application/json").await
    }

    async fn send_as(
        &self,
        method: http::Method,
        path: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<(u16, Value), ClientError> {
        let url = format!("{}{path}", self.base);
        let req = http::Request::builder()
            .method(method)
            .uri(&url)
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Full::new(body))
            .map_err(|_| ClientError::BadUrl(url.clone()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| ClientError::Unreachable {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| ClientError::BadAnswer {
                url: url.clone(),
                reason: e.to_string(),
            })?
            .to_bytes();
        if bytes.is_empty() {
            return Ok((status, Value::Null));
        }
        let v = serde_json::from_slice(&bytes).map_err(|e| ClientError::BadAnswer {
            url: url.clone(),
            reason: format!("not JSON: {e}"),
        })?;
        Ok((status, v))
    }
}
