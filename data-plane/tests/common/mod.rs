//! Shared by the plugin in-process tests: an upstream that echoes the request it got (method,
//! path, headers) as JSON, a proxy started on port 0 with a given config, and a client.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // test code

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use data_plane::{runtime, State};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Map, Value};

/// Answers 200 with `{"method","path","headers":{name: value}}`; `/status/N` answers N.
pub async fn echo_upstream() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                let svc = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let mut headers = Map::new();
                    for (k, v) in req.headers() {
                        headers.insert(k.to_string(), json!(v.to_str().unwrap_or("")));
                    }
                    let out = json!({"method": req.method().as_str(), "path": req.uri().path(), "headers": headers});
                    let resp = hyper::Response::builder()
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(out.to_string())))
                        .unwrap();
                    Ok::<_, Infallible>(resp)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    addr
}

pub const SERVICE: &str = "00000000-0000-0000-0000-0000000000a1";

/// A service pointing at `up`, one route per `(id, path)`, and `extra` entities (plugins,
/// consumers, credentials) as `(kind, json)`.
pub fn config(
    up: SocketAddr,
    routes: &[(&str, &str)],
    extra: Vec<(&str, Value)>,
) -> Vec<proto::v1::Entity> {
    let mut ents = vec![entity(
        "services",
        json!({"id": SERVICE, "name": "echo", "host": "127.0.0.1", "port": up.port()}),
    )];
    for (id, path) in routes {
        ents.push(entity(
            "routes",
            json!({"id": id, "name": format!("r{}", path.trim_start_matches('/')), "paths": [path], "service": {"id": SERVICE}}),
        ));
    }
    ents.extend(extra.into_iter().map(|(k, v)| entity(k, v)));
    ents
}

pub fn entity(kind: &str, v: Value) -> proto::v1::Entity {
    proto::v1::Entity {
        kind: kind.into(),
        id: v["id"].as_str().unwrap().into(),
        json: v.to_string().into_bytes(),
    }
}

/// Compiles `ents` into `state` as config `version`.
pub fn apply(state: &State, ents: &[proto::v1::Entity], version: u64) {
    let cfg = proto::schema::Config::from_entities(ents).unwrap();
    let rt = runtime::compile(&cfg, version, "0123456789abcdef0123456789abcdef").unwrap();
    state.runtime.store(Arc::new(rt));
}

/// The proxy on 127.0.0.1:0 serving `ents`.
pub async fn gateway(ents: &[proto::v1::Entity]) -> (SocketAddr, Arc<State>) {
    let state = Arc::new(State::new("test-node".into()).unwrap());
    apply(&state, ents, 1);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(data_plane::proxy::serve(l, state.clone()));
    (addr, state)
}

/// The proxy on 127.0.0.1:0 serving `ents` with explicit connection settings (timeouts).
pub async fn gateway_with(
    ents: &[proto::v1::Entity],
    opts: data_plane::proxy::serve::ServeOptions,
) -> (SocketAddr, Arc<State>) {
    let state = Arc::new(State::new("test-node".into()).unwrap());
    apply(&state, ents, 1);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (keep, stop) = tokio::sync::watch::channel(false);
    let st = state.clone();
    tokio::spawn(async move {
        let _keep = keep;
        data_plane::proxy::serve::serve_with(l, st, stop, opts).await;
    });
    (addr, state)
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

pub type TestClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Sends one request; returns status, response headers and the body as text.
pub async fn call(
    c: &TestClient,
    method: &str,
    url: String,
    headers: &[(&str, &str)],
) -> (u16, http::HeaderMap, String) {
    let mut b = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let r = c
        .request(b.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let status = r.status().as_u16();
    let h = r.headers().clone();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    (status, h, String::from_utf8_lossy(&body).into_owned())
}
