//! basic-auth passwords as Kong keeps them (kong/plugins/basic-auth/crypto.lua): the SHA-1 hex
//! digest of `password .. consumer_id`, computed by every write that carries a new password,
//! before it is stored. A written value equal to the credential's stored digest is kept as it
//! is (Kong's "don't re-hash the digest" rule), so a dump applies back unchanged. The plain
//! password is never stored, so no answer can return it.

use proto::schema::Config;
use serde_json::{Map, Value};
use sha1::{Digest, Sha1};
use uuid::Uuid;

/// Kong's `crypto.hash(consumer_id, password)`.
pub fn hash(consumer_id: &Uuid, password: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(password.as_bytes());
    sha.update(consumer_id.to_string().as_bytes());
    sha.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// An Admin API write of one credential (its `consumer` already `{"id": …}`): the password is
/// replaced by its digest unless it is the digest `existing` (the stored credential) holds. A
/// body without a password or consumer is left for the schema check to refuse.
pub fn hash_body(body: &mut Map<String, Value>, existing: Option<&Value>) {
    let Some(Value::String(password)) = body.get("password") else {
        return;
    };
    if existing.and_then(|e| e.get("password")) == body.get("password") {
        return;
    }
    let consumer = body
        .get("consumer")
        .and_then(|c| c.get("id"))
        .and_then(Value::as_str)
        .and_then(|id| Uuid::parse_str(id).ok());
    if let Some(consumer) = consumer {
        let digest = hash(&consumer, password);
        body.insert("password".into(), Value::String(digest));
    }
}

/// A declarative write (`POST /config`, `control-plane apply`) with `_transform` on (Kong's
/// default; `_transform: false` means the passwords are digests already): every password that
/// is not the stored digest of the same credential is hashed with its consumer's id.
pub fn hash_config(cfg: &mut Config, existing: &Config) {
    for cred in &mut cfg.basicauth_credentials {
        let stored = existing
            .basicauth_credentials
            .iter()
            .find(|e| e.id == cred.id || e.username == cred.username);
        if stored.is_some_and(|e| e.password == cred.password) {
            continue;
        }
        cred.password = hash(&cred.consumer.id, &cred.password);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CONSUMER: &str = "11111111-2222-3333-4444-555555555555";
    /// `printf 's3cret11111111-2222-3333-4444-555555555555' | sha1sum`
    const DIGEST: &str = "d6bcae4adc56ebfa3c54c84abff069d78771da98";

    #[test]
    fn hash_is_sha1_hex_of_password_then_consumer_id() {
        assert_eq!(hash(&Uuid::parse_str(CONSUMER).unwrap(), "s3cret"), DIGEST);
    }

    #[test]
    fn a_new_password_is_hashed_and_a_stored_digest_kept() {
        let mut body = json!({"username": "a", "password": "s3cret", "consumer": {"id": CONSUMER}});
        let body = body.as_object_mut().unwrap();
        hash_body(body, None);
        assert_eq!(body["password"], DIGEST);
        // Written again as it is stored (a PATCH of other fields, a dump): not hashed twice.
        let stored = Value::Object(body.clone());
        hash_body(body, Some(&stored));
        assert_eq!(body["password"], DIGEST);
        // The same plain password again gives the same digest.
        body.insert("password".into(), json!("s3cret"));
        hash_body(body, Some(&stored));
        assert_eq!(body["password"], DIGEST);
        // No consumer: left for the schema check.
        let mut orphan = json!({"username": "b", "password": "p"});
        hash_body(orphan.as_object_mut().unwrap(), None);
        assert_eq!(orphan["password"], "p");
    }
}
