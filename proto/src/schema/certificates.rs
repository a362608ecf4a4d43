//! TLS material: certificates with their SNIs, CA certificates, and vaults (where secrets such as
//! `{vault://env/NAME}` references are resolved). Stored and shipped as data.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::entities::ForeignKey;
use super::error::FieldError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    pub id: Uuid,
    pub cert: String,
    pub key: String,
    #[serde(default)]
    pub cert_alt: Option<String>,
    #[serde(default)]
    pub key_alt: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub updated_at: Option<i64>,
}

impl Certificate {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = self.field_rules();
        errs.extend(super::tags::check(&self.tags));
        errs
    }

    fn field_rules(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        for (field, v) in [("cert", &self.cert), ("key", &self.key)] {
            if !pem_or_reference(v) {
                errs.push(FieldError::new(
                    field,
                    "invalid certificate: expected PEM text or a {vault://…} reference",
                ));
            }
        }
        if self.cert_alt.is_some() != self.key_alt.is_some() {
            errs.push(FieldError::new(
                "@entity",
                "all or none of these fields must be set: 'cert_alt', 'key_alt'",
            ));
        }
        errs
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sni {
    pub id: Uuid,
    pub name: String,
    pub certificate: ForeignKey,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub updated_at: Option<i64>,
}

impl Sni {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = self.field_rules();
        errs.extend(super::tags::check(&self.tags));
        errs
    }

    fn field_rules(&self) -> Vec<FieldError> {
        let wild = self.name.matches('*').count();
        let ok = !self.name.is_empty()
            && !self.name.contains(':')
            && (wild == 0
                || (wild == 1 && (self.name.starts_with("*.") || self.name.ends_with(".*"))));
        if ok {
            Vec::new()
        } else {
            vec![FieldError::new(
                "name",
                format!("invalid SNI '{}'", self.name),
            )]
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaCertificate {
    pub id: Uuid,
    pub cert: String,
    #[serde(default)]
    pub cert_digest: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub updated_at: Option<i64>,
}

impl CaCertificate {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = self.field_rules();
        errs.extend(super::tags::check(&self.tags));
        errs
    }

    fn field_rules(&self) -> Vec<FieldError> {
        if pem_or_reference(&self.cert) {
            Vec::new()
        } else {
            vec![FieldError::new(
                "cert",
                "invalid certificate: expected PEM text",
            )]
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vault {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub config: Option<Value>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub updated_at: Option<i64>,
}

impl Vault {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = self.field_rules();
        errs.extend(super::tags::check(&self.tags));
        errs
    }

    fn field_rules(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if !matches!(
            self.name.as_str(),
            "env" | "aws" | "gcp" | "hcv" | "azure" | "conjur"
        ) {
            errs.push(FieldError::new(
                "name",
                format!("vault '{}' is not installed", self.name),
            ));
        }
        let ok = !self.prefix.is_empty()
            && self
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            errs.push(FieldError::new(
                "prefix",
                "invalid value: use letters, digits, '-' and '_'",
            ));
        }
        errs
    }
}

fn pem_or_reference(v: &str) -> bool {
    let v = v.trim();
    (v.starts_with("-----BEGIN ") && v.contains("-----END "))
        || (v.starts_with("{vault://") && v.ends_with('}'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn certificates_need_pem_or_vault_references() {
        let c: Certificate = serde_json::from_value(
            json!({"id": Uuid::nil(), "cert": "{vault://env/cert}", "key": "nope"}),
        )
        .unwrap();
        let e = c.validate();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].path, "key");
    }

    #[test]
    fn sni_and_vault_rules() {
        let s: Sni = serde_json::from_value(
            json!({"id": Uuid::nil(), "name": "a.*.com", "certificate": {"id": Uuid::nil()}}),
        )
        .unwrap();
        assert_eq!(s.validate().len(), 1);
        let v: Vault = serde_json::from_value(
            json!({"id": Uuid::nil(), "name": "env", "prefix": "my-env-vault"}),
        )
        .unwrap();
        assert!(v.validate().is_empty());
    }
}
