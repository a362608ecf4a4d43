//! Shared by the in-process tests: upstreams on 127.0.0.1:0 (`upstream`), the proxy started on
//! port 0 with a given config (here), and a client calling it (`client`).

// Test code; each test binary uses only some of these helpers (and re-exports).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unused_imports)]

mod client;
mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;

use data_plane::proxy::serve::ServeOptions;
use data_plane::{runtime, State};
use serde_json::{json, Value};

pub use client::{call, client, h2c_client, read_to_close, send, send_cut, TestClient};
pub use upstream::{
    dead_port, echo_upstream, header, json_body, listen, raw_listen, read_head, read_request,
    respond,
};

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

/// The proxy serving `state` (its config already applied) on 127.0.0.1:0.
pub async fn start_proxy(state: Arc<State>) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(data_plane::proxy::serve(l, state));
    addr
}

/// The proxy serving `state` on 127.0.0.1:0 with explicit connection settings (timeouts, TLS).
pub async fn start_proxy_with(state: Arc<State>, opts: ServeOptions) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (keep, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _keep = keep;
        data_plane::proxy::serve::serve_with(l, state, stop, opts).await;
    });
    addr
}

/// The proxy on 127.0.0.1:0 serving `ents`.
pub async fn gateway(ents: &[proto::v1::Entity]) -> (SocketAddr, Arc<State>) {
    let state = Arc::new(State::new("test-node".into()).unwrap());
    apply(&state, ents, 1);
    (start_proxy(state.clone()).await, state)
}

/// The proxy on 127.0.0.1:0 serving `ents` with explicit connection settings (timeouts).
pub async fn gateway_with(
    ents: &[proto::v1::Entity],
    opts: ServeOptions,
) -> (SocketAddr, Arc<State>) {
    let state = Arc::new(State::new("test-node".into()).unwrap());
    apply(&state, ents, 1);
    (start_proxy_with(state.clone(), opts).await, state)
}

/// The proxy on 127.0.0.1:0 serving `ents`, its upstream TLS trusting `trusted`
/// (`lua_ssl_trusted_certificate`).
pub async fn gateway_trusting(ents: &[proto::v1::Entity], trusted: &str) -> SocketAddr {
    let state = Arc::new(State::trusting("test-node".into(), trusted).unwrap());
    apply(&state, ents, 1);
    start_proxy(state).await
}
