//! The keep-alive pool for plain-HTTP upstreams: HTTP/1.1 connections by `host:port`, kept per
//! thread, so a proxy worker reuses the connections it opened (their tasks run on its own
//! runtime) with no pool lock, no pool-return task and no URI rewriting per request. HTTPS
//! upstreams go through the general client in `forward`.
//!
//! A connection goes back to the idle list as soon as its response head arrived; it is taken
//! again only once hyper reports it ready (its response body fully read) and dropped once it is
//! closed or has idled longer than `IDLE_TIMEOUT`. A request that could not be written on a
//! reused connection (the upstream closed it meanwhile) is sent again on a new one.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use http::header::{HeaderValue, HOST};
use http::uri::{Authority, PathAndQuery};
use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::body::ProxyBody;
use super::forward::ForwardError;

/// Kong's `upstream_keepalive_idle_timeout` default.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Kong's `upstream_keepalive_pool_size` default (per host:port, here per worker).
const MAX_IDLE: usize = 512;
/// The connect timeout (Kong's default `connect_timeout`: 60 s); the caller's overall timeout
/// bounds it further.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

struct Idle {
    sender: SendRequest<ProxyBody>,
    since: Instant,
}

type Fold = foldhash::fast::FixedState;

thread_local! {
    static IDLE: RefCell<HashMap<String, Vec<Idle>, Fold>> = RefCell::new(HashMap::default());
}

/// A ready connection to `key` from this thread's idle list, if there is one.
fn checkout(key: &str) -> Option<SendRequest<ProxyBody>> {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let list = idle.get_mut(key)?;
        let now = Instant::now();
        list.retain(|c| !c.sender.is_closed() && now.duration_since(c.since) < IDLE_TIMEOUT);
        let i = list.iter().rposition(|c| c.sender.is_ready())?;
        Some(list.swap_remove(i).sender)
    })
}

/// Puts `sender` back in this thread's idle list for `key`.
fn checkin(key: &str, sender: SendRequest<ProxyBody>) {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let list = match idle.get_mut(key) {
            Some(l) => l,
            None => idle.entry(key.to_string()).or_default(),
        };
        if list.len() < MAX_IDLE {
            list.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    });
}

async fn connect(authority: &Authority) -> Result<SendRequest<ProxyBody>, ForwardError> {
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
    let (sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ForwardError::Connect(format!("{authority}: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "upstream connection ended with error");
        }
    });
    Ok(sender)
}

/// Sends `req` (an absolute `http://` URI) over a pooled connection.
pub(super) async fn send(mut req: Request<ProxyBody>) -> Result<Response<Incoming>, ForwardError> {
    // The URI taken apart, not cloned (a clone of a URI parsed from a `String` allocates).
    let mut uri = std::mem::take(req.uri_mut()).into_parts();
    let Some(authority) = uri.authority.take() else {
        return Err(ForwardError::Failed("upstream URI has no host".into()));
    };
    let key = authority.as_str();
    if !req.headers().contains_key(HOST) {
        let host = match authority.port_u16() {
            Some(80) => authority.host(),
            _ => authority.as_str(),
        };
        if let Ok(v) = HeaderValue::from_str(host) {
            req.headers_mut().insert(HOST, v);
        }
    }
    // Origin form on the wire: the path and query only.
    let pq = uri
        .path_and_query
        .take()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    *req.uri_mut() = Uri::from(pq);
    loop {
        let (mut sender, reused) = match checkout(key) {
            Some(s) => (s, true),
            None => (connect(&authority).await?, false),
        };
        match sender.try_send_request(req).await {
            Ok(resp) => {
                checkin(key, sender);
                return Ok(resp);
            }
            Err(mut e) => match e.take_message() {
                // Not written: the reused connection had closed; try a new one.
                Some(back) if reused => req = back,
                _ => return Err(ForwardError::Failed(chain(&e.into_error()))),
            },
        }
    }
}

/// An error and its sources, for the log line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}
