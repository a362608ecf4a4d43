//! TLS to upstreams (rustls, ring): the connectors the upstream client uses — HTTP/1.1 for
//! `https` services, HTTP/2 (ALPN `h2`, or h2c prior knowledge for `grpc`) for `grpc`/`grpcs`
//! — each verifying the upstream's certificate against the trusted roots (Kong's
//! `lua_ssl_trusted_certificate`: the system store, the bundled webpki roots and/or PEM
//! files), or, for a service with `tls_verify = false`, not verifying it (what Kong does by
//! default). A service's own settings (`ca_certificates`, `client_certificate`,
//! `tls_verify_depth`) get connectors of their own (`profile`), built here too.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, RootCertStore};

use super::ForwardError;

/// Which connector: the HTTP version spoken and whether the certificate is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Kind {
    pub h2: bool,
    pub verify: bool,
}

impl Kind {
    pub(super) const ALL: [Kind; 4] = [
        Kind {
            h2: false,
            verify: true,
        },
        Kind {
            h2: false,
            verify: false,
        },
        Kind {
            h2: true,
            verify: true,
        },
        Kind {
            h2: true,
            verify: false,
        },
    ];

    pub(super) fn index(self) -> usize {
        usize::from(self.h2) * 2 + usize::from(!self.verify)
    }
}

/// Where distributions keep the system's CA bundle (Debian/Ubuntu, RHEL/Fedora, openSUSE,
/// Alpine/macOS).
const SYSTEM_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The roots named by Kong's `lua_ssl_trusted_certificate`: a comma-separated list of
/// `system` (the system's CA bundle; the bundled webpki roots where there is none), `bundled`
/// (the webpki roots built in) and paths to PEM files of CA certificates.
pub fn trusted_roots(spec: &str) -> Result<RootCertStore, ForwardError> {
    let mut roots = RootCertStore::empty();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item {
            "system" => match SYSTEM_BUNDLES.iter().find(|p| Path::new(p).is_file()) {
                Some(p) => add_pem(&mut roots, p)?,
                None => {
                    tracing::info!("no system CA bundle found: trusting the bundled roots");
                    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                }
            },
            "bundled" => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            path => add_pem(&mut roots, path)?,
        }
    }
    if roots.is_empty() {
        return Err(ForwardError::Tls(format!(
            "lua_ssl_trusted_certificate '{spec}' names no CA certificate"
        )));
    }
    Ok(roots)
}

fn add_pem(roots: &mut RootCertStore, path: &str) -> Result<(), ForwardError> {
    let bad = |why: String| ForwardError::Tls(format!("trusted certificate file {path}: {why}"));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate in it".into()));
    }
    // A system bundle may hold a certificate rustls cannot use; the others still count.
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(bad("none of its certificates is a usable CA".into()));
    }
    Ok(())
}

/// The connector for `kind`, verifying against `roots`; `http` URIs pass through it in plain
/// TCP.
pub(super) fn connector(
    kind: Kind,
    roots: &Arc<RootCertStore>,
) -> Result<HttpsConnector<HttpConnector>, ForwardError> {
    let verifier = if kind.verify {
        super::depth::verifier(roots.clone(), None)?
    } else {
        unverified()
    };
    custom_connector(kind.h2, verifier, None)
}

/// The verifier for `tls_verify = false`.
pub(super) fn unverified() -> Arc<dyn ServerCertVerifier> {
    Arc::new(Unverified {
        algs: ring::default_provider().signature_verification_algorithms,
    })
}

/// A connector speaking HTTP/2 (`h2`) or HTTP/1.1, checking the upstream's certificate with
/// `verifier` and presenting `client` (certificate chain, key) when set.
pub(super) fn custom_connector(
    h2: bool,
    verifier: Arc<dyn ServerCertVerifier>,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<HttpsConnector<HttpConnector>, ForwardError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(60)));
    http.set_nodelay(true);
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ForwardError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| ForwardError::Tls(format!("client_certificate: {e}")))?,
    };
    let b = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http();
    Ok(if h2 {
        b.enable_http2().wrap_connector(http)
    } else {
        b.enable_http1().wrap_connector(http)
    })
}

/// `tls_verify = false`: any certificate is taken; the handshake signatures are still checked.
#[derive(Debug)]
struct Unverified {
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    proto::signature_checks!(algs: algs);
}
