//! The upstream client of an AI plugin instance, used by the proxy's AI flow for every attempt
//! to an HTTPS upstream (plain-HTTP ones go through the proxy's lean client, `proxy::h1`, with
//! the same three timeouts): pooled keep-alive connections whose connect, read and write
//! timeouts are nginx's — connect bounds making the connection (TCP and TLS), read bounds the
//! wait between two reads (response head and each streamed chunk), write bounds the wait
//! between two writes. ai-proxy-advanced takes them from `balancer`, ai-proxy from the route's
//! service (as Kong's nginx does).

use std::cell::RefCell;
use std::sync::{Arc, Weak};
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_timeout::TimeoutConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::proxy::body::ProxyBody;

/// Connect, read and write timeouts in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect_ms: u64,
    pub read_ms: u64,
    pub write_ms: u64,
}

impl Default for Timeouts {
    /// Kong's 60 s each.
    fn default() -> Self {
        Timeouts {
            connect_ms: 60_000,
            read_ms: 60_000,
            write_ms: 60_000,
        }
    }
}

impl Timeouts {
    pub fn read(&self) -> Duration {
        Duration::from_millis(self.read_ms.max(1))
    }
}

/// A pooled client with fixed timeouts.
pub type AiClient = Client<TimeoutConnector<HttpsConnector<HttpConnector>>, ProxyBody>;

/// The TLS setup failed (no usable crypto provider).
#[derive(Debug, thiserror::Error)]
#[error("AI upstream client: TLS setup failed: {0}")]
pub struct ClientError(String);

fn build(t: Timeouts) -> Result<AiClient, ClientError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| ClientError(e.to_string()))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let mut c = TimeoutConnector::new(https);
    let ms = |v: u64| Some(Duration::from_millis(v.max(1)));
    c.set_connect_timeout(ms(t.connect_ms));
    c.set_read_timeout(ms(t.read_ms));
    c.set_write_timeout(ms(t.write_ms));
    // A request written resets the read clock: the wait for the answer starts after it.
    c.set_reset_reader_on_write(true);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(c))
}

/// The clients of one plugin instance: per thread (each proxy worker runs its own
/// current-thread runtime, and a pooled connection belongs to the runtime that opened it) and
/// per distinct set of timeouts (ai-proxy on services with different timeouts), built on first
/// use and dropped with the instance.
#[derive(Debug, Default)]
pub struct Clients {
    /// Identifies this instance's per-thread pools.
    token: Arc<()>,
}

thread_local! {
    /// This thread's AI clients: (instance token, timeouts, client).
    static POOLS: RefCell<Vec<(Weak<()>, Timeouts, AiClient)>> = const { RefCell::new(Vec::new()) };
}

impl Clients {
    /// This thread's client for `t`.
    pub fn get(&self, t: Timeouts) -> Result<AiClient, ClientError> {
        POOLS.with(|pools| {
            let mut pools = pools.borrow_mut();
            let mine = |w: &Weak<()>| std::ptr::eq(w.as_ptr(), Arc::as_ptr(&self.token));
            if let Some((_, _, c)) = pools.iter().find(|(w, k, _)| mine(w) && *k == t) {
                return Ok(c.clone());
            }
            pools.retain(|(w, _, _)| w.strong_count() > 0);
            let c = build(t)?;
            pools.push((Arc::downgrade(&self.token), t, c.clone()));
            Ok(c)
        })
    }
}
