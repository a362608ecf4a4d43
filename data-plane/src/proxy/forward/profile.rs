//! A service's own upstream TLS settings (Kong's `ca_certificates`, `client_certificate`,
//! `tls_verify_depth`), compiled with the config by `runtime::compile` — PEMs parsed, root
//! store and verifier built — and shared by every route of every service with the same
//! settings; `forward::for_service` marks a request with it and `Upstream` sends the request
//! through the profile's own keep-alive pools.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;

use super::depth::verifier;
use super::tls::{self, Kind};
use super::ForwardError;

/// What tells two profiles apart: the settings and the very PEMs they were built from (a
/// changed CA or certificate gives a new profile).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlsSpec {
    /// `tls_verify` is not `false`.
    pub verify: bool,
    /// `tls_verify_depth` (only when verifying).
    pub depth: Option<u8>,
    /// The PEMs of the `ca_certificates`, in the service's order (only when verifying and
    /// non-empty): they replace the trusted roots for this service.
    pub cas: Option<Vec<String>>,
    /// The `client_certificate`'s certificate and key PEMs.
    pub client: Option<(String, String)>,
}

impl TlsSpec {
    /// Whether these settings differ from the node-wide default (verify against the trusted
    /// roots, no client certificate), i.e. need a profile of their own.
    pub fn is_custom(&self) -> bool {
        self.client.is_some() || (self.verify && (self.depth.is_some() || self.cas.is_some()))
    }
}

/// The connectors for HTTP/1.1 and HTTP/2, by `Kind::index` of a verifying kind.
type Connectors = [HttpsConnector<HttpConnector>; 2];

/// One compiled set of TLS settings.
pub struct TlsProfile {
    spec: TlsSpec,
    /// The verifier, when the profile brings its own roots (`ca_certificates`) or verifies
    /// nothing (`tls_verify = false`); `None`: the trusted roots of the `Upstream` sending.
    verifier: Option<Arc<dyn ServerCertVerifier>>,
    /// The client certificate chain and key presented to the upstream.
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    /// Built now when the profile has its own verifier; otherwise on the first request, from
    /// the sending `Upstream`'s roots (parsing and checking were done at compile time).
    connectors: OnceLock<Connectors>,
    /// Identifies this profile's per-thread pools.
    pub(super) token: Arc<()>,
}

impl std::fmt::Debug for TlsProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsProfile")
            .field("verify", &self.spec.verify)
            .field("depth", &self.spec.depth)
            .field("cas", &self.spec.cas.as_ref().map(Vec::len))
            .field("client", &self.spec.client.is_some())
            .finish()
    }
}

impl TlsProfile {
    /// Parses and checks `spec`'s PEMs and builds what does not depend on the sending node.
    pub fn build(spec: TlsSpec) -> Result<Self, ForwardError> {
        let client = match &spec.client {
            None => None,
            Some((cert, key)) => Some(client_identity(cert, key)?),
        };
        let verifier = if !spec.verify {
            Some(tls::unverified())
        } else if let Some(cas) = &spec.cas {
            let mut roots = RootCertStore::empty();
            for (i, pem) in cas.iter().enumerate() {
                let bad = |why: String| ForwardError::Tls(format!("ca_certificates[{i}]: {why}"));
                let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| bad(e.to_string()))?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(bad("no usable CA certificate in its PEM".into()));
                }
            }
            Some(verifier(Arc::new(roots), spec.depth)?)
        } else {
            None
        };
        let profile = TlsProfile {
            spec,
            verifier,
            client,
            connectors: OnceLock::new(),
            token: Arc::new(()),
        };
        if let Some(v) = &profile.verifier {
            let c = profile.make_connectors(v.clone())?;
            let _ = profile.connectors.set(c);
        }
        Ok(profile)
    }

    /// The connector for HTTP/2 (`h2`) or HTTP/1.1; `roots` are the sending node's trusted
    /// roots, used when the profile brings none.
    pub(super) fn connector(
        &self,
        h2: bool,
        roots: &Arc<RootCertStore>,
    ) -> Result<HttpsConnector<HttpConnector>, ForwardError> {
        let i = Kind { h2, verify: true }.index() / 2;
        if let Some(c) = self.connectors.get() {
            return Ok(c[i].clone());
        }
        let v = verifier(roots.clone(), self.spec.depth)?;
        let c = self.make_connectors(v)?;
        Ok(self.connectors.get_or_init(|| c)[i].clone())
    }

    fn make_connectors(&self, v: Arc<dyn ServerCertVerifier>) -> Result<Connectors, ForwardError> {
        let client = self
            .client
            .as_ref()
            .map(|(chain, key)| (chain.clone(), key.clone_key()));
        let client2 = client
            .as_ref()
            .map(|(chain, key)| (chain.clone(), key.clone_key()));
        let h1 = tls::custom_connector(false, v.clone(), client)?;
        let h2 = tls::custom_connector(true, v, client2)?;
        Ok([h1, h2])
    }
}

fn client_identity(
    cert: &str,
    key: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), ForwardError> {
    let bad = |why: String| ForwardError::Tls(format!("client_certificate: {why}"));
    let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("cert: {e}")))?;
    if chain.is_empty() {
        return Err(bad("cert holds no PEM certificate".into()));
    }
    let key =
        PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| bad(format!("key: {e}")))?;
    Ok((chain, key))
}

/// The profiles of one compiled config, by spec; the next compile reuses those whose spec is
/// unchanged (with their connection pools).
pub type TlsProfiles = HashMap<TlsSpec, Arc<TlsProfile>>;
