//! Sizes of the request path's futures. A future is moved as it is built, and an `async fn`
//! keeps its arguments for as long as it lives, so their sizes are bytes copied per request:
//! these tests fail when one grows past its budget (a cold path not boxed, a helper `async fn`
//! keeping the request and options a second time).

use std::mem::size_of_val;
use std::time::{Duration, Instant};

use http::Request;
use http_body_util::Either;

use super::body::{self, ClientBody};
use super::{h1, h1_server, plain, test_state, Ctx, Peer};

fn client_body() -> body::ClientSource {
    Either::Right(h1_server::ReqBody::Full(None))
}

#[test]
fn the_request_futures_stay_within_their_budgets() {
    let state = test_state::one_route("127.0.0.1:1".parse().unwrap(), "/p");
    let peer = Peer::new("127.0.0.1:2".parse().unwrap(), None);
    let (_, body_watch) = ClientBody::new(client_body(), Duration::from_secs(1));
    let ctx = Ctx {
        state: state.clone(),
        request_id: String::new(),
        started: Instant::now(),
        prometheus: None,
        remote: peer.remote,
        remote_ip: peer.remote_ip.clone(),
        local_port: None,
        client_host: String::new(),
        record: Box::default(),
        response_headers: vec![],
        loggers: vec![],
        upstream_path: None,
        body_watch,
        grpc: false,
        https: false,
        raw_heads: true,
        consumer_headers: None,
    };
    let rt = state.runtime.load_full();
    let (parts, ()) = Request::new(()).into_parts();
    let flow = plain::flow(ctx, &rt.routes[0], 1, parts, None, None);
    assert!(
        size_of_val(&flow) <= 1600,
        "plain::flow: {}",
        size_of_val(&flow)
    );

    let req = Request::new(body::full(bytes::Bytes::new()));
    let send = state
        .upstream
        .send_with(req, h1::Options::default(), Duration::from_secs(1));
    assert!(
        size_of_val(&send) <= 512,
        "Upstream::send_with: {}",
        size_of_val(&send)
    );

    // Boxed per request on the plain path: the box is filled by a copy of this many bytes.
    let req = Request::new(body::full(bytes::Bytes::new()));
    let exchange = h1::send(req, h1::Options::default());
    assert!(
        size_of_val(&exchange) <= 1600,
        "h1::send: {}",
        size_of_val(&exchange)
    );
}
