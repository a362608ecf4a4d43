//! Log plugins on the request path: which file-log/http-log instances apply (looked up again
//! once the consumer is known), the request facts captured for them, the upstream and response
//! facts added on the way, and the log phase that serializes one entry and hands it to each.

use std::sync::Arc;

use http::request::Parts;
use http::{HeaderMap, Uri};
use proto::schema::Consumer;
use uuid::Uuid;

use super::Ctx;
use crate::metrics::Metrics;
use crate::plugins::log::capture::Capture;
use crate::plugins::log::serializer;
use crate::plugins::prometheus::LogRecord;
use crate::plugins::resolved::Known;
use crate::plugins::Instance;
use crate::runtime::{CompiledRoute, Runtime};

/// The log plugins.
const LOG_PLUGINS: [Known; 2] = [Known::HttpLog, Known::FileLog];

fn lookup(rt: &Runtime, route: &CompiledRoute, consumer: Option<Uuid>) -> Vec<Arc<Instance>> {
    let service = route.service.as_ref().map(|s| s.id);
    LOG_PLUGINS
        .iter()
        .filter_map(|&p| {
            route
                .plugins
                .get(p, &rt.plugins, route.route.id, service, consumer)
        })
        .collect()
}

impl Ctx {
    /// Finds the log plugins that apply with `consumer` (None before authentication) and, if
    /// any, captures the request for the serializer.
    pub(super) fn start_log(
        &mut self,
        rt: &Runtime,
        route: &CompiledRoute,
        parts: &Parts,
        consumer: Option<&Consumer>,
    ) {
        let service = route.service.as_ref().map(|s| s.id);
        self.loggers = lookup(rt, route, consumer.map(|c| c.id));
        if self.loggers.is_empty() {
            return;
        }
        if self.record.log.is_none() {
            let secrets = route
                .plugins
                .get(Known::KeyAuth, &rt.plugins, route.route.id, service, None)
                .and_then(|i| match &*i {
                    Instance::KeyAuth(k) => {
                        Some(k.key_names.iter().map(|n| n.to_ascii_lowercase()).collect())
                    }
                    _ => None,
                })
                .unwrap_or_default();
            self.record.log = Some(Box::new(Capture::new(
                parts,
                route,
                self.remote,
                &self.client_host,
                self.https,
                secrets,
            )));
        }
        if let Some(c) = self.record.log.as_mut() {
            c.set_consumer(consumer);
        }
    }

    /// The request about to go upstream: its path and address.
    pub(super) fn log_upstream(&mut self, uri: &Uri) {
        if let Some(c) = self.record.log.as_mut() {
            c.upstream_uri = uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            let port = uri
                .port_u16()
                .unwrap_or(if uri.scheme_str() == Some("https") {
                    443
                } else {
                    80
                });
            c.upstream_addr = uri.host().map(|h| (h.to_string(), port));
        }
    }

    /// The client's request body, for `ai.proxy.payload.request` (AI `log_payloads`).
    pub(super) fn log_request_payload(&mut self, body: &[u8]) {
        if let Some(c) = self.record.log.as_mut() {
            c.request_payload = Some(String::from_utf8_lossy(body).into_owned());
        }
    }

    /// The response head as the client gets it.
    pub(super) fn log_response(&mut self, headers: &HeaderMap) {
        if let Some(c) = self.record.log.as_mut() {
            c.set_response_headers(headers);
        }
    }
}

/// The log phase of the log plugins: one entry, serialized once, handed to each.
pub(super) fn run(metrics: &Metrics, loggers: &[Arc<Instance>], rec: &LogRecord) {
    let Some(cap) = rec.log.as_deref() else {
        return;
    };
    if loggers.is_empty() {
        return;
    }
    let entry = serializer::serialize(rec, cap);
    for l in loggers {
        match &**l {
            Instance::FileLog(f) => f.log(metrics, &entry),
            Instance::HttpLog(h) => h.log(metrics, entry.clone()),
            _ => {}
        }
    }
}
