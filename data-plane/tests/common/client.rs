//! Shared by the in-process tests, the client side: a hyper client and one-call helpers that
//! send a request to the proxy and hand back status, headers and body.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

pub type TestClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A client speaking HTTP/2 without TLS (prior knowledge), as a gRPC client does.
pub fn h2c_client() -> TestClient {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// Sends one request without a body; returns status, response headers and the body as text.
pub async fn call(
    c: &TestClient,
    method: &str,
    url: String,
    headers: &[(&str, &str)],
) -> (u16, http::HeaderMap, String) {
    send(c, method, url, headers, Bytes::new()).await
}

/// Sends one request with `body`; returns status, response headers and the body as text.
pub async fn send(
    c: &TestClient,
    method: &str,
    url: String,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> (u16, http::HeaderMap, String) {
    let (status, h, body) = exchange(c, method, url, headers, body).await;
    (status, h, body.unwrap())
}

/// Like [`send`] for answers whose body may break off: status, and the body as text or the
/// error that cut it.
pub async fn send_cut(
    c: &TestClient,
    method: &str,
    url: String,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> (u16, Result<String, String>) {
    let (status, _, body) = exchange(c, method, url, headers, body).await;
    (status, body)
}

async fn exchange(
    c: &TestClient,
    method: &str,
    url: String,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> (u16, http::HeaderMap, Result<String, String>) {
    let mut b = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let r = c
        .request(b.body(Full::new(body.into())).unwrap())
        .await
        .unwrap();
    let status = r.status().as_u16();
    let h = r.headers().clone();
    let body = r
        .into_body()
        .collect()
        .await
        .map(|c| String::from_utf8_lossy(&c.to_bytes()).into_owned())
        .map_err(|e| e.to_string());
    (status, h, body)
}

/// Reads until the peer closes (Ok(bytes)) or `limit` passes (Err).
pub async fn read_to_close(
    s: &mut tokio::net::TcpStream,
    limit: std::time::Duration,
) -> Result<Vec<u8>, ()> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    tokio::time::timeout(limit, s.read_to_end(&mut out))
        .await
        .map_err(|_| ())?
        .map_err(|_| ())?;
    Ok(out)
}
