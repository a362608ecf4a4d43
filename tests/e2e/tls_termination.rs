//! Client TLS with the real binaries: a DP listening with `--proxy-listen "…, … ssl http2"`,
//! a decK file with `certificates` + `snis` and https-only routes applied with
//! `control-plane apply`, and curl (`--resolve`, `--cacert`) as the client: the certificate
//! per SNI (verified against the CA that signed it), a route with `snis` matched only with its
//! SNI, h2 by ALPN, `X-Forwarded-Proto: https`, Kong's 426 and redirect over plaintext, a new
//! certificate served after the next `apply` without a restart, the SIGTERM drain closing the
//! `ssl` listener too, and a bad `--ssl-cert` or an unknown listen flag refused at start,
//! naming it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use e2e::cluster::{self, spawn_cp, spawn_dp_with};
use e2e::http::HttpClient;
use e2e::tempdir::TempDir;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{json, Value};

use crate::fixture::SYNC_TIMEOUT;

/// Answers `{"path","headers"}`.
async fn upstream() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(async move {
                let svc = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let headers: serde_json::Map<String, Value> = req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
                        .collect();
                    let out = json!({"path": req.uri().path(), "headers": headers});
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(
                        out.to_string(),
                    ))))
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    addr
}

/// A CA and the PEM certificates it signs.
struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    /// (cert PEM, key PEM) for `name`.
    fn sign(&self, name: &str) -> (String, String) {
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn indent(pem: &str) -> String {
    pem.lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The decK file: https-only routes (one with `snis: [a.test]`), one redirecting, and the
/// certificates for `a.test` and `*.wild.test`.
fn kong_yaml(up: SocketAddr, a: &(String, String), wild: &(String, String)) -> String {
    format!(
        r#"_format_version: "3.0"
services:
  - name: echo
    url: http://{up}
    routes:
      - name: a-only
        paths: [/a]
        protocols: [https]
        snis: [a.test]
      - name: secure
        paths: [/secure]
        protocols: [https]
      - name: moved
        paths: [/moved]
        protocols: [https]
        https_redirect_status_code: 301
certificates:
  - id: 6a3c2a52-6b48-4c55-9f0e-6f0a3c8b0a01
    cert: |
{}
    key: |
{}
    snis:
      - name: a.test
  - id: 6a3c2a52-6b48-4c55-9f0e-6f0a3c8b0a02
    cert: |
{}
    key: |
{}
    snis:
      - name: "*.wild.test"
"#,
        indent(&a.0),
        indent(&a.1),
        indent(&wild.0),
        indent(&wild.1)
    )
}

struct Curl {
    code: Option<i32>,
    /// `%{http_code} %{http_version}` then the body.
    out: String,
    err: String,
}

/// curl to `https://{name}:{port}{path}` resolved to 127.0.0.1, trusting `cacert`
/// (`None`: `-k`).
async fn curl_tls(
    name: &str,
    tls: SocketAddr,
    path: &str,
    cacert: Option<&std::path::Path>,
    extra: &[&str],
) -> Curl {
    let port = tls.port();
    let mut cmd = tokio::process::Command::new("curl");
    cmd.args([
        "-sS",
        "--max-time",
        "10",
        "-w",
        "\n%{http_code} %{http_version}",
    ])
    .arg("--resolve")
    .arg(format!("{name}:{port}:127.0.0.1"))
    .args(extra);
    match cacert {
        Some(ca) => cmd.arg("--cacert").arg(ca),
        None => cmd.arg("-k"),
    };
    let out = cmd
        .arg(format!("https://{name}:{port}{path}"))
        .output()
        .await
        .unwrap();
    Curl {
        code: out.status.code(),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Curl {
    /// (status, http version, body) of a completed call.
    fn reply(&self) -> (String, String, String) {
        assert_eq!(self.code, Some(0), "curl failed: {} {}", self.out, self.err);
        let (body, last) = self.out.rsplit_once('\n').unwrap();
        let (status, version) = last.split_once(' ').unwrap();
        (status.into(), version.into(), body.into())
    }
}

fn upstream_header(body: &str, name: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    v["headers"][name].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_and_snis_from_a_deck_file_terminate_client_tls() {
    let dir = TempDir::new("tls-termination").unwrap();
    let up = upstream().await;
    let cp = spawn_cp(&dir).await.unwrap();
    let tls: SocketAddr = format!("127.0.0.1:{}", e2e::ports::free_port().unwrap())
        .parse()
        .unwrap();
    let listen = format!("127.0.0.1:0, {tls} ssl http2");
    let mut dp = spawn_dp_with(&dir, "dp", cp.cluster, &["--proxy-listen", &listen])
        .await
        .unwrap();
    assert!(
        dp.process
            .log_text()
            .contains(&format!("proxy listening on {tls} ssl")),
        "{}",
        dp.process.log_text()
    );

    let ca = Ca::new("test CA one");
    let ca_pem = dir.write("ca1.pem", &ca.cert.pem()).unwrap();
    let (a, wild) = (ca.sign("a.test"), ca.sign("*.wild.test"));
    let file = dir.write("kong.yaml", &kong_yaml(up, &a, &wild)).unwrap();
    let out = cluster::apply(&cp.admin_url(), &[&file], &[])
        .await
        .unwrap();
    assert!(out.success, "{}", out.describe());

    // Once the config is in: a.test is served its certificate (verified against the CA).
    let what = "the DP to serve https://a.test/a with its certificate";
    let body = e2e::wait::until(what, SYNC_TIMEOUT, async || {
        let r = curl_tls("a.test", tls, "/a", Some(&ca_pem), &["--http1.1"]).await;
        anyhow::ensure!(r.code == Some(0), "{} {}", r.out, r.err);
        let (status, version, body) = r.reply();
        anyhow::ensure!(status == "200", "{status} {body}");
        assert_eq!(version, "1.1");
        Ok(Some(body))
    })
    .await
    .unwrap();
    assert_eq!(upstream_header(&body, "x-forwarded-proto"), "https");

    // h2 by ALPN.
    let r = curl_tls("a.test", tls, "/secure", Some(&ca_pem), &["--http2"]).await;
    let (status, version, body) = r.reply();
    assert_eq!((status.as_str(), version.as_str()), ("200", "2"), "{body}");

    // The wildcard certificate; its SNI does not match the route with snis [a.test].
    let r = curl_tls("x.wild.test", tls, "/a", Some(&ca_pem), &[]).await;
    let (status, _, body) = r.reply();
    assert_eq!(status, "404", "{body}");
    assert!(
        body.contains("no Route matched with those values"),
        "{body}"
    );
    let r = curl_tls("x.wild.test", tls, "/secure", Some(&ca_pem), &[]).await;
    assert_eq!(r.reply().0, "200");

    // An SNI with no certificate gets the DP's generated default one, which the CA did not sign.
    let r = curl_tls("other.test", tls, "/secure", Some(&ca_pem), &[]).await;
    assert_eq!(
        r.code,
        Some(60),
        "certificate not trusted: {} {}",
        r.out,
        r.err
    );
    let r = curl_tls("other.test", tls, "/secure", None, &["-v"]).await;
    assert_eq!(r.reply().0, "200");
    assert!(r.err.contains("CN=localhost"), "{}", r.err);

    // Plaintext: https-only routes answer as Kong does.
    let client = HttpClient::new();
    let r = client.get(&dp.proxy_url("/secure")).await.unwrap();
    assert_eq!(r.status.as_u16(), 426, "{}", r.text());
    assert_eq!(r.text(), r#"{"message":"Please use HTTPS protocol"}"#);
    let r = client.get(&dp.proxy_url("/a")).await.unwrap();
    assert_eq!(r.status.as_u16(), 426, "{}", r.text());
    let r = client.get(&dp.proxy_url("/moved/x?q=1")).await.unwrap();
    assert_eq!(r.status.as_u16(), 301, "{}", r.text());
    assert_eq!(r.header("location"), Some("https://127.0.0.1/moved/x?q=1"));

    // A new certificate for a.test (another CA) is served after the next apply, no restart.
    let ca2 = Ca::new("test CA two");
    let ca2_pem = dir.write("ca2.pem", &ca2.cert.pem()).unwrap();
    let file = dir
        .write("kong.yaml", &kong_yaml(up, &ca2.sign("a.test"), &wild))
        .unwrap();
    let out = cluster::apply(&cp.admin_url(), &[&file], &[])
        .await
        .unwrap();
    assert!(out.success, "{}", out.describe());
    let what = "the DP to serve the new a.test certificate";
    e2e::wait::until(what, SYNC_TIMEOUT, async || {
        let r = curl_tls("a.test", tls, "/a", Some(&ca2_pem), &[]).await;
        anyhow::ensure!(r.code == Some(0), "{} {}", r.out, r.err);
        Ok(Some(()))
    })
    .await
    .unwrap();
    let r = curl_tls("a.test", tls, "/a", Some(&ca_pem), &[]).await;
    assert_eq!(r.code, Some(60), "the old CA no longer verifies: {}", r.err);

    // SIGTERM: the drain closes the ssl listener too, and the process exits 0.
    dp.process.terminate().unwrap();
    let status = dp.process.wait_exit(Duration::from_secs(30)).await.unwrap();
    assert!(status.success(), "{status}: {}", dp.process.log_text());
    assert!(
        tokio::net::TcpStream::connect(tls).await.is_err(),
        "nothing listens on {tls} after the drain"
    );
}

/// Runs `data-plane` with `args` (it must exit at once) and returns its stderr.
async fn refused(args: &[&str]) -> String {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(e2e::binaries::binary("data-plane").unwrap())
            .args(["--control-plane", "127.0.0.1:9"])
            .args(["--status-listen", "127.0.0.1:0"])
            .args(args)
            .output(),
    )
    .await
    .expect("the data plane exits at once")
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{stderr}");
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_ssl_cert_or_listen_flag_is_refused_at_start() {
    let dir = TempDir::new("tls-refused").unwrap();
    let missing = dir.join("no-such-cert.pem");
    let missing = missing.to_str().unwrap();
    let stderr = refused(&[
        "--proxy-listen",
        "127.0.0.1:0 ssl",
        "--ssl-cert",
        missing,
        "--ssl-cert-key",
        missing,
    ])
    .await;
    assert!(stderr.contains(missing), "names the file: {stderr}");
    let stderr = refused(&["--proxy-listen", "127.0.0.1:0, 127.0.0.1:0 ssl quic"]).await;
    assert!(stderr.contains("unknown flag 'quic'"), "{stderr}");
}
