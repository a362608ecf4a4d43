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
