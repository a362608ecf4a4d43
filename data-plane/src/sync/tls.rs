//! Sync client → mutual TLS: with `--cluster-cert` the DP dials its control plane over TLS,
//! presents its certificate, and trusts only its own certificate (`shared` mode, as Kong) or a
//! certificate for `--cluster-server-name` signed by `--cluster-ca-cert` (`pki` mode).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::rt::TokioIo;
use proto::tls_files::{self, TlsFilesError};
use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tonic::codegen::Service;

use crate::settings::{MtlsMode, Settings};

/// The SNI Kong's DPs send in `shared` mode.
pub const SHARED_SERVER_NAME: &str = "kong_clustering";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Files(#[from] TlsFilesError),
    #[error("'{0}' is not a valid TLS server name")]
    ServerName(String),
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("TLS server verifier: {0}")]
    Verifier(#[from] rustls::client::VerifierBuilderError),
}

/// A connector for tonic that speaks TLS; `None` (plaintext) when no certificate is set.
pub fn connector(settings: &Settings) -> Result<Option<TlsConnector>, TlsError> {
    let Some(me) = tls_files::identity(
        settings.cluster_cert.as_deref(),
        settings.cluster_cert_key.as_deref(),
    )?
    else {
        return Ok(None);
    };
    if let Some(w) = &me.expiry_warning {
        tracing::warn!("{w}");
    }
    let provider = Arc::new(ring::default_provider());
    let (verifier, name): (Arc<dyn ServerCertVerifier>, Option<String>) = match settings
        .cluster_mtls
    {
        MtlsMode::Shared => (
            Arc::new(SameCert {
                cert: me.cert().clone(),
                algs: provider.signature_verification_algorithms,
            }),
            Some(SHARED_SERVER_NAME.to_string()),
        ),
        MtlsMode::Pki => {
            let mut roots = RootCertStore::empty();
            for c in tls_files::ca_certs(settings.cluster_ca_cert.as_deref())? {
                roots.add(c)?;
            }
            let v = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()?;
            // Without --cluster-server-name each control plane is checked against its own host.
            (v, settings.cluster_server_name.clone())
        }
    };
    let server_name = name
        .map(|n| ServerName::try_from(n.clone()).map_err(|_| TlsError::ServerName(n)))
        .transpose()?;
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(me.chain, me.key)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Some(TlsConnector {
        tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
        server_name,
    }))
}

/// The TLS server name for a control plane at `authority` (`host:port`, `[v6]:port`).
fn server_name_of(authority: &str) -> Result<ServerName<'static>, std::io::Error> {
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    }
    .trim_matches(['[', ']'])
    .to_string();
    ServerName::try_from(host.clone()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("'{host}' is not a valid TLS server name"),
        )
    })
}

/// `shared` mode: the control plane must present exactly this DP's own certificate.
#[derive(Debug)]
struct SameCert {
    cert: CertificateDer<'static>,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for SameCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "control plane certificate does not match --cluster-cert (shared mode)".into(),
            ))
        }
    }

    proto::signature_checks!(algs: algs);
}

/// Dials the URI's host and port over TCP, then TLS; what tonic's channel runs HTTP/2 on.
#[derive(Clone)]
pub struct TlsConnector {
    tls: tokio_rustls::TlsConnector,
    /// Fixed name (`shared` mode, `--cluster-server-name`); else the dialled host.
    server_name: Option<ServerName<'static>>,
}

type Connecting =
    Pin<Box<dyn Future<Output = Result<TokioIo<TlsStream<TcpStream>>, std::io::Error>> + Send>>;

impl Service<Uri> for TlsConnector {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = std::io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let (tls, name) = (self.tls.clone(), self.server_name.clone());
        Box::pin(async move {
            let authority = uri.authority().map(ToString::to_string).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "no host in URI")
            })?;
            let name = match name {
                Some(n) => n,
                None => server_name_of(&authority)?,
            };
            let tcp = TcpStream::connect(authority).await?;
            tcp.set_nodelay(true)?;
            Ok(TokioIo::new(tls.connect(name, tcp).await?))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_name_is_the_dialled_host() {
        let name = |a: &str| server_name_of(a).unwrap().to_str().to_string();
        assert_eq!(name("cp.example.com:8005"), "cp.example.com");
        assert_eq!(name("127.0.0.1:8005"), "127.0.0.1");
        assert_eq!(name("[::1]:8005"), "::1");
        assert!(server_name_of("bad name:1").is_err());
    }
}
