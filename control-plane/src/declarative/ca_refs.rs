//! Services' `ca_certificates` (an array of ids, not a foreign key Kong's schema checks): every
//! id must name a CA certificate of the config, so a data plane never receives a service whose
//! trusted CAs are missing. Checked on a declarative load and an Admin API service write; an
//! Admin API delete of a CA certificate a service uses is refused (Kong's `ca_certificates`
//! DAO: "ca certificate … is still referenced by services (id = …)").

use std::collections::HashSet;

use proto::schema::{Config, FieldError};
use uuid::Uuid;

/// Each `(service id, missing ca_certificate id)` in `cfg`; only `service` when given.
pub fn missing(cfg: &Config, service: Option<Uuid>) -> Vec<(Uuid, Uuid)> {
    let known: HashSet<Uuid> = cfg.ca_certificates.iter().map(|c| c.id).collect();
    cfg.services
        .iter()
        .filter(|s| service.is_none_or(|id| s.id == id))
        .flat_map(|s| {
            s.ca_certificates
                .iter()
                .flatten()
                .filter(|ca| !known.contains(ca))
                .map(move |ca| (s.id, *ca))
        })
        .collect()
}

/// `missing` as declarative-config errors, one per service and id.
pub fn check(cfg: &Config) -> Vec<FieldError> {
    missing(cfg, None)
        .into_iter()
        .map(|(service, ca)| {
            let name = cfg
                .services
                .iter()
                .find(|s| s.id == service)
                .and_then(|s| s.name.clone())
                .unwrap_or_else(|| service.to_string());
            FieldError::new(
                format!("services.{name}.ca_certificates"),
                format!("ca certificate {ca} does not exist"),
            )
        })
        .collect()
}

/// The first service of `cfg` using the CA certificate `ca`.
pub fn user(cfg: &Config, ca: Uuid) -> Option<Uuid> {
    cfg.services
        .iter()
        .find(|s| s.ca_certificates.iter().flatten().any(|c| *c == ca))
        .map(|s| s.id)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CA: &str = "c0000000-0000-0000-0000-000000000001";
    const GHOST: &str = "c0000000-0000-0000-0000-0000000000ff";
    const PEM: &str =
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ8t0\n-----END CERTIFICATE-----\n";

    fn doc(cas: &[&str]) -> Result<Config, Vec<FieldError>> {
        let d = json!({"_format_version": "3.0",
            "ca_certificates": [{"id": CA, "cert": PEM}],
            "services": [{"name": "s", "url": "https://up.test", "ca_certificates": cas}]});
        crate::declarative::from_documents(&[("kong.yaml".into(), d)], None)
    }

    #[test]
    fn a_service_naming_a_missing_ca_certificate_is_refused() {
        let cfg = doc(&[CA]).unwrap();
        assert!(missing(&cfg, None).is_empty());
        assert_eq!(
            user(&cfg, Uuid::parse_str(CA).unwrap()),
            Some(cfg.services[0].id)
        );
        let errs = doc(&[CA, GHOST]).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].path, "services.s.ca_certificates");
        assert_eq!(
            errs[0].message,
            format!("ca certificate {GHOST} does not exist")
        );
    }
}
