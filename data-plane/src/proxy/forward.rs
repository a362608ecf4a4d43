//! Forwarding to the upstream: plain HTTP/1.1 through the lean client and its per-thread pool
//! (`h1`, `pool`; a WebSocket upgrade over a connection of its own with hyper); HTTPS
//! (HTTP/1.1 over TLS) and gRPC (HTTP/2: h2c for `grpc`, ALPN h2 for `grpcs`) through keep-alive
//! clients, one pool per thread and connector kind (`tls`); the upstream URI for a service
//! (Kong `get_upstream_uri_v0`), and timeout classification.

mod depth;
mod profile;
mod tls;
mod upgrade;

pub use profile::{TlsProfile, TlsProfiles, TlsSpec};

use std::cell::RefCell;
use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::future;
use http::header::{HeaderValue, TE};
use http::{Request, Version};
use http_body_util::Either;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::RootCertStore;

use super::body::{ProxyBody, UpstreamBody};
use super::h1;
use crate::runtime::CompiledRoute;
use tls::Kind;

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("upstream timed out")]
    Timeout,
    #[error("upstream request failed: {0}")]
    Failed(String),
    /// The connection could not be made (refused, unreachable): safe to retry elsewhere.
    #[error("upstream connect failed: {0}")]
    Connect(String),
    #[error("TLS setup failed: {0}")]
    Tls(String),
}

type PooledClient = Client<HttpsConnector<HttpConnector>, ProxyBody>;

/// Marks a request to a service with `tls_verify = false`: its certificate is not checked.
#[derive(Debug, Clone, Copy)]
struct SkipVerify;

/// Marks a request to a service with TLS settings of its own: sent through its profile.
#[derive(Debug, Clone)]
struct Profiled(Arc<TlsProfile>);

/// Prepares `req` for `service`'s protocol: `grpc`/`grpcs` go over HTTP/2 with `TE: trailers`
/// (as nginx's `grpc_pass` sends), `http`/`https` over HTTP/1.1; `tls_verify = false` turns
/// certificate verification off for this request's connection, and a service with TLS settings
/// of its own (`ca_certificates`, `client_certificate`, `tls_verify_depth`) sends through the
/// profile compiled for them. The client's pending protocol upgrade (a WebSocket handshake), if
/// any, moves from `client` onto `req`.
pub fn for_service(
    req: &mut Request<ProxyBody>,
    route: &CompiledRoute,
    client: &mut http::Extensions,
) {
    if let Some(slot) = upgrade::slot(client) {
        req.extensions_mut().insert(slot);
    }
    let Some(service) = route.service.as_deref() else {
        return;
    };
    if let Some(p) = &route.tls {
        req.extensions_mut().insert(Profiled(p.clone()));
    }
    if matches!(service.protocol.as_str(), "grpc" | "grpcs") {
        *req.version_mut() = Version::HTTP_2;
        req.headers_mut()
            .insert(TE, HeaderValue::from_static("trailers"));
    }
    if service.tls_verify == Some(false) {
        req.extensions_mut().insert(SkipVerify);
    }
}

/// The pooled upstream clients. Each thread that sends gets its own keep-alive pools (built on
/// first use): a proxy worker reuses the connections it opened, whose tasks run on its own
/// runtime, without sharing a pool lock or waking another thread.
#[derive(Clone)]
pub struct Upstream {
    /// By `Kind::index`.
    connectors: Arc<[HttpsConnector<HttpConnector>; 4]>,
    /// The trusted roots, for the profiles that bring none of their own.
    roots: Arc<RootCertStore>,
    /// Identifies this client's per-thread pools; they are dropped once every clone is gone.
    token: Arc<()>,
}

thread_local! {
    /// This thread's pools, per live `Upstream` (by its token's address) and connector kind.
    static POOLS: RefCell<Vec<(Weak<()>, Kind, PooledClient)>> = const { RefCell::new(Vec::new()) };
}

impl Upstream {
    /// The client trusting the system's CA bundle (Kong's default `lua_ssl_trusted_certificate`).
    pub fn new() -> Result<Self, ForwardError> {
        Self::trusting("system")
    }

