//! Consumer credentials other than key-auth (basic-auth, hmac-auth, jwt, acls, oauth2, mtls-auth),
//! stored and shipped as data so files that carry them apply unchanged.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::entities::ForeignKey;
use super::error::FieldError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthCredential {
    pub id: Uuid,
    pub consumer: ForeignKey,
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacAuthCredential {
    pub id: Uuid,
    pub consumer: ForeignKey,
    pub username: String,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSecret {
    pub id: Uuid,
    pub consumer: ForeignKey,
    pub key: String,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub rsa_public_key: Option<String>,
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acl {
    pub id: Uuid,
    pub consumer: ForeignKey,
    pub group: String,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Oauth2Credential {
    pub id: Uuid,
    pub consumer: ForeignKey,
    pub name: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    pub hash_secret: bool,
    #[serde(default = "default_client_type")]
    pub client_type: String,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsAuthCredential {
    pub id: Uuid,
    pub consumer: ForeignKey,
    pub subject_name: String,
    #[serde(default)]
    pub ca_certificate: Option<ForeignKey>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<i64>,
}

const JWT_ALGORITHMS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256",
    "PS384", "PS512", "EdDSA",
];

impl JwtSecret {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = self.field_rules();
        errs.extend(super::tags::check(&self.tags));
        errs
    }

    fn field_rules(&self) -> Vec<FieldError> {
        if JWT_ALGORITHMS.contains(&self.algorithm.as_str()) {
            Vec::new()
        } else {
            vec![super::entities::one_of("algorithm", JWT_ALGORITHMS)]
        }
    }
}

impl Oauth2Credential {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = self.field_rules();
        errs.extend(super::tags::check(&self.tags));
        errs
    }

    fn field_rules(&self) -> Vec<FieldError> {
        if matches!(self.client_type.as_str(), "confidential" | "public") {
            Vec::new()
        } else {
            vec![super::entities::one_of(
                "client_type",
                &["confidential", "public"],
            )]
        }
    }
}

fn default_algorithm() -> String {
    "HS256".into()
}

fn default_client_type() -> String {
    "confidential".into()
}
