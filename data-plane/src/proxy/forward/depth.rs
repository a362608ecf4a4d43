//! The upstream certificate verifier of a service's TLS profile: webpki against the given
//! roots and, for `tls_verify_depth`, a limit on the chain (nginx's `proxy_ssl_verify_depth`,
//! OpenSSL's verify depth: at most that many intermediate CA certificates between the
//! upstream's certificate and the trust anchor).
//!
//! rustls does not tell which certificates the path it verified went through, so the limit is
//! checked on what the upstream presents: every intermediate it sends counts, except one that
//! is itself a trusted root (the path ends there). A verified path can only use presented
//! certificates, so this count is never lower than the path's: the limit is never looser than
//! OpenSSL's, and stricter only for an upstream sending certificates its chain does not use.

use std::sync::Arc;

use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::ring;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};

use super::ForwardError;

/// The verifier for `roots`, limited to `depth` intermediates when set.
pub(super) fn verifier(
    roots: Arc<RootCertStore>,
    depth: Option<u8>,
) -> Result<Arc<dyn ServerCertVerifier>, ForwardError> {
    let inner = WebPkiServerVerifier::builder_with_provider(
        roots.clone(),
        Arc::new(ring::default_provider()),
    )
    .build()
    .map_err(|e| ForwardError::Tls(format!("upstream certificate verifier: {e}")))?;
    Ok(match depth {
        None => inner,
        Some(depth) => Arc::new(DepthLimited {
            inner,
            roots,
            depth: usize::from(depth),
        }),
    })
}

/// webpki verification, then the depth limit.
#[derive(Debug)]
struct DepthLimited {
    inner: Arc<WebPkiServerVerifier>,
    roots: Arc<RootCertStore>,
    depth: usize,
}

impl DepthLimited {
    /// Whether `cert` is one of the trusted roots (same subject and public key).
    fn is_root(&self, cert: &CertificateDer<'_>) -> bool {
        let mut one = RootCertStore::empty();
        if one.add(cert.clone().into_owned()).is_err() {
            return false;
        }
        one.roots.first().is_some_and(|a| {
            self.roots.roots.iter().any(|r| {
                r.subject == a.subject && r.subject_public_key_info == a.subject_public_key_info
            })
        })
    }
}

impl ServerCertVerifier for DepthLimited {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ok =
            self.inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)?;
        let used = intermediates.iter().filter(|c| !self.is_root(c)).count();
        if used > self.depth {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                rustls::OtherError(Arc::new(DepthExceeded {
                    used,
                    depth: self.depth,
                })),
            )));
        }
        Ok(ok)
    }

    proto::signature_checks!(inner: inner);
}

#[derive(Debug, thiserror::Error)]
#[error(
    "certificate chain has {used} intermediate CA certificates; tls_verify_depth allows {depth}"
)]
struct DepthExceeded {
    used: usize,
    depth: usize,
}
