//! Client-side TLS certificates of one config: the `certificates` and their `snis`, parsed
//! once by `runtime::compile` (off the request path) into a name → certificate map that the
//! `ssl` listeners' resolver (`proxy::tls`) reads on every handshake. Kong's lookup order:
//! the exact SNI, then a leading wildcard (`*.example.com` for `a.example.com`), then a
//! trailing one (`example.*` for `example.com`); no match → the node's default certificate.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::{InconsistentKeys, SignatureScheme};
use uuid::Uuid;

use super::Sources;
use crate::plugins::ai_proxy::secrets::resolve;

/// A certificate that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ServerTlsError {
    #[error("certificates[{id}]: {message}")]
    Certificate { id: Uuid, message: String },
    #[error("snis[{name}]: certificate {certificate} does not exist")]
    MissingCertificate { name: String, certificate: Uuid },
    #[error("{what}: {message}")]
    Default { what: String, message: String },
}

/// One certificate entity, ready to serve: its main key pair and, when set, the alternate one
/// (Kong's `cert_alt`/`key_alt`, e.g. ECDSA next to RSA).
#[derive(Debug, Clone)]
pub struct CertPair {
    main: Arc<CertifiedKey>,
    alt: Option<Arc<CertifiedKey>>,
}

impl CertPair {
    /// From PEM text.
    pub fn from_pem(cert: &str, key: &str) -> Result<Self, String> {
        Ok(CertPair {
            main: Arc::new(certified_key(cert, key)?),
            alt: None,
        })
    }

    /// The key pair whose signature scheme the client offers (the main one by default).
    pub fn choose(&self, offered: &[SignatureScheme]) -> Arc<CertifiedKey> {
        match &self.alt {
            Some(alt) if self.main.key.choose_scheme(offered).is_none() => alt.clone(),
            _ => self.main.clone(),
        }
    }

    /// The leaf certificate of the main key pair (DER).
    pub fn leaf(&self) -> Option<&CertificateDer<'static>> {
        self.main.cert.first()
    }
}

/// SNI name (lowercase, wildcards as written) → certificate.
#[derive(Debug, Default)]
pub struct ServerCerts {
    by_name: HashMap<Box<str>, CertPair>,
}

impl ServerCerts {
    /// Compiles the certificates that `snis` name; certificates no SNI names are not parsed
    /// (Kong serves them only through an SNI).
    pub fn compile(src: &Sources) -> Result<Self, ServerTlsError> {
        let env = |n: &str| std::env::var(n).ok();
        let mut parsed: HashMap<Uuid, CertPair> = HashMap::new();
        let mut by_name = HashMap::with_capacity(src.snis.len());
        for sni in src.snis.values() {
            let id = sni.certificate.id;
            let pair = match parsed.get(&id) {
                Some(p) => p.clone(),
                None => {
                    let Some(c) = src.certificates.get(&id) else {
                        return Err(ServerTlsError::MissingCertificate {
                            name: sni.name.clone(),
                            certificate: id,
                        });
                    };
                    let bad = |message| ServerTlsError::Certificate { id, message };
                    let main = certified_key(&resolve(&c.cert, env), &resolve(&c.key, env))
                        .map_err(bad)?;
                    let alt = match (&c.cert_alt, &c.key_alt) {
                        (Some(cert), Some(key)) => Some(Arc::new(
                            certified_key(&resolve(cert, env), &resolve(key, env)).map_err(bad)?,
                        )),
                        _ => None,
                    };
                    let p = CertPair {
                        main: Arc::new(main),
                        alt,
                    };
                    parsed.insert(id, p.clone());
                    p
                }
            };
            let name = sni.name.trim_end_matches('.').to_ascii_lowercase();
            by_name.insert(name.into_boxed_str(), pair);
        }
        Ok(ServerCerts { by_name })
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The certificate for SNI `name`: exact, then `*.rest`, then `first.*`.
    pub fn find(&self, name: &str) -> Option<&CertPair> {
        let lower;
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            lower.as_str()
        } else {
            name
        };
        let name = name.trim_end_matches('.');
        if let Some(p) = self.by_name.get(name) {
            return Some(p);
        }
        if let Some(i) = name.find('.') {
            let wild = format!("*{}", name.get(i..).unwrap_or_default());
            if let Some(p) = self.by_name.get(wild.as_str()) {
                return Some(p);
            }
        }
        if let Some(i) = name.rfind('.') {
            let wild = format!("{}*", name.get(..=i).unwrap_or_default());
            if let Some(p) = self.by_name.get(wild.as_str()) {
                return Some(p);
            }
        }
        None
    }
}