    /// The client trusting the roots `spec` names (see `tls::trusted_roots`).
    pub fn trusting(spec: &str) -> Result<Self, ForwardError> {
        let roots = Arc::new(tls::trusted_roots(spec)?);
        let [a, b, c, d] = Kind::ALL.map(|k| tls::connector(k, &roots));
        Ok(Upstream {
            connectors: Arc::new([a?, b?, c?, d?]),
            roots,
            token: Arc::new(()),
        })
    }

    /// Starts `req` on this thread's pool of `kind` for this client, or of `profile`'s.
    fn start(
        &self,
        kind: Kind,
        profile: Option<&TlsProfile>,
        req: Request<ProxyBody>,
    ) -> Result<ResponseFuture, ForwardError> {
        let token = profile.map_or(&self.token, |p| &p.token);
        POOLS.with(|pools| {
            let mut pools = pools.borrow_mut();
            let me = Arc::as_ptr(token);
            if let Some((_, _, c)) = pools
                .iter()
                .find(|(t, k, _)| std::ptr::eq(t.as_ptr(), me) && *k == kind)
            {
                return Ok(c.request(req));
            }
            pools.retain(|(t, _, _)| t.strong_count() > 0);
            let mut b = Client::builder(TokioExecutor::new());
            b.pool_idle_timeout(Duration::from_secs(60))
                .pool_timer(TokioTimer::new())
                .http2_only(kind.h2);
            if kind.h2 {
                b.timer(TokioTimer::new());
            }
            let connector = match profile {
                Some(p) => p.connector(kind.h2, &self.roots)?,
                None => self.connectors[kind.index()].clone(),
            };
            let client = b.build(connector);
            let fut = client.request(req);
            pools.push((Arc::downgrade(token), kind, client));
            Ok(fut)
        })
    }

    /// Sends `req` and waits at most `timeout` for the response headers.
    pub fn send(
        &self,
        req: Request<ProxyBody>,
        timeout: Duration,
    ) -> impl Future<Output = Result<http::Response<UpstreamBody>, ForwardError>> + Send + '_ {
        self.send_with(req, Default::default(), timeout)
    }

    /// Sends `req` with `opts` and waits at most `timeout` for the response headers. Plain
    /// HTTP/1.1 goes through the lean client (`h1`), which writes the proxy's headers itself,
    /// unless the request asks for a protocol upgrade; other senders get them in the map, and
    /// give their response headers as a map.
    ///
    /// Not an `async fn`: the future holds the exchange (boxed) and its timer, not a second copy
    /// of the request and options it was called with.
    pub(super) fn send_with(
        &self,
        mut req: Request<ProxyBody>,
        opts: h1::Options,
        timeout: Duration,
    ) -> impl Future<Output = Result<http::Response<UpstreamBody>, ForwardError>> + Send + '_ {
        let client_upgrade = upgrade::take(&mut req);
        let plain = req.version() != Version::HTTP_2
            && req.uri().scheme() == Some(&http::uri::Scheme::HTTP);
        if plain && client_upgrade.is_none() {
            let exchange = tokio::time::timeout(timeout, Box::pin(h1::send(req, opts)));
            return future::Either::Left(async move {
                match exchange.await {
                    Err(_) => Err(ForwardError::Timeout),
                    Ok(r) => r.map(|r| r.map(Either::Right)),
                }
            });
        }
        future::Either::Right(Box::pin(self.send_other(
            req,
            opts,
            timeout,
            plain,
            client_upgrade,
        )))
    }

    /// `send_with` for what the lean client does not send: TLS, HTTP/2 and upgrades (`plain`:
    /// HTTP/1.1 without TLS, as `send_with` found).
    async fn send_other(
        &self,
        mut req: Request<ProxyBody>,
        opts: h1::Options,
        timeout: Duration,
        plain: bool,
        client_upgrade: Option<upgrade::Slot>,
    ) -> Result<http::Response<UpstreamBody>, ForwardError> {
        if let Some(f) = opts.forwarded {
            f.apply(req.headers_mut());
        }
        let mut resp = if plain {
            match tokio::time::timeout(timeout, Box::pin(upgrade::send_plain(req))).await {
                Err(_) => Err(ForwardError::Timeout),
                Ok(r) => r,
            }?
        } else {
            Box::pin(self.send_once(req, timeout)).await?
        };
        upgrade::finish(client_upgrade, &mut resp);
        Ok(resp.map(Either::Left))
    }

    async fn send_once(
        &self,
        mut req: Request<ProxyBody>,
        timeout: Duration,
    ) -> Result<http::Response<Incoming>, ForwardError> {
        let h2 = req.version() == Version::HTTP_2;
        let kind = Kind {
            h2,
            verify: req.extensions().get::<SkipVerify>().is_none(),
        };
        let profile = req.extensions_mut().remove::<Profiled>();
        let started = self.start(kind, profile.as_ref().map(|p| p.0.as_ref()), req)?;
        match tokio::time::timeout(timeout, started).await {
            Err(_) => Err(ForwardError::Timeout),
            Ok(Err(e)) => {
                let mut msg = e.to_string();
                let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg.push_str(": ");
                    msg.push_str(&s.to_string());
                    src = s.source();
                }
                if msg.contains("timed out") {
                    Err(ForwardError::Timeout)
                } else if e.is_connect() {
                    Err(ForwardError::Connect(msg))
                } else {
                    Err(ForwardError::Failed(msg))
                }
            }
            Ok(Ok(r)) => Ok(r),
        }
    }
}

