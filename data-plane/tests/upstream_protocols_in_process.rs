//! Service protocols, in process, against real upstream servers: `http` goes upstream over
//! HTTP/1.1, `grpc` over HTTP/2 (h2c) with `TE: trailers` and the gRPC trailers back to the
//! client, `https` over HTTP/1.1 in TLS (rustls; `tls_verify = false` accepts a self-signed
//! certificate, the default verifies it and refuses one), `grpcs` offers ALPN `h2` in TLS; a CA
//! given as `lua_ssl_trusted_certificate` verifies both; Kong's own errors reach a gRPC client
//! as `grpc-status`/`grpc-message`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};

use common::{
    call, client, dead_port, entity, gateway, gateway_trusting, h2c_client, header, raw_listen,
};

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// Answers with `{"version","te","path","body"}` and, for gRPC requests, a `grpc-status: 0`
/// trailer, over whatever HTTP version the client speaks.
async fn answer(
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Body>, Infallible> {
    let version = format!("{:?}", req.version());
    let te = header(&req, "te");
    let grpc = req
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    let path = req.uri().path().to_string();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let out = json!({"version": version, "te": te, "path": path,
        "body": String::from_utf8_lossy(&body)})
    .to_string();
    let body: Body = if grpc {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        let frames = vec![
            Ok::<_, Infallible>(Frame::data(Bytes::from(out))),
            Ok(Frame::trailers(trailers)),
        ];
        StreamBody::new(futures_util::stream::iter(frames)).boxed()
    } else {
        Full::new(Bytes::from(out)).boxed()
    };
    Ok(hyper::Response::new(body))
}

/// A plaintext upstream speaking HTTP/1.1 and h2c (prior knowledge) on one port.
async fn plain_upstream() -> SocketAddr {
    raw_listen(|s| async move {
        let _ = auto::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(s), service_fn(answer))
            .await;
    })
    .await
}

type Pair = (CertificateDer<'static>, PrivateKeyDer<'static>);

/// A self-signed certificate for `localhost`.
fn self_signed() -> Pair {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = CertificateDer::from(ck.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    (cert, key)
}

/// A test CA (its PEM) and a certificate it signed for `127.0.0.1`.
fn ca_signed() -> (String, Pair) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let cert = CertificateDer::from(leaf.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (ca.pem(), (cert, key))
}

/// A TLS upstream with `cert`, offering h2 and HTTP/1.1; records the ALPN protocols each
/// client offered.
async fn tls_upstream((cert, key): Pair) -> (SocketAddr, Arc<Mutex<Vec<Vec<String>>>>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let cfg = Arc::new(cfg);
    let offers = Arc::new(Mutex::new(Vec::new()));
    let seen = offers.clone();
    let addr = raw_listen(move |s| {
        let (cfg, seen) = (cfg.clone(), seen.clone());
        async move {
            let acceptor =
                tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), s);
            let Ok(start) = acceptor.await else { return };
            let alpn: Vec<String> = start
                .client_hello()
                .alpn()
                .map(|a| a.map(|p| String::from_utf8_lossy(p).into_owned()).collect())
                .unwrap_or_default();
            seen.lock().unwrap().push(alpn);
            let Ok(tls) = start.into_stream(cfg).await else {
                return;
            };
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service_fn(answer))
                .await;
        }
    })
    .await;
    (addr, offers)
}

fn service(id: &str, protocol: &str, port: u16, extra: Value) -> proto::v1::Entity {
    let mut v = json!({"id": id, "name": format!("svc-{protocol}-{}", &id[id.len() - 2..]),
        "protocol": protocol, "host": "127.0.0.1", "port": port});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    entity("services", v)
}

fn route(id: &str, path: &str, service: &str) -> proto::v1::Entity {
    entity(
        "routes",
        json!({"id": id, "name": format!("r{}", path.replace('/', "-")), "paths": [path],
            "strip_path": false,
            "service": {"id": service}}),
    )
}

