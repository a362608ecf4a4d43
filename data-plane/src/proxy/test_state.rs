//! Test support for the proxy's in-crate tests: the runtime state of a gateway with one
//! service at an upstream address and one route to it.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::json;

use crate::{runtime, State};

/// A state with one route, `path`, to the service at `up`.
pub(crate) fn one_route(up: SocketAddr, path: &str) -> Arc<State> {
    one_route_with(up, path, &[])
}

/// `one_route` with more entities: `(kind, entity)`, e.g. `("plugins", {"name": …})` for a
/// global plugin; an entity without an `id` gets one.
pub(crate) fn one_route_with(
    up: SocketAddr,
    path: &str,
    extra: &[(&str, serde_json::Value)],
) -> Arc<State> {
    let mut ents: Vec<proto::v1::Entity> = [
        (
            "services",
            json!({"id": "00000000-0000-0000-0000-0000000000a1", "name": "up",
                   "host": "127.0.0.1", "port": up.port()}),
        ),
        (
            "routes",
            json!({"id": "00000000-0000-0000-0000-0000000000a2", "name": "one", "paths": [path],
                   "service": {"id": "00000000-0000-0000-0000-0000000000a1"}}),
        ),
    ]
    .map(|(kind, v)| proto::v1::Entity {
        kind: kind.into(),
        id: v["id"].as_str().unwrap().into(),
        json: v.to_string().into_bytes(),
    })
    .into();
    for (i, (kind, v)) in extra.iter().enumerate() {
        let mut v = v.clone();
        if v.get("id").is_none() {
            v["id"] = json!(format!("00000000-0000-0000-0000-0000000001{i:02}"));
        }
        ents.push(proto::v1::Entity {
            kind: (*kind).into(),
            id: v["id"].as_str().unwrap_or_default().into(),
            json: v.to_string().into_bytes(),
        });
    }
    let cfg = proto::schema::Config::from_entities(&ents).unwrap();
    let rt = runtime::compile(&cfg, 1, "0123456789abcdef0123456789abcdef").unwrap();
    let state = Arc::new(State::new("test-node".into()).unwrap());
    state.runtime.store(Arc::new(rt));
    state
}

/// An upstream on 127.0.0.1 answering each request head it reads (bodies are not read) with
/// `answer(head)`, on the same connection until the client closes it.
pub(crate) async fn head_upstream<F>(answer: F) -> SocketAddr
where
    F: Fn(&[u8]) -> Vec<u8> + Send + Sync + 'static,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let answer = Arc::new(answer);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut pending = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    pending.extend_from_slice(&buf[..n]);
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head: Vec<u8> = pending.drain(..end + 4).collect();
                        if s.write_all(&answer(&head)).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

/// The proxy serving `state` on 127.0.0.1, at the address it returns.
pub(crate) async fn serving(state: Arc<State>) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(crate::proxy::serve(l, state));
    addr
}