/// Kong's `get_upstream_uri_v0`: the upstream path from the service path (`base`, default `/`),
/// `strip_path`, the request path and the part of it the route matched.
pub fn upstream_path(
    base: Option<&str>,
    strip_path: bool,
    req_path: &str,
    matched: &str,
) -> String {
    let base = base.filter(|b| !b.is_empty()).unwrap_or("/");
    let postfix = if strip_path {
        req_path.get(matched.len()..).unwrap_or("")
    } else {
        req_path
    };
    if base.ends_with('/') {
        if strip_path {
            if postfix.is_empty() {
                if base == "/" || req_path.ends_with('/') {
                    base.to_string()
                } else {
                    base.strip_suffix('/').unwrap_or(base).to_string()
                }
            } else if postfix.starts_with('/') {
                format!("{}{}", base.strip_suffix('/').unwrap_or(base), postfix)
            } else {
                format!("{base}{postfix}")
            }
        } else {
            format!("{base}{}", req_path.get(1..).unwrap_or(""))
        }
    } else if strip_path {
        if postfix.is_empty() {
            if req_path.len() > 1 && req_path.ends_with('/') {
                format!("{base}/")
            } else {
                base.to_string()
            }
        } else if postfix.starts_with('/') {
            format!("{base}{postfix}")
        } else {
            format!("{base}/{postfix}")
        }
    } else if req_path == "/" {
        base.to_string()
    } else {
        format!("{base}{req_path}")
    }
}

#[cfg(test)]
mod tests {
    use super::upstream_path;

    #[test]
    fn v0_path_table() {
        // (service path, strip, request path, matched prefix, expected)
        let cases = [
            (None, true, "/api/foo", "/api", "/foo"),
            (None, true, "/api", "/api", "/"),
            (None, false, "/api/foo", "/api", "/api/foo"),
            (Some("/svc"), true, "/api/foo", "/api", "/svc/foo"),
            (Some("/svc"), true, "/api", "/api", "/svc"),
            (Some("/svc"), true, "/api/", "/api", "/svc/"),
            (Some("/svc"), true, "/apifoo", "/api", "/svc/foo"),
            (Some("/svc/"), true, "/api/foo", "/api", "/svc/foo"),
            (Some("/svc/"), true, "/api", "/api", "/svc"),
            (Some("/svc/"), true, "/apifoo", "/api", "/svc/foo"),
            (Some("/svc/"), false, "/api/foo", "/api", "/svc/api/foo"),
            (Some("/svc"), false, "/api/foo", "/api", "/svc/api/foo"),
            (Some("/svc"), false, "/", "", "/svc"),
            (None, true, "/anything", "", "/anything"),
        ];
        for (base, strip, req, matched, want) in cases {
            assert_eq!(
                upstream_path(base, strip, req, matched),
                want,
                "{base:?} {strip} {req} {matched}"
            );
        }
    }
}
