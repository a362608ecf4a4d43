//! A service's own upstream TLS settings, in process, against real TLS upstreams: its
//! `ca_certificates` replace the trusted roots, `tls_verify_depth` limits the intermediates,
//! `client_certificate` (or the upstream entity's) is presented to an upstream that requires
//! one; profiles are compiled with the config, shared and reused; a missing reference refuses
//! the config.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};

use common::{call, client, entity, gateway_trusting, raw_listen};

/// A CA: its certificate (rcgen form and PEM) and key.
struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl Ca {
    fn root(name: &str) -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = ca_params(name).self_signed(&key).unwrap();
        Ca { cert, key }
    }

    fn intermediate(&self, name: &str) -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = ca_params(name)
            .signed_by(&key, &self.cert, &self.key)
            .unwrap();
        Ca { cert, key }
    }

    /// A leaf for `names` signed by this CA: (certificate PEM, key PEM).
    fn leaf(&self, names: &[&str]) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let cert = rcgen::CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &self.cert, &self.key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }
}

fn ca_params(name: &str) -> rcgen::CertificateParams {
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, name.to_string());
    p
}

fn der(pem: &str) -> CertificateDer<'static> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

fn key_der(pem: &str) -> PrivateKeyDer<'static> {
    use rustls::pki_types::pem::PemObject;
    let k = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).unwrap();
    PrivateKeyDer::Pkcs8(k)
}

async fn ok(
    _req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    Ok(hyper::Response::new(Full::new(Bytes::from_static(
        b"{\"upstream\":\"tls\"}",
    ))))
}

/// A TLS upstream presenting `chain` (leaf first) with `key`; when `client_ca` is set it
/// requires a client certificate signed by it.
async fn tls_upstream(chain: Vec<String>, key: &str, client_ca: Option<&Ca>) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(der(&ca.pem())).unwrap();
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(v)
        }
    };
    let certs = chain.iter().map(|p| der(p)).collect();
    let cfg = Arc::new(builder.with_single_cert(certs, key_der(key)).unwrap());
    raw_listen(move |s| {
        let acceptor = tokio_rustls::TlsAcceptor::from(cfg.clone());
        async move {
            let Ok(tls) = acceptor.accept(s).await else {
                return;
            };
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service_fn(ok))
                .await;
        }
    })
    .await
}

/// An https service `n` (ids end in `n`) on `port` with `extra` fields, and its route `/s{n}`.
fn service_and_route(n: u8, port: u16, extra: Value) -> Vec<proto::v1::Entity> {
    let sid = format!("00000000-0000-0000-0000-0000000000{n:02x}");
    let mut v = json!({"id": sid, "name": format!("s{n}"), "protocol": "https",
        "host": "127.0.0.1", "port": port});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    vec![
        entity("services", v),
        entity(
            "routes",
            json!({"id": format!("10000000-0000-0000-0000-0000000000{n:02x}"),
                "paths": [format!("/s{n}")], "service": {"id": sid}}),
        ),
    ]
}

const CA1: &str = "c0000000-0000-0000-0000-000000000001";
const CA2: &str = "c0000000-0000-0000-0000-000000000002";
const CERT: &str = "ce000000-0000-0000-0000-000000000001";

fn ca_entity(id: &str, ca: &Ca) -> proto::v1::Entity {
    entity("ca_certificates", json!({"id": id, "cert": ca.pem()}))
}

async fn status(gw: SocketAddr, path: &str) -> (u16, String) {
    let (s, _, body) = call(&client(), "GET", format!("http://{gw}{path}"), &[]).await;
    (s, body)
}

