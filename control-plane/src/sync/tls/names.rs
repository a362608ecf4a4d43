//! Cluster TLS, `pki` mode → who may connect: a client verifier that accepts a data plane's
//! certificate only when the CA signed it (the inner verifier) and its subject common name is
//! one of `--cluster-allowed-common-names` (Kong's `cluster_allowed_common_names`).

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::DistinguishedName;

#[derive(Debug)]
pub struct AllowedNames {
    inner: Arc<dyn ClientCertVerifier>,
    names: Vec<String>,
}

impl AllowedNames {
    pub fn new(inner: Arc<dyn ClientCertVerifier>, names: &[String]) -> Self {
        Self {
            inner,
            names: names.to_vec(),
        }
    }

    /// `Ok` when `cert`'s common name is allowed; else the reason, naming the CN.
    fn check(&self, cert: &CertificateDer<'_>) -> Result<(), String> {
        let info = proto::cert::inspect(cert).map_err(|e| e.to_string())?;
        match info.common_name {
            Some(cn) if self.names.contains(&cn) => Ok(()),
            Some(cn) => Err(format!(
                "data plane certificate common name '{cn}' is not in --cluster-allowed-common-names ({})",
                self.names.join(",")
            )),
            None => Err("data plane certificate has no common name".into()),
        }
    }
}

impl ClientCertVerifier for AllowedNames {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        self.check(end_entity).map_err(rustls::Error::General)?;
        Ok(verified)
    }

    proto::signature_checks!(inner: inner);
}
