//! The config hash: MD5 over the digests of the canonical entity list, as 32 hex characters (Kong's format, so
//! `config_hash` fields and the `kong_data_plane_config_hash` metric read the same).

use md5::{Digest, Md5};

use crate::v1;

/// The hash of an empty config.
pub const EMPTY: &str = "00000000000000000000000000000000";

/// Hashes entities in the order given (use `Config::to_entities`, which is canonical): MD5 over
/// each entity's [`digest`], so a holder that keeps the digests of unchanged entities rehashes a
/// changed config at 16 bytes per entity instead of re-reading every entity.
pub fn of_entities(entities: &[v1::Entity]) -> String {
    of_digests(entities.iter().map(digest))
}

/// One entity's part of the config hash: MD5 of `kind`, `id` and `json`, each NUL-terminated.
pub fn digest(e: &v1::Entity) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(e.kind.as_bytes());
    h.update([0]);
    h.update(e.id.as_bytes());
    h.update([0]);
    h.update(&e.json);
    h.update([0]);
    h.finalize().into()
}

/// The config hash from the entities' digests, in canonical order.
pub fn of_digests(digests: impl IntoIterator<Item = [u8; 16]>) -> String {
    let mut h = Md5::new();
    let mut any = false;
    for d in digests {
        any = true;
        h.update(d);
    }
    if any {
        hex::encode(h.finalize())
    } else {
        EMPTY.to_string()
    }
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
        let two = [entity("1", "x"), entity("2", "y")];
        assert_eq!(of_entities(&two), of_digests(two.iter().map(digest)));
        assert_ne!(of_entities(&two), of_entities(&[entity("1", "x")]));
    }
}