#[tokio::test]
async fn http_goes_over_http1_and_grpc_over_h2_with_trailers() {
    let up = plain_upstream().await;
    let (http_svc, grpc_svc) = (
        "00000000-0000-0000-0000-0000000000f1",
        "00000000-0000-0000-0000-0000000000f2",
    );
    // A port nothing listens on.
    let down = dead_port();
    let down_svc = "00000000-0000-0000-0000-0000000000f8";
    let ents = vec![
        service(http_svc, "http", up.port(), json!({})),
        service(grpc_svc, "grpc", up.port(), json!({})),
        service(down_svc, "grpc", down.port(), json!({})),
        route(
            "10000000-0000-0000-0000-0000000000f8",
            "/pkg.Down",
            down_svc,
        ),
        route("10000000-0000-0000-0000-0000000000f1", "/web", http_svc),
        route(
            "10000000-0000-0000-0000-0000000000f2",
            "/pkg.Greeter",
            grpc_svc,
        ),
    ];
    let (gw, _state) = gateway(&ents).await;

    let (s, _, body) = call(&client(), "GET", format!("http://{gw}/web/x"), &[]).await;
    assert_eq!(s, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["version"], "HTTP/1.1");

    // A gRPC client (HTTP/2 cleartext to the proxy).
    let h2 = h2c_client();
    let req = hyper::Request::builder()
        .method("POST")
        .uri(format!("http://{gw}/pkg.Greeter/SayHello"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from_static(b"\0\0\0\0\x02hi")))
        .unwrap();
    let r = h2.request(req).await.unwrap();
    assert_eq!(r.status(), 200);
    let collected = r.into_body().collect().await.unwrap();
    let trailers = collected
        .trailers()
        .cloned()
        .expect("gRPC trailers reach the client");
    assert_eq!(trailers["grpc-status"], "0");
    let v: Value = serde_json::from_slice(&collected.to_bytes()).unwrap();
    assert_eq!(v["version"], "HTTP/2.0");
    assert_eq!(v["te"], "trailers");
    assert_eq!(v["path"], "/pkg.Greeter/SayHello");
    assert_eq!(v["body"], "\0\0\0\0\u{2}hi");

    // Kong's own answers to a gRPC client: the message in `grpc-message`, the code in
    // `grpc-status`, no body.
    let grpc_call = |path: &str| {
        hyper::Request::builder()
            .method("POST")
            .uri(format!("http://{gw}{path}"))
            .header("content-type", "application/grpc")
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let r = h2.request(grpc_call("/pkg.Missing/Call")).await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["grpc-status"], "5");
    assert_eq!(
        r.headers()["grpc-message"],
        "no Route matched with those values"
    );
    assert!(r.into_body().collect().await.unwrap().to_bytes().is_empty());
    let r = h2.request(grpc_call("/pkg.Down/Call")).await.unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(r.headers()["grpc-status"], "13");
    assert_eq!(
        r.headers()["grpc-message"],
        "An invalid response was received from the upstream server"
    );
}

#[tokio::test]
async fn https_and_grpcs_go_over_tls_and_verify_certificates_by_default() {
    let (up, offers) = tls_upstream(self_signed()).await;
    let ids = [
        "00000000-0000-0000-0000-0000000000f3",
        "00000000-0000-0000-0000-0000000000f4",
        "00000000-0000-0000-0000-0000000000f5",
    ];
    let ents = vec![
        service(ids[0], "https", up.port(), json!({"tls_verify": false})),
        service(ids[1], "https", up.port(), json!({})),
        service(ids[2], "grpcs", up.port(), json!({})),
        route(
            "10000000-0000-0000-0000-0000000000f3",
            "/unverified",
            ids[0],
        ),
        route("10000000-0000-0000-0000-0000000000f4", "/verified", ids[1]),
        route(
            "10000000-0000-0000-0000-0000000000f5",
            "/pkg.Secure",
            ids[2],
        ),
    ];
    let (gw, _state) = gateway(&ents).await;
    let c = client();

    // tls_verify = false: the self-signed upstream answers, over HTTP/1.1 in TLS.
    let (s, _, body) = call(&c, "POST", format!("http://{gw}/unverified/a"), &[]).await;
    assert_eq!(s, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["version"], "HTTP/1.1");
    assert_eq!(v["path"], "/unverified/a");
    // No ALPN offer (as nginx's proxy_pass): the server cannot pick h2.
    assert_eq!(
        offers.lock().unwrap().last().unwrap(),
        &Vec::<String>::new()
    );

    // The default verifies the certificate against the bundled roots: refused, Kong's 502.
    let (s, _, body) = call(&c, "GET", format!("http://{gw}/verified"), &[]).await;
    assert_eq!(s, 502, "{body}");
    assert_eq!(
        body,
        r#"{"message":"An invalid response was received from the upstream server"}"#
    );

    // grpcs: TLS offering only h2 (and verified, so refused here as well).
    let (s, _, _) = call(&c, "POST", format!("http://{gw}/pkg.Secure/Call"), &[]).await;
    assert_eq!(s, 502);
    assert_eq!(offers.lock().unwrap().last().unwrap(), &vec!["h2"]);
}