/// A certificate chain and its private key, from PEM text, as rustls signs with it.
fn certified_key(cert: &str, key: &str) -> Result<CertifiedKey, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cert is not PEM: {e}"))?;
    if chain.is_empty() {
        return Err("cert holds no certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
        .map_err(|e| format!("key is not a PEM private key: {e}"))?;
    let signer = ring::default_provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("key cannot sign: {e}"))?;
    let ck = CertifiedKey::new(chain, signer);
    match ck.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(ck),
        Err(e) => Err(format!("key does not match cert: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pem(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn entity(kind: &str, v: serde_json::Value) -> proto::v1::Entity {
        proto::v1::Entity {
            kind: kind.into(),
            id: v["id"].as_str().unwrap().into(),
            json: v.to_string().into_bytes(),
        }
    }

    /// Certificates 1..=4 with the SNIs `names[i]` each.
    fn sources(names: &[&[&str]]) -> (Sources, Vec<CertificateDer<'static>>) {
        let mut ents = Vec::new();
        let mut ders = Vec::new();
        let mut sni = 100;
        for (i, list) in names.iter().enumerate() {
            let id = format!("00000000-0000-0000-0000-{:012}", i + 1);
            let (cert, key) = pem(list.first().copied().unwrap_or("x.test"));
            let pair = CertPair::from_pem(&cert, &key).unwrap();
            ders.push(pair.leaf().unwrap().clone());
            ents.push(entity(
                "certificates",
                json!({"id": id, "cert": cert, "key": key}),
            ));
            for n in *list {
                sni += 1;
                ents.push(entity(
                    "snis",
                    json!({"id": format!("00000000-0000-0000-0000-{sni:012}"), "name": n, "certificate": {"id": id}}),
                ));
            }
        }
        let cfg = proto::schema::Config::from_entities(&ents).unwrap();
        (Sources::from_config(cfg), ders)
    }

    #[test]
    fn sni_selects_exact_then_leading_then_trailing_wildcard() {
        let (src, ders) = sources(&[
            &["api.example.com", "Other.Test"],
            &["*.example.com"],
            &["api.*"],
            &["shop.example.com"],
        ]);
        let certs = ServerCerts::compile(&src).unwrap();
        let cases: &[(&str, Option<usize>)] = &[
            ("api.example.com", Some(0)),
            ("API.EXAMPLE.COM", Some(0)),
            ("api.example.com.", Some(0)),
            ("other.test", Some(0)),
            ("shop.example.com", Some(3)),
            // leading wildcard: one label only, and before the trailing one
            ("web.example.com", Some(1)),
            ("a.b.example.com", None),
            // trailing wildcard: the last label replaced
            ("api.internal", Some(2)),
            ("api.example.org", None),
            ("example.com", None),
            ("unknown.test", None),
        ];
        for (name, want) in cases {
            let got = certs.find(name).map(|p| p.leaf().unwrap().clone());
            let want = want.map(|i| ders[i].clone());
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn certificates_are_recompiled_only_when_certificates_or_snis_change() {
        let (src, _) = sources(&[&["a.test"]]);
        let first = crate::runtime::compile_sources(&src, None, 1, "h1").unwrap();
        assert!(first.server_certs.find("a.test").is_some());
        let same = src.clone();
        let again = crate::runtime::compile_sources(&same, Some((&src, &first)), 2, "h2").unwrap();
        assert!(Arc::ptr_eq(&first.server_certs, &again.server_certs));
        let mut renamed = src.clone();
        for sni in renamed.snis.values_mut() {
            let mut s = (**sni).clone();
            s.name = "b.test".into();
            *sni = Arc::new(s);
        }
        let third =
            crate::runtime::compile_sources(&renamed, Some((&src, &first)), 3, "h3").unwrap();
        assert!(!Arc::ptr_eq(&first.server_certs, &third.server_certs));
        assert!(third.server_certs.find("a.test").is_none());
        assert!(third.server_certs.find("b.test").is_some());
    }

    #[test]
    fn bad_certificates_and_missing_ones_are_named() {
        let (mut src, _) = sources(&[&["a.test"]]);
        let id = *src.certificates.keys().next().unwrap();
        let mut c = (*src.certificates[&id]).clone();
        let (_, other_key) = pem("b.test");
        c.key = other_key;
        src.certificates.insert(id, Arc::new(c));
        let err = ServerCerts::compile(&src).unwrap_err().to_string();
        assert!(err.contains(&format!("certificates[{id}]")), "{err}");
        assert!(err.contains("does not match"), "{err}");
        src.certificates.clear();
        let err = ServerCerts::compile(&src).unwrap_err().to_string();
        assert!(err.contains("snis[a.test]: certificate"), "{err}");
    }

    #[test]
    fn the_alternate_key_serves_clients_without_the_main_scheme() {
        let (cert, key) = pem("a.test");
        let main = CertPair::from_pem(&cert, &key).unwrap();
        let alt = CertPair::from_pem(&cert, &key).unwrap();
        let pair = CertPair {
            main: main.main.clone(),
            alt: Some(alt.main.clone()),
        };
        // rcgen's default key is ECDSA P-256: an RSA-only client gets the alternate pair.
        let ecdsa = [SignatureScheme::ECDSA_NISTP256_SHA256];
        let rsa = [SignatureScheme::RSA_PSS_SHA256];
        assert!(Arc::ptr_eq(&pair.choose(&ecdsa), &main.main));
        assert!(Arc::ptr_eq(&pair.choose(&rsa), &alt.main));
    }
}