#[tokio::test]
async fn ca_certificates_replace_the_trusted_roots() {
    let private = Ca::root("Private Root");
    let other = Ca::root("Other Root");
    let (cert, key) = private.leaf(&["127.0.0.1"]);
    let up = tls_upstream(vec![cert], &key, None).await;
    let mut ents = vec![ca_entity(CA1, &private), ca_entity(CA2, &other)];
    ents.extend(service_and_route(
        1,
        up.port(),
        json!({"ca_certificates": [CA1]}),
    ));
    ents.extend(service_and_route(2, up.port(), json!({})));
    ents.extend(service_and_route(
        3,
        up.port(),
        json!({"ca_certificates": [CA2], "tls_verify": true}),
    ));
    ents.extend(service_and_route(
        4,
        up.port(),
        json!({"ca_certificates": [CA2], "tls_verify": false}),
    ));
    let gw = gateway_trusting(&ents, "bundled").await;

    let (s, body) = status(gw, "/s1").await;
    assert_eq!(s, 200, "the service's CA verifies the upstream: {body}");
    assert_eq!(body, r#"{"upstream":"tls"}"#);
    let (s, body) = status(gw, "/s2").await;
    assert_eq!(s, 502, "without it the bundled roots refuse the private CA");
    assert_eq!(
        body,
        r#"{"message":"An invalid response was received from the upstream server"}"#
    );
    let (s, _) = status(gw, "/s3").await;
    assert_eq!(s, 502, "another CA does not verify it");
    let (s, _) = status(gw, "/s4").await;
    assert_eq!(s, 200, "tls_verify = false: ca_certificates are not used");

    // The node trusts the private CA: a service's ca_certificates still replace that trust.
    let dir = std::env::temp_dir().join(format!("dp-tls-ca-{}.pem", std::process::id()));
    std::fs::write(&dir, private.pem()).unwrap();
    let gw = gateway_trusting(&ents, &dir.display().to_string()).await;
    std::fs::remove_file(&dir).unwrap();
    assert_eq!(status(gw, "/s2").await.0, 200, "the node's roots");
    assert_eq!(status(gw, "/s3").await.0, 502, "the service's roots only");
}

#[tokio::test]
async fn tls_verify_depth_limits_the_intermediates() {
    let root = Ca::root("Depth Root");
    let inter = root.intermediate("Depth Intermediate");
    let (cert, key) = inter.leaf(&["127.0.0.1"]);
    // The upstream sends its chain with the root too (it is left out of the count).
    let up = tls_upstream(vec![cert, inter.pem(), root.pem()], &key, None).await;
    let mut ents = vec![ca_entity(CA1, &root)];
    for (n, depth) in [(1u8, Some(0)), (2, Some(1)), (3, None), (4, Some(64))] {
        let mut extra = json!({"ca_certificates": [CA1]});
        if let Some(d) = depth {
            extra["tls_verify_depth"] = json!(d);
        }
        ents.extend(service_and_route(n, up.port(), extra));
    }
    let gw = gateway_trusting(&ents, "bundled").await;
    assert_eq!(
        status(gw, "/s1").await.0,
        502,
        "depth 0: one intermediate is too many"
    );
    assert_eq!(status(gw, "/s2").await.0, 200, "depth 1 allows one");
    assert_eq!(status(gw, "/s3").await.0, 200, "no limit set");
    assert_eq!(status(gw, "/s4").await.0, 200);

    // The node's roots (no ca_certificates): the depth applies to them as well.
    let ents: Vec<_> = [(5u8, 0u8), (6, 1)]
        .into_iter()
        .flat_map(|(n, d)| service_and_route(n, up.port(), json!({"tls_verify_depth": d})))
        .collect();
    let file = std::env::temp_dir().join(format!("dp-tls-depth-{}.pem", std::process::id()));
    std::fs::write(&file, root.pem()).unwrap();
    let gw = gateway_trusting(&ents, &file.display().to_string()).await;
    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        status(gw, "/s5").await.0,
        502,
        "depth 0 over the node's roots"
    );
    assert_eq!(
        status(gw, "/s6").await.0,
        200,
        "depth 1 over the node's roots"
    );
}

#[tokio::test]
async fn client_certificate_is_presented_to_the_upstream() {
    let server_ca = Ca::root("Server Root");
    let client_ca = Ca::root("Client Root");
    let (cert, key) = server_ca.leaf(&["127.0.0.1"]);
    let up = tls_upstream(vec![cert], &key, Some(&client_ca)).await;
    let (ccert, ckey) = client_ca.leaf(&["gateway.test"]);
    let mut ents = vec![
        ca_entity(CA1, &server_ca),
        entity(
            "certificates",
            json!({"id": CERT, "cert": ccert, "key": ckey}),
        ),
    ];
    ents.extend(service_and_route(
        1,
        up.port(),
        json!({"ca_certificates": [CA1], "client_certificate": {"id": CERT}}),
    ));
    ents.extend(service_and_route(
        2,
        up.port(),
        json!({"ca_certificates": [CA1]}),
    ));
    ents.extend(service_and_route(
        3,
        up.port(),
        json!({"tls_verify": false, "client_certificate": {"id": CERT}}),
    ));
    // The key as a vault reference, resolved from the DP's environment when compiling.
    std::env::set_var("DP_TLS_TEST_CLIENT_KEY", &ckey);
    let vaulted = "ce000000-0000-0000-0000-000000000002";
    ents.push(entity(
        "certificates",
        json!({"id": vaulted, "cert": ccert, "key": "{vault://env/dp-tls-test-client-key}"}),
    ));
    ents.extend(service_and_route(
        4,
        up.port(),
        json!({"ca_certificates": [CA1], "client_certificate": {"id": vaulted}}),
    ));
    let gw = gateway_trusting(&ents, "bundled").await;
    let (s, body) = status(gw, "/s1").await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        status(gw, "/s2").await.0,
        502,
        "no client certificate: refused"
    );
    assert_eq!(status(gw, "/s3").await.0, 200);
    assert_eq!(status(gw, "/s4").await.0, 200, "the vault-referenced key");
}

