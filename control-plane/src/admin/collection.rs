//! The Admin API's entity collections: URL name, stored kind, unique fields, and which
//! collections nest under which (`/services/{s}/routes`, `/consumers/{c}/key-auth`, …).

pub struct Collection {
    /// Path segment, e.g. `key-auths`.
    pub path: &'static str,
    /// Stored kind and decK collection, e.g. `keyauth_credentials`.
    pub kind: &'static str,
    /// Fields that identify an entity besides its id, unique within the collection.
    pub keys: &'static [&'static str],
    /// Foreign-key fields of this entity and the kinds they point at.
    pub foreign: &'static [(&'static str, &'static str)],
}

pub const COLLECTIONS: &[Collection] = &[
    Collection {
        path: "services",
        kind: "services",
        keys: &["name"],
        foreign: &[],
    },
    Collection {
        path: "routes",
        kind: "routes",
        keys: &["name"],
        foreign: &[("service", "services")],
    },
    Collection {
        path: "consumers",
        kind: "consumers",
        keys: &["username", "custom_id"],
        foreign: &[],
    },
    Collection {
        path: "plugins",
        kind: "plugins",
        keys: &["instance_name"],
        foreign: &[
            ("service", "services"),
            ("route", "routes"),
            ("consumer", "consumers"),
        ],
    },
    Collection {
        path: "key-auths",
        kind: "keyauth_credentials",
        keys: &["key"],
        foreign: &[("consumer", "consumers")],
    },
];

pub fn by_path(path: &str) -> Option<&'static Collection> {
    COLLECTIONS.iter().find(|c| c.path == path)
}

pub fn by_kind(kind: &str) -> Option<&'static Collection> {
    COLLECTIONS.iter().find(|c| c.kind == kind)
}

/// `/{parent}/{id}/{child}` → (child collection, the child's field that points at the parent).
pub fn nested(parent: &str, child: &str) -> Option<(&'static Collection, &'static str)> {
    let (child_path, field) = match (parent, child) {
        ("services", "routes") => ("routes", "service"),
        ("services", "plugins") => ("plugins", "service"),
        ("routes", "plugins") => ("plugins", "route"),
        ("consumers", "plugins") => ("plugins", "consumer"),
        ("consumers", "key-auth") => ("key-auths", "consumer"),
        _ => return None,
    };
    by_path(child_path).map(|c| (c, field))
}
