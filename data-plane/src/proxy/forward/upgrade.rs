//! Protocol upgrades through the proxy (WebSocket): the client's pending upgrade rides on the
//! upstream request (on each attempt, until one gets an answer); once the upstream answers 101
//! Switching Protocols, both connections are taken over and bytes are copied both ways until
//! either side closes. Any other answer drops the upstream's `Upgrade` header, so the client
//! is never told to switch.

use std::sync::{Arc, Mutex};

use http::header::UPGRADE;
use http::{Response, StatusCode};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

/// The client's pending upgrade, shared by the attempts of one request (a retry on another
/// target still finds it; the attempt that gets the 101 takes it).
#[derive(Clone)]
pub(super) struct Slot(Arc<Mutex<Option<OnUpgrade>>>);

/// The slot of the client's pending upgrade, if it asked for one (made on the first attempt
/// and kept in the client request's extensions for the next).
pub(super) fn slot(client: &mut http::Extensions) -> Option<Slot> {
    if let Some(s) = client.get::<Slot>() {
        return Some(s.clone());
    }
    let s = Slot(Arc::new(Mutex::new(Some(client.remove::<OnUpgrade>()?))));
    client.insert(s.clone());
    Some(s)
}

/// Takes the upgrade slot off an upstream request.
pub(super) fn take<B>(req: &mut http::Request<B>) -> Option<Slot> {
    req.extensions_mut().remove::<Slot>()
}

/// Joins the client and the upstream once the upstream switched protocols.
pub(super) fn finish(slot: Option<Slot>, resp: &mut Response<Incoming>) {
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        resp.headers_mut().remove(UPGRADE);
        return;
    }
    let Some(client) = slot.and_then(|s| s.0.lock().ok().and_then(|mut u| u.take())) else {
        return;
    };
    let upstream = hyper::upgrade::on(resp);
    tokio::spawn(async move {
        let (client, upstream) = match tokio::join!(client, upstream) {
            (Ok(c), Ok(u)) => (c, u),
            (c, u) => {
                tracing::debug!(
                    client = c.is_ok(),
                    upstream = u.is_ok(),
                    "upgrade not completed"
                );
                return;
            }
        };
        let (mut c, mut u) = (TokioIo::new(client), TokioIo::new(upstream));
        match tokio::io::copy_bidirectional(&mut c, &mut u).await {
            Ok((up, down)) => tracing::debug!(up, down, "upgraded connection closed"),
            Err(e) => tracing::debug!(error = %e, "upgraded connection ended with error"),
        }
    });
}
