//! Cluster TLS, `pki` mode → who may connect: a data plane's certificate, once the CA's
//! signature on it is checked, is accepted only when its subject common name is one of
//! `--cluster-allowed-common-names` (Kong's `cluster_allowed_common_names`). Applied by the
//! verifier in `presented`.

use rustls::pki_types::CertificateDer;

#[derive(Debug)]
pub struct AllowedNames {
    names: Vec<String>,
}

impl AllowedNames {
    /// `None` when no names are set: any certificate the CA signed is accepted.
    pub fn new(names: &[String]) -> Option<Self> {
        (!names.is_empty()).then(|| Self {
            names: names.to_vec(),
        })
    }

    /// `Ok` when `cert`'s common name is allowed; else the reason, naming the CN.
    pub fn check(&self, cert: &CertificateDer<'_>) -> Result<(), String> {
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