#[tokio::test]
async fn an_upstream_entitys_client_certificate_is_the_fallback() {
    let server_ca = Ca::root("Server Root");
    let client_ca = Ca::root("Client Root");
    let (cert, key) = server_ca.leaf(&["127.0.0.1"]);
    let up = tls_upstream(vec![cert], &key, Some(&client_ca)).await;
    let (ccert, ckey) = client_ca.leaf(&["gateway.test"]);
    let ents = vec![
        ca_entity(CA1, &server_ca),
        entity(
            "certificates",
            json!({"id": CERT, "cert": ccert, "key": ckey}),
        ),
        entity(
            "upstreams",
            json!({"id": "50000000-0000-0000-0000-000000000001", "name": "mtls.up",
                "client_certificate": {"id": CERT}}),
        ),
        entity(
            "targets",
            json!({"id": "60000000-0000-0000-0000-000000000001",
                "upstream": {"id": "50000000-0000-0000-0000-000000000001"},
                "target": format!("127.0.0.1:{}", up.port())}),
        ),
        entity(
            "services",
            json!({"id": "00000000-0000-0000-0000-000000000001", "protocol": "https",
                "host": "mtls.up", "port": 443, "ca_certificates": [CA1]}),
        ),
        entity(
            "routes",
            json!({"id": "10000000-0000-0000-0000-000000000001", "paths": ["/b"],
                "service": {"id": "00000000-0000-0000-0000-000000000001"}}),
        ),
    ];
    let gw = gateway_trusting(&ents, "bundled").await;
    let (s, body) = status(gw, "/b").await;
    assert_eq!(s, 200, "{body}");
}

fn compile(ents: &[proto::v1::Entity]) -> Result<data_plane::runtime::Runtime, String> {
    let cfg = proto::schema::Config::from_entities(ents).unwrap();
    data_plane::runtime::compile(&cfg, 1, "h").map_err(|e| e.to_string())
}

#[test]
fn profiles_are_compiled_once_shared_and_reused() {
    use data_plane::runtime::{compile_sources, Sources};
    let ca = Ca::root("Shared Root");
    let mut ents = vec![ca_entity(CA1, &ca)];
    ents.extend(service_and_route(
        1,
        1001,
        json!({"ca_certificates": [CA1]}),
    ));
    ents.extend(service_and_route(
        2,
        1002,
        json!({"ca_certificates": [CA1]}),
    ));
    ents.extend(service_and_route(3, 1003, json!({})));
    let cfg = proto::schema::Config::from_entities(&ents).unwrap();
    let src = Sources::from_config(cfg.clone());
    let rt = compile_sources(&src, None, 1, "h1").unwrap();
    let tls = |rt: &data_plane::runtime::Runtime, n: &str| {
        rt.routes
            .iter()
            .find(|r| r.route.paths.as_ref().unwrap()[0] == n)
            .unwrap()
            .tls
            .clone()
    };
    let (a, b) = (tls(&rt, "/s1").unwrap(), tls(&rt, "/s2").unwrap());
    assert!(Arc::ptr_eq(&a, &b), "the same settings share one profile");
    assert!(tls(&rt, "/s3").is_none(), "the node's defaults need none");
    let next = Sources::from_config(cfg);
    let rt2 = compile_sources(&next, Some((&src, &rt)), 2, "h2").unwrap();
    assert!(Arc::ptr_eq(&a, &tls(&rt2, "/s1").unwrap()), "reused");
    // A changed CA gives a new profile.
    let new_ca = ca_entity(CA1, &Ca::root("New Root"));
    let changed = next.apply(
        proto::schema::Config::from_entities(&[new_ca]).unwrap(),
        &[],
    );
    let rt3 = compile_sources(&changed, Some((&next, &rt2)), 3, "h3").unwrap();
    assert!(!Arc::ptr_eq(&a, &tls(&rt3, "/s1").unwrap()), "rebuilt");
}

#[test]
fn missing_or_bad_references_refuse_the_config() {
    let mut ents = service_and_route(1, 443, json!({"ca_certificates": [CA1]}));
    let e = compile(&ents).unwrap_err();
    assert!(
        e.contains(&format!("ca_certificate {CA1} does not exist")),
        "{e}"
    );
    ents = service_and_route(1, 443, json!({"client_certificate": {"id": CERT}}));
    let e = compile(&ents).unwrap_err();
    assert!(
        e.contains(&format!("certificate {CERT} does not exist")),
        "{e}"
    );
    // tls_verify = false: the CAs are not used, so not needed.
    ents = service_and_route(
        1,
        443,
        json!({"ca_certificates": [CA1], "tls_verify": false}),
    );
    assert!(compile(&ents).is_ok());
}
