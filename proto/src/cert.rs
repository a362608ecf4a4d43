//! Cluster certificates, as both planes read them for the mTLS link between them: PEM files →
//! DER, and the two facts the planes check in a certificate — its subject common name (the CP's
//! `--cluster-allowed-common-names`) and its expiry (a warning at start). A minimal DER walk
//! over exactly those fields; signatures and chains are rustls' business.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// How close to expiry a certificate gets a warning at start.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} holds no PEM certificate")]
    NoCert { path: String },
    #[error("not an X.509 certificate: {0}")]
    Der(String),
}

/// Every certificate in the PEM file at `path` (at least one).
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let read = |reason: String| CertError::Read {
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| read(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read(e.to_string()))?;
    if certs.is_empty() {
        return Err(CertError::NoCert {
            path: path.display().to_string(),
        });
    }
    Ok(certs)
}

/// The private key in the PEM file at `path`.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, CertError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| CertError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// What the planes check in a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject's common name (CN), if it has one.
    pub common_name: Option<String>,
    /// The end of validity, Unix seconds.
    pub not_after: i64,
}

impl CertInfo {
    /// A warning when the certificate has expired or expires within
    /// [`EXPIRY_WARNING_DAYS`] of `now` (Unix seconds).
    pub fn expiry_warning(&self, what: &str, now: i64) -> Option<String> {
        let days = (self.not_after - now).div_euclid(86_400);
        if self.not_after <= now {
            Some(format!(
                "{what} expired {} days ago: the other plane will refuse it",
                -days
            ))
        } else if days < EXPIRY_WARNING_DAYS {
            Some(format!(
                "{what} expires in {days} days: renew it before then"
            ))
        } else {
            None
        }
    }
}

/// What to warn about at start for the certificate loaded from `path`: its coming or past
/// expiry, or that its expiry cannot be read; `None` when all is well.
pub fn expiry_warning_now(path: &Path, der: &[u8]) -> Option<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let what = format!("cluster certificate {}", path.display());
    match inspect(der) {
        Ok(info) => info.expiry_warning(&what, now),
        Err(e) => Some(format!("{what}: cannot read its expiry: {e}")),
    }
}

/// Reads the subject common name and `notAfter` of a DER certificate.
pub fn inspect(der: &[u8]) -> Result<CertInfo, CertError> {
    let bad = |what: &str| CertError::Der(what.to_string());
    let cert = Reader(der).expect(SEQUENCE, "certificate")?;
    let mut tbs = Reader(Reader(cert).expect(SEQUENCE, "tbsCertificate")?);
    if tbs.peek() == Some(0xA0) {
        tbs.next()?; // version
    }
    tbs.expect(0x02, "serialNumber")?;
    tbs.expect(SEQUENCE, "signature")?;
    tbs.expect(SEQUENCE, "issuer")?;
    let mut validity = Reader(tbs.expect(SEQUENCE, "validity")?);
    validity.next()?; // notBefore
    let (tag, not_after) = validity.next()?;
    let not_after = time(tag, not_after).ok_or_else(|| bad("unreadable notAfter"))?;
    let mut subject = Reader(tbs.expect(SEQUENCE, "subject")?);
    let mut common_name = None;
    while !subject.0.is_empty() {
        let mut set = Reader(subject.expect(0x31, "subject RDN")?);
        while !set.0.is_empty() {
            let mut attr = Reader(set.expect(SEQUENCE, "subject attribute")?);
            let oid = attr.expect(0x06, "attribute type")?;
            let (_, value) = attr.next()?;
            if oid == CN_OID {
                common_name = Some(String::from_utf8_lossy(value).into_owned());
            }
        }
    }
    Ok(CertInfo {
        common_name,
        not_after,
    })
}

const SEQUENCE: u8 = 0x30;
/// 2.5.4.3, commonName.
const CN_OID: &[u8] = &[0x55, 0x04, 0x03];

/// DER elements, one after another.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// The next element's tag and contents.
    fn next(&mut self) -> Result<(u8, &'a [u8]), CertError> {
        let short = || CertError::Der("truncated".into());
        let (&tag, rest) = self.0.split_first().ok_or_else(short)?;
        let (&first, rest) = rest.split_first().ok_or_else(short)?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err(CertError::Der("bad length".into()));
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return Err(short());
        }
        let (content, after) = rest.split_at(len);
        self.0 = after;
        Ok((tag, content))
    }

    /// The next element's contents, which must have `tag`.
    fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8], CertError> {
        match self.next()? {
            (t, content) if t == tag => Ok(content),
            (t, _) => Err(CertError::Der(format!(
                "{what}: expected tag {tag:#04x}, found {t:#04x}"
            ))),
        }
    }
}

/// UTCTime (`YYMMDDHHMMSSZ`, tag 0x17) or GeneralizedTime (`YYYYMMDDHHMMSSZ`, 0x18) → Unix
/// seconds.
fn time(tag: u8, bytes: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(bytes).ok()?.strip_suffix('Z')?;
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (year, rest) = match tag {
        0x17 if s.len() == 12 => {
            let yy = num(0..2)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        0x18 if s.len() == 14 => (num(0..4)?, 4),
        _ => return None,
    };
    let field = |i: usize| num(rest + 2 * i..rest + 2 * i + 2);
    let (month, day) = (field(0)?, field(1)?);
    let (hour, min, sec) = (field(2)?, field(3)?, field(4)?);
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_convert_to_unix_seconds() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(time(0x18, b"20380119031407Z"), Some(2_147_483_647));
        assert_eq!(time(0x17, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(time(0x17, b"garbage"), None);
    }

    #[test]
    fn expiry_warnings() {
        let info = |not_after| CertInfo {
            common_name: None,
            not_after,
        };
        let day = 86_400;
        assert_eq!(info(100 * day).expiry_warning("c", 0), None);
        let soon = info(10 * day).expiry_warning("c", 0).unwrap();
        assert!(soon.contains("expires in 10 days"), "{soon}");
        let gone = info(0).expiry_warning("c", 3 * day).unwrap();
        assert!(gone.contains("expired 3 days ago"), "{gone}");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(inspect(b"").is_err());
        assert!(inspect(&[0x30, 0x05, 0x01]).is_err());
        assert!(inspect(&[0x02, 0x01, 0x00]).is_err());
    }
}
