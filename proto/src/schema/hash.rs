//! The config hash: MD5 over the canonical entity list, as 32 hex characters (Kong's format, so
//! `config_hash` fields and the `kong_data_plane_config_hash` metric read the same).

use md5::{Digest, Md5};

use crate::v1;

/// The hash of an empty config.
pub const EMPTY: &str = "00000000000000000000000000000000";

/// Hashes entities in the order given (use `Config::to_entities`, which is canonical).
pub fn of_entities(entities: &[v1::Entity]) -> String {
    if entities.is_empty() {
        return EMPTY.to_string();
    }
    let mut h = Md5::new();
    for e in entities {
        h.update(e.kind.as_bytes());
        h.update([0]);
        h.update(e.id.as_bytes());
        h.update([0]);
        h.update(&e.json);
        h.update([0]);
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(id: &str, json: &str) -> v1::Entity {
        v1::Entity {
            kind: "services".into(),
            id: id.into(),
            json: json.as_bytes().to_vec(),
        }
    }

    #[test]
    fn empty_config_hashes_to_zeros() {
        assert_eq!(of_entities(&[]), EMPTY);
    }

    #[test]
    fn hash_changes_with_content_and_is_stable() {
        let a = of_entities(&[entity("1", r#"{"a":1}"#)]);
        let b = of_entities(&[entity("1", r#"{"a":2}"#)]);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert_eq!(a, of_entities(&[entity("1", r#"{"a":1}"#)]));
    }
}
