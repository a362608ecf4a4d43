//! Deterministic entity ids, Kong DB-less style: UUIDv5 of the entity's natural key under a
//! per-entity namespace, so applying the same file twice yields the same ids.

use std::sync::OnceLock;

use uuid::Uuid;

/// Kong's root namespace for declarative ids.
const ROOT: Uuid = Uuid::from_u128(0xfd02801f_0957_4a15_a55a_c8d9606f30b5);

/// The id of an entity of `kind` (Kong's schema name, e.g. `services`) with natural key `key`.
pub fn generate(kind: &str, key: &str) -> Uuid {
    Uuid::new_v5(&namespace(kind), key.as_bytes())
}

/// The namespace of `kind`'s ids: computed once for the kinds a config holds (an apply derives
/// tens of thousands of ids), on each call for any other.
fn namespace(kind: &str) -> Uuid {
    static KNOWN: OnceLock<Vec<(&'static str, Uuid)>> = OnceLock::new();
    let known = KNOWN.get_or_init(|| {
        super::ENTITY_KINDS
            .iter()
            .map(|k| (*k, Uuid::new_v5(&ROOT, k.as_bytes())))
            .collect()
    });
    known
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or_else(|| Uuid::new_v5(&ROOT, kind.as_bytes()), |(_, ns)| *ns)
}

/// A plugin's id from its cache key: name plus the route, service and consumer it is scoped to,
/// each as written (a name or an id), empty when unscoped.
pub fn plugin(name: &str, route: &str, service: &str, consumer: &str) -> Uuid {
    generate(
        "plugins",
        &format!("plugins:*:{name}:{route}:{service}:{consumer}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed from Kong's rule (kong-cpdp.md §2.5).
    #[test]
    fn matches_kong_declarative_ids() {
        assert_eq!(
            generate("services", "svc1").to_string(),
            "2254ba65-245b-5b72-a0b8-7341d45f5e77"
        );
        assert_eq!(
            generate("routes", "r1").to_string(),
            "4726a05a-d550-537e-9fc3-a07c7a1188c7"
        );
        assert_eq!(
            generate("consumers", "alice").to_string(),
            "b32379d9-3d28-5683-a79c-72139be6e34f"
        );
        assert_eq!(
            plugin("key-auth", "", "", "").to_string(),
            "6b4f38d1-e026-540b-a5ea-8634739dd2a7"
        );
        assert_eq!(
            plugin("key-auth", "", "2254ba65-245b-5b72-a0b8-7341d45f5e77", "").to_string(),
            "5b8386ee-6367-5061-a033-df9c5d72f8d5"
        );
    }

    #[test]
    fn every_kind_gets_the_namespace_of_its_name() {
        for kind in crate::schema::ENTITY_KINDS
            .iter()
            .copied()
            .chain(["no_such_kind"])
        {
            let ns = Uuid::new_v5(&ROOT, kind.as_bytes());
            assert_eq!(generate(kind, "k"), Uuid::new_v5(&ns, b"k"), "{kind}");
        }
    }
}
