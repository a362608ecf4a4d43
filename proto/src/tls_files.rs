//! Cluster TLS flags → the files both planes load for the mTLS link between them: their own
//! certificate chain and key (`--cluster-cert` and `--cluster-cert-key`, both or neither) and,
//! in `pki` mode, the CA certificates they trust (`--cluster-ca-cert`). Loaded once here for
//! the CP's listener and the DP's connector; the rustls config each builds stays with it.

use std::path::Path;

use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::cert::{self, CertError};

#[derive(Debug, thiserror::Error)]
pub enum TlsFilesError {
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("--cluster-cert and --cluster-cert-key go together")]
    Half,
    #[error("--cluster-mtls pki needs --cluster-ca-cert")]
    NoCa,
}

/// A plane's own certificate chain (at least one) and private key.
#[derive(Debug)]
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// What to warn about at start: the certificate's coming or past expiry.
    pub expiry_warning: Option<String>,
}

impl Identity {
    /// The certificate this plane presents (the first of its chain).
    pub fn cert(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }
}

/// The identity in `cert` and `key`; `None` (plaintext) when neither is set.
pub fn identity(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<Option<Identity>, TlsFilesError> {
    let (cert, key) = match (cert, key) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        _ => return Err(TlsFilesError::Half),
    };
    let chain = cert::read_certs(cert)?;
    let expiry_warning = cert::expiry_warning_now(cert, &chain[0]);
    Ok(Some(Identity {
        chain,
        key: cert::read_key(key)?,
        expiry_warning,
    }))
}

/// The CA certificates of `pki` mode, which require the file.
pub fn ca_certs(ca: Option<&Path>) -> Result<Vec<CertificateDer<'static>>, TlsFilesError> {
    Ok(cert::read_certs(ca.ok_or(TlsFilesError::NoCa)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_files_or_neither_and_pki_needs_a_ca() {
        assert!(identity(None, None).unwrap().is_none());
        let some = Some(Path::new("/nonexistent.crt"));
        assert!(matches!(identity(some, None), Err(TlsFilesError::Half)));
        assert!(matches!(identity(None, some), Err(TlsFilesError::Half)));
        let err = identity(some, some).unwrap_err().to_string();
        assert!(err.contains("cannot read /nonexistent.crt"), "{err}");
        assert!(matches!(ca_certs(None), Err(TlsFilesError::NoCa)));
        let err = ca_certs(some).unwrap_err().to_string();
        assert!(err.contains("/nonexistent.crt"), "{err}");
    }
}
