//! Cluster TLS handshake → who tried: the client verifier around the mode's own (`shared` or
//! `pki`), which notes the subject of the certificate a data plane presents, so that a refused
//! handshake is logged with it next to the peer's address (a DP that itself refuses the CP's
//! certificate presents none), and applies `--cluster-allowed-common-names`.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::DistinguishedName;

use super::names::AllowedNames;

tokio::task_local! {
    static PRESENTED: RefCell<Option<String>>;
}

/// Runs the handshake `f`, returning with its output the subject of the certificate the peer
/// presented during it, if any.
pub async fn noting<F: Future>(f: F) -> (F::Output, Option<String>) {
    PRESENTED
        .scope(RefCell::new(None), async move {
            let out = f.await;
            let subject = PRESENTED.try_with(|p| p.borrow_mut().take()).ok().flatten();
            (out, subject)
        })
        .await
}

/// `cert`'s subject as the log shows it.
fn subject(cert: &CertificateDer<'_>) -> String {
    match proto::cert::inspect(cert) {
        Ok(info) => match info.common_name {
            Some(cn) => format!("CN={cn}"),
            None => "without a common name".into(),
        },
        Err(e) => format!("unreadable: {e}"),
    }
}

/// Notes the presented certificate's subject, then lets `inner` decide, then `names`.
#[derive(Debug)]
pub struct Presented {
    inner: Arc<dyn ClientCertVerifier>,
    names: Option<AllowedNames>,
}

impl Presented {
    pub fn new(inner: Arc<dyn ClientCertVerifier>, names: Option<AllowedNames>) -> Self {
        Self { inner, names }
    }
}

impl ClientCertVerifier for Presented {
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
        let _ = PRESENTED.try_with(|p| *p.borrow_mut() = Some(subject(end_entity)));
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if let Some(names) = &self.names {
            names.check(end_entity).map_err(rustls::Error::General)?;
        }
        Ok(verified)
    }

    proto::signature_checks!(inner: inner);
}
