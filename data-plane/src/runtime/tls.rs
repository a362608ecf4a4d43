//! Compile step for the upstream TLS of services (Kong's `ca_certificates`,
//! `client_certificate`, `tls_verify_depth`, and the upstream entity's `client_certificate` as
//! the fallback Kong uses): each service's settings resolved against the config's certificates
//! (their `{vault://env/…}` references from the DP's environment) into a `TlsSpec`, one
//! `TlsProfile` per distinct spec, reused from the previous config when its spec is unchanged.

use std::sync::Arc;

use proto::schema::Service;

use super::{CompileError, Sources};
use crate::plugins::ai_proxy::secrets::resolve;
use crate::proxy::forward::{TlsProfile, TlsProfiles, TlsSpec};

/// The profile for `service` (`None`: the node's defaults will do), from `prev` when built
/// there already, recorded in `out`.
pub(super) fn profile(
    src: &Sources,
    service: &Service,
    prev: Option<&TlsProfiles>,
    out: &mut TlsProfiles,
) -> Result<Option<Arc<TlsProfile>>, CompileError> {
    if !service.uses_tls() {
        return Ok(None);
    }
    let spec = spec(src, service)?;
    if !spec.is_custom() {
        return Ok(None);
    }
    if let Some(p) = out.get(&spec) {
        return Ok(Some(p.clone()));
    }
    let p = match prev.and_then(|m| m.get(&spec)) {
        Some(p) => p.clone(),
        None => {
            Arc::new(
                TlsProfile::build(spec.clone()).map_err(|e| CompileError::ServiceTls {
                    service: service.id,
                    message: e.to_string(),
                })?,
            )
        }
    };
    out.insert(spec, p.clone());
    Ok(Some(p))
}

fn spec(src: &Sources, service: &Service) -> Result<TlsSpec, CompileError> {
    let verify = service.tls_verify != Some(false);
    let cas = match &service.ca_certificates {
        Some(ids) if verify && !ids.is_empty() => {
            let mut pems = Vec::with_capacity(ids.len());
            for id in ids {
                let Some(ca) = src.ca_certificates.get(id) else {
                    return Err(CompileError::MissingCaCertificate {
                        service: service.id,
                        ca_certificate: *id,
                    });
                };
                pems.push(ca.cert.clone());
            }
            Some(pems)
        }
        _ => None,
    };
    // Kong: the service's client certificate, else that of the upstream its host names.
    let cert_ref = service.client_certificate.or_else(|| {
        src.upstreams
            .values()
            .find(|u| u.name == service.host)
            .and_then(|u| u.client_certificate)
    });
    let client = match cert_ref {
        None => None,
        Some(fk) => {
            let Some(c) = src.certificates.get(&fk.id) else {
                return Err(CompileError::MissingCertificate {
                    service: service.id,
                    certificate: fk.id,
                });
            };
            // `{vault://env/NAME}` references resolve from the DP's environment, as AI keys do.
            let env = |n: &str| std::env::var(n).ok();
            Some((resolve(&c.cert, env), resolve(&c.key, env)))
        }
    };
    Ok(TlsSpec {
        verify,
        depth: service.tls_verify_depth.filter(|_| verify),
        cas,
        client,
    })
}
