//! Status server: `/status`, `/status/ready` and `/metrics` on the status listener, read from
//! the current runtime and the metrics registry.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::proxy::body::{full, ProxyBody};
use crate::State;

const JSON: &str = "application/json; charset=utf-8";
const METRICS: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn serve(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(route(&state, &req)) }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn reply(status: StatusCode, ct: &'static str, body: String) -> Response<ProxyBody> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    r
}

pub fn route(state: &State, req: &Request<Incoming>) -> Response<ProxyBody> {
    route_parts(state, req.method(), req.uri().path())
}

/// Answers one status request.
pub fn route_parts(state: &State, method: &Method, path: &str) -> Response<ProxyBody> {
    if method != Method::GET && method != Method::HEAD {
        return reply(
            StatusCode::NOT_FOUND,
            JSON,
            r#"{"message":"Not found"}"#.into(),
        );
    }
    let rt = state.runtime.load();
    match path.trim_end_matches('/') {
        "/status" => {
            let body = serde_json::json!({
                "server": {
                    "total_requests": state.metrics.total_requests(),
                    "connections_active": state.metrics.connections("active"),
                    "connections_accepted": state.metrics.connections("accepted"),
                    "connections_handled": state.metrics.connections("handled"),
                },
                "configuration_hash": rt.hash,
                "config_version": rt.version,
                "config_loaded_at": rt.loaded_at,
                "node_id": state.node_id,
                "control_plane_connected": state.cp_connected.load(Ordering::Relaxed),
            });
            reply(StatusCode::OK, JSON, body.to_string())
        }
        "/status/ready" => {
            if state.draining.load(Ordering::Relaxed) {
                reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    JSON,
                    r#"{"message":"draining"}"#.into(),
                )
            } else if rt.is_loaded() {
                reply(StatusCode::OK, JSON, r#"{"message":"ready"}"#.into())
            } else {
                reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    JSON,
                    r#"{"message":"no configuration available (configuration hash is not initialized)"}"#.into(),
                )
            }
        }
        "/metrics" => {
            let rows = match rt.upstream_health_metrics {
                true => rt.upstreams.health_rows(),
                false => Vec::new(),
            };
            state.metrics.set_upstream_health(&rows);
            reply(StatusCode::OK, METRICS, state.metrics.render())
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            JSON,
            r#"{"message":"Not found"}"#.into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body(r: Response<ProxyBody>) -> String {
        String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn ready_only_after_config() {
        let state = State::new("node-x".into()).unwrap();
        let r = route_parts(&state, &Method::GET, "/status/ready");
        assert_eq!(r.status(), 503);
        assert!(body(r)
            .await
            .contains("configuration hash is not initialized"));
        let cfg = proto::schema::Config::default();
        state.runtime.store(Arc::new(
            crate::runtime::compile(&cfg, 2, "0123456789abcdef0123456789abcdef").unwrap(),
        ));
        let r = route_parts(&state, &Method::GET, "/status/ready");
        assert_eq!(r.status(), 200);
        let s: serde_json::Value =
            serde_json::from_str(&body(route_parts(&state, &Method::GET, "/status")).await)
                .unwrap();
        assert_eq!(s["configuration_hash"], "0123456789abcdef0123456789abcdef");
        assert_eq!(s["config_version"], 2);
        assert_eq!(s["node_id"], "node-x");
        assert_eq!(s["control_plane_connected"], false);
    }

    #[tokio::test]
    async fn metrics_and_not_found() {
        let state = State::new("n".into()).unwrap();
        let r = route_parts(&state, &Method::GET, "/metrics");
        assert_eq!(r.headers()[CONTENT_TYPE], METRICS);
        assert!(body(r).await.contains("kong_node_info{node_id=\"n\""));
        let r = route_parts(&state, &Method::GET, "/nope");
        assert_eq!(r.status(), 404);
        assert_eq!(body(r).await, r#"{"message":"Not found"}"#);
    }
}
