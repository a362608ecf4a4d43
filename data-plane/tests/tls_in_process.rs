//! Client TLS in process: an `ssl` listener (the workers' `serve_with` with TLS) and a plaintext
//! one on the same state, called with a real rustls client: the certificate served per SNI
//! (exact, wildcard, default), a route with `snis` matched only with that SNI, h2 by ALPN,
//! Kong's 426 / redirect for https-only routes over plaintext, `X-Forwarded-Proto`, and a new
//! config's certificate served on the next handshake without a restart.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde_json::{json, Value};

use common::{entity, start_proxy, start_proxy_with, SERVICE};
use data_plane::proxy::server_tls;
use data_plane::State;

/// Accepts any server certificate: the test compares the one served itself.
#[derive(Debug)]
struct AnyCert;

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

struct Pem {
    cert: String,
    key: String,
    der: Vec<u8>,
}

fn pem(name: &str) -> Pem {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

const CERT_A: &str = "00000000-0000-0000-0000-00000000c001";
const CERT_W: &str = "00000000-0000-0000-0000-00000000c002";

fn route(id: &str, path: &str, extra: Value) -> proto::v1::Entity {
    let mut r = json!({"id": id, "name": path.trim_start_matches('/'), "paths": [path], "service": {"id": SERVICE}});
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    entity("routes", r)
}

fn config(up: SocketAddr, a: &Pem, w: &Pem) -> Vec<proto::v1::Entity> {
    vec![
        entity(
            "services",
            json!({"id": SERVICE, "name": "echo", "host": "127.0.0.1", "port": up.port()}),
        ),
        route(
            "00000000-0000-0000-0000-0000000000b1",
            "/sni",
            json!({"protocols": ["https"], "snis": ["a.test"]}),
        ),
        route("00000000-0000-0000-0000-0000000000b2", "/open", json!({})),
        route(
            "00000000-0000-0000-0000-0000000000b3",
            "/secure",
            json!({"protocols": ["https"]}),
        ),
        route(
            "00000000-0000-0000-0000-0000000000b4",
            "/moved",
            json!({"protocols": ["https"], "https_redirect_status_code": 308}),
        ),
        entity(
            "certificates",
            json!({"id": CERT_A, "cert": a.cert, "key": a.key}),
        ),
        entity(
            "certificates",
            json!({"id": CERT_W, "cert": w.cert, "key": w.key}),
        ),
        entity(
            "snis",
            json!({"id": "00000000-0000-0000-0000-00000000d001", "name": "a.test", "certificate": {"id": CERT_A}}),
        ),
        entity(
            "snis",
            json!({"id": "00000000-0000-0000-0000-00000000d002", "name": "*.wild.test", "certificate": {"id": CERT_W}}),
        ),
    ]
}

/// A plaintext and an `ssl` listener on one state; returns (plain, tls, state, default cert).
async fn gateway(ents: &[proto::v1::Entity]) -> (SocketAddr, SocketAddr, Arc<State>, Vec<u8>) {
    let state = Arc::new(State::new("test-node".into()).unwrap());
    common::apply(&state, ents, 1);
    let plain_addr = start_proxy(state.clone()).await;
    let default = server_tls::self_signed().unwrap();
    let default_der = default.leaf().unwrap().to_vec();
    let tls = server_tls::server_config(state.clone(), default).unwrap();
    let opts = data_plane::proxy::serve::ServeOptions {
        tls: Some(tls),
        ..Default::default()
    };
    let tls_addr = start_proxy_with(state.clone(), opts).await;
    (plain_addr, tls_addr, state, default_der)
}

struct Reply {
    cert: Vec<u8>,
    alpn: Option<Vec<u8>>,
    version: http::Version,
    status: u16,
    body: String,
}

/// One GET over TLS with SNI `sni` and ALPN `alpn` (h2 when it holds `h2`).
async fn tls_get(addr: SocketAddr, sni: &str, alpn: &[&str], path: &str) -> Reply {
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(AnyCert))
    .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from(sni.to_string()).unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .unwrap();
    let (_, conn) = tls.get_ref();
    let cert = conn.peer_certificates().unwrap()[0].to_vec();
    let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
    let req = hyper::Request::builder()
        .uri(format!("https://{sni}{path}"))
        .header("host", sni)
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = if alpn.as_deref() == Some(b"h2") {
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(conn);
        send.send_request(req).await.unwrap()
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn);
        let (mut parts, body) = req.into_parts();
        parts.uri = path.parse().unwrap();
        send.send_request(hyper::Request::from_parts(parts, body))
            .await
            .unwrap()
    };
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Reply {
        cert,
        alpn,
        version: parts.version,
        status: parts.status.as_u16(),
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn upstream_header(body: &str, name: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    v["headers"][name].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn certificates_by_sni_routes_by_sni_h2_and_https_only_routes() {
    let up = common::echo_upstream().await;
    let (a, w) = (pem("a.test"), pem("*.wild.test"));
    let (plain, tls, state, default_der) = gateway(&config(up, &a, &w)).await;

    // The certificate per SNI: exact, wildcard, else the default one.
    let r = tls_get(tls, "a.test", &["http/1.1"], "/sni").await;
    assert_eq!(r.cert, a.der, "a.test gets its certificate");
    assert_eq!(r.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(upstream_header(&r.body, "x-forwarded-proto"), "https");
    let r = tls_get(tls, "x.wild.test", &[], "/sni").await;
    assert_eq!(r.cert, w.der, "*.wild.test covers x.wild.test");
    // The route with snis [a.test] does not match another SNI.
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("no Route matched"), "{}", r.body);
    let r = tls_get(tls, "other.test", &[], "/open").await;
    assert_eq!(
        r.cert, default_der,
        "no SNI entity: the default certificate"
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(upstream_header(&r.body, "x-forwarded-proto"), "https");

    // h2 by ALPN, to an https-only route.
    let r = tls_get(tls, "a.test", &["h2", "http/1.1"], "/secure").await;
    assert_eq!(r.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(r.version, http::Version::HTTP_2);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(upstream_header(&r.body, "x-forwarded-proto"), "https");

    // Plaintext: https-only routes get Kong's 426 or redirect; others are served as http.
    let c = common::client();
    let (status, h, body) = common::call(&c, "GET", format!("http://{plain}/secure"), &[]).await;
    assert_eq!(status, 426);
    assert_eq!(body, r#"{"message":"Please use HTTPS protocol"}"#);
    assert_eq!(h["upgrade"], "TLS/1.2, HTTP/1.1");
    let (status, _, _) = common::call(&c, "GET", format!("http://{plain}/sni"), &[]).await;
    assert_eq!(status, 426, "a route with snis is https-only here");
    let (status, h, body) = common::call(
        &c,
        "GET",
        format!("http://{plain}/moved/x?q=1"),
        &[("host", "gw.test:8000")],
    )
    .await;
    assert_eq!(status, 308, "{body}");
    assert_eq!(h["location"], "https://gw.test/moved/x?q=1");
    let (status, _, body) = common::call(&c, "GET", format!("http://{plain}/open"), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(upstream_header(&body, "x-forwarded-proto"), "http");

    // A new config with a new certificate for a.test: served on the next handshake.
    let a2 = pem("a.test");
    common::apply(&state, &config(up, &a2, &w), 2);
    let r = tls_get(tls, "a.test", &[], "/sni").await;
    assert_eq!(r.cert, a2.der, "the new certificate, no restart");
    assert_ne!(a2.der, a.der);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_stalled_tls_handshake_holds_up_no_other_connection() {
    let up = common::echo_upstream().await;
    let (a, w) = (pem("a.test"), pem("*.wild.test"));
    let (_, tls, _, _) = gateway(&config(up, &a, &w)).await;
    // A client that connects and never sends its ClientHello.
    let _stalled = tokio::net::TcpStream::connect(tls).await.unwrap();
    let r = tls_get(tls, "a.test", &[], "/sni").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.cert, a.der);
}

#[tokio::test]
async fn the_log_serializer_says_https_for_tls_requests() {
    let dir = std::env::temp_dir().join(format!("tls-log-it-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("requests.log");
    let up = common::echo_upstream().await;
    let (a, w) = (pem("a.test"), pem("*.wild.test"));
    let mut ents = config(up, &a, &w);
    ents.push(entity(
        "plugins",
        json!({"id": "00000000-0000-0000-0000-00000000e001", "name": "file-log",
               "config": {"path": path.display().to_string()}}),
    ));
    let (plain, tls, _, _) = gateway(&ents).await;
    let r = tls_get(tls, "a.test", &[], "/open?x=1").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = common::client();
    let (status, _, _) = common::call(&c, "GET", format!("http://{plain}/open"), &[]).await;
    assert_eq!(status, 200);
    let mut urls: Vec<String> = Vec::new();
    for _ in 0..250 {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        urls = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["request"]["url"].to_string())
            .collect();
        if urls.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    urls.sort();
    assert_eq!(
        urls,
        vec![
            format!("\"http://{plain}/open\""),
            "\"https://a.test/open?x=1\"".to_string(),
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