#[tokio::test]
async fn a_trusted_ca_verifies_https_and_grpcs_upstreams() {
    let (ca_pem, pair) = ca_signed();
    let ca_file = std::env::temp_dir().join(format!("dp-test-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, ca_pem).unwrap();
    let (up, offers) = tls_upstream(pair).await;
    let ids = [
        "00000000-0000-0000-0000-0000000000f6",
        "00000000-0000-0000-0000-0000000000f7",
    ];
    let ents = vec![
        service(ids[0], "https", up.port(), json!({"tls_verify": true})),
        service(ids[1], "grpcs", up.port(), json!({})),
        route("10000000-0000-0000-0000-0000000000f6", "/secure", ids[0]),
        route(
            "10000000-0000-0000-0000-0000000000f7",
            "/pkg.Secure",
            ids[1],
        ),
    ];
    let gw = gateway_trusting(&ents, &format!("system,{}", ca_file.display())).await;

    let (s, _, body) = call(&client(), "GET", format!("http://{gw}/secure/x"), &[]).await;
    assert_eq!(s, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["version"], "HTTP/1.1");

    // grpcs: HTTP/2 in TLS (ALPN h2), trailers back to the client.
    let h2 = h2c_client();
    let req = hyper::Request::builder()
        .method("POST")
        .uri(format!("http://{gw}/pkg.Secure/Call"))
        .header("content-type", "application/grpc")
        .body(Full::new(Bytes::from_static(b"\0\0\0\0\0")))
        .unwrap();
    let r = h2.request(req).await.unwrap();
    assert_eq!(r.status(), 200);
    let got = r.into_body().collect().await.unwrap();
    assert_eq!(got.trailers().unwrap()["grpc-status"], "0");
    let v: Value = serde_json::from_slice(&got.to_bytes()).unwrap();
    assert_eq!(v["version"], "HTTP/2.0");
    assert_eq!(v["te"], "trailers");
    assert_eq!(offers.lock().unwrap().last().unwrap(), &vec!["h2"]);
    std::fs::remove_file(&ca_file).unwrap();
}

#[test]
fn a_bad_trusted_certificate_setting_is_an_error_naming_it() {
    let missing = std::env::temp_dir().join("dp-test-no-such-ca.pem");
    let e = data_plane::State::trusting("n".into(), &missing.display().to_string())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains(&missing.display().to_string()), "{e}");
    let empty = std::env::temp_dir().join(format!("dp-test-empty-{}.pem", std::process::id()));
    std::fs::write(&empty, "not a certificate").unwrap();
    let e = data_plane::State::trusting("n".into(), &empty.display().to_string())
        .err()
        .unwrap()
        .to_string();
    std::fs::remove_file(&empty).unwrap();
    assert!(e.contains("no PEM certificate"), "{e}");
    let e = data_plane::State::trusting("n".into(), " , ")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("names no CA certificate"), "{e}");
    assert!(data_plane::State::trusting("n".into(), "bundled").is_ok());
}
