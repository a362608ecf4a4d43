//! Protocol upgrades through the proxy (WebSocket): a plain-HTTP upgrade request goes over a
//! hyper connection of its own (`send_plain`); the client's pending upgrade rides on the
//! upstream request (on each attempt, until one gets an answer); once the upstream answers 101
//! Switching Protocols, both connections are taken over and bytes are copied both ways until
//! either side closes. Any other answer drops the upstream's `Upgrade` header, so the client
//! is never told to switch.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::header::UPGRADE;
use http::header::{HeaderValue, HOST};
use http::uri::PathAndQuery;
use http::{Request, Uri};
use http::{Response, StatusCode};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::ForwardError;
use crate::proxy::body::ProxyBody;

/// The connect timeout (Kong's default `connect_timeout`: 60 s); the caller's overall timeout
/// bounds it further.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

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

/// Sends an upgrade request (an absolute `http://` URI) over a new HTTP/1.1 connection of its
/// own, which hyper hands over once the upstream switches protocols.
pub(super) async fn send_plain(
    mut req: Request<ProxyBody>,
) -> Result<Response<Incoming>, ForwardError> {
    let mut uri = std::mem::take(req.uri_mut()).into_parts();
    let Some(authority) = uri.authority.take() else {
        return Err(ForwardError::Failed("upstream URI has no host".into()));
    };
    if !req.headers().contains_key(HOST) {
        let host = match authority.port_u16() {
            Some(80) => authority.host(),
            _ => authority.as_str(),
        };
        if let Ok(v) = HeaderValue::from_str(host) {
            req.headers_mut().insert(HOST, v);
        }
    }
    let pq = uri
        .path_and_query
        .take()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    *req.uri_mut() = Uri::from(pq);
    let port = authority.port_u16().unwrap_or(80);
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port)))
        .await
        .map_err(|_| ForwardError::Timeout)?
        .map_err(|e| ForwardError::Connect(format!("{authority}: {e}")))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ForwardError::Connect(format!("{authority}: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "upstream connection ended with error");
        }
    });
    sender
        .send_request(req)
        .await
        .map_err(|e| ForwardError::Failed(e.to_string()))
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
