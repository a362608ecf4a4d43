//! Client TLS on the `ssl` proxy listeners (built once at start, used by `serve` on every
//! handshake): a rustls server config offering h2 and http/1.1 by ALPN, whose certificate
//! resolver reads the certificates of the runtime serving at that moment (so a new config's
//! certificates apply to the next handshake, no restart) and falls back to the node's default
//! certificate: `--ssl-cert`/`--ssl-cert-key`, or one generated at start as Kong does.

use std::sync::Arc;

use rustls::crypto::ring;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use crate::runtime::server_tls::CertPair;
use crate::State;

/// Why the `ssl` listeners cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServerTlsSetupError {
    #[error("cannot read {what} '{path}': {source}")]
    Read {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("--ssl-cert/--ssl-cert-key: {0}")]
    Default(String),
    #[error("cannot generate the default certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS settings: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The node's default certificate: from `cert`/`key` (a PEM file path or PEM text each), or
/// self-signed for `localhost` when they are not given.
pub fn default_cert(
    cert: Option<&str>,
    key: Option<&str>,
) -> Result<CertPair, ServerTlsSetupError> {
    match (cert, key) {
        (Some(cert), Some(key)) => {
            let cert = pem_text("ssl_cert", cert)?;
            let key = pem_text("ssl_cert_key", key)?;
            CertPair::from_pem(&cert, &key).map_err(ServerTlsSetupError::Default)
        }
        _ => self_signed(),
    }
}

/// A self-signed certificate for `localhost` (Kong generates one at start too).
pub fn self_signed() -> Result<CertPair, ServerTlsSetupError> {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    CertPair::from_pem(&cert.pem(), &key.serialize_pem()).map_err(ServerTlsSetupError::Default)
}

/// PEM text as given, else the content of the file it names.
fn pem_text(what: &'static str, value: &str) -> Result<String, ServerTlsSetupError> {
    if value.trim_start().starts_with("-----BEGIN") {
        return Ok(value.to_string());
    }
    std::fs::read_to_string(value).map_err(|source| ServerTlsSetupError::Read {
        what,
        path: value.to_string(),
        source,
    })
}

/// Picks the certificate per handshake: the current runtime's for the client's SNI, else the
/// default.
struct Resolver {
    state: Arc<State>,
    default: CertPair,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let rt = self.state.runtime.load();
        let pair = hello
            .server_name()
            .and_then(|name| rt.server_certs.find(name))
            .unwrap_or(&self.default);
        Some(pair.choose(hello.signature_schemes()))
    }
}

/// The rustls config of the `ssl` listeners: TLS 1.2 and 1.3, ALPN h2 then http/1.1.
pub fn server_config(
    state: Arc<State>,
    default: CertPair,
) -> Result<Arc<ServerConfig>, ServerTlsSetupError> {
    let mut cfg = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Resolver { state, default }));
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_certificate_is_generated_or_read() {
        let generated = self_signed().unwrap();
        assert!(generated.leaf().is_some());
        let dir = std::env::temp_dir().join(format!("dp-ssl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["gw.test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (cp, kp) = (dir.join("c.pem"), dir.join("k.pem"));
        std::fs::write(&cp, cert.pem()).unwrap();
        std::fs::write(&kp, key.serialize_pem()).unwrap();
        let read = default_cert(cp.to_str(), kp.to_str()).unwrap();
        assert_eq!(read.leaf().unwrap().as_ref(), cert.der().as_ref());
        let inline = default_cert(Some(&cert.pem()), Some(&key.serialize_pem())).unwrap();
        assert_eq!(inline.leaf().unwrap().as_ref(), cert.der().as_ref());
        let err = default_cert(Some("/nonexistent/c.pem"), kp.to_str())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot read ssl_cert '/nonexistent/c.pem'"),
            "{err}"
        );
        let other = rcgen::KeyPair::generate().unwrap();
        let err = default_cert(Some(&cert.pem()), Some(&other.serialize_pem()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not match"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
