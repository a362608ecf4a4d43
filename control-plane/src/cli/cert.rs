//! `control-plane cert`: a self-signed certificate and key for the CP↔DP link, the pair both
//! planes load with `--cluster-cert`/`--cluster-cert-key` in `shared` mode (Kong's
//! `kong hybrid gen_cert`).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{CertificateParams, DnType, KeyPair};

use crate::settings::CertArgs;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot generate the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path} already exists; remove it first")]
    Exists { path: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// Writes a new self-signed pair to `args.cert` and `args.key` (never over existing files).
pub fn generate(args: &CertArgs) -> Result<(), CertError> {
    for path in [&args.cert, &args.key] {
        if path.exists() {
            return Err(CertError::Exists {
                path: path.display().to_string(),
            });
        }
    }
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec![args.common_name.clone()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, args.common_name.clone());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days_since_epoch = now / 86_400;
    params.not_before = rcgen::date_time_ymd(1970, 1, 1) + day_span(days_since_epoch);
    params.not_after = params.not_before + day_span(u64::from(args.days));
    let cert = params.self_signed(&key)?;
    write(&args.cert, &cert.pem())?;
    write(&args.key, &key.serialize_pem())?;
    println!(
        "wrote {} and {} (CN={}, valid {} days)",
        args.cert.display(),
        args.key.display(),
        args.common_name,
        args.days
    );
    Ok(())
}

fn day_span(days: u64) -> std::time::Duration {
    std::time::Duration::from_secs(days * 86_400)
}

fn write(path: &Path, text: &str) -> Result<(), CertError> {
    std::fs::write(path, text).map_err(|source| CertError::Write {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_pem_pair_and_refuses_to_overwrite() {
        let dir = std::env::temp_dir().join(format!("cp-cert-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let args = CertArgs {
            cert: dir.join("c.crt"),
            key: dir.join("c.key"),
            days: 10,
            common_name: "kong_clustering".into(),
        };
        generate(&args).unwrap();
        let cert = std::fs::read_to_string(&args.cert).unwrap();
        let key = std::fs::read_to_string(&args.key).unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
        assert!(key.contains("PRIVATE KEY-----"), "{key}");
        assert!(matches!(generate(&args), Err(CertError::Exists { .. })));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
