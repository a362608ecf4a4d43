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
        foreign: &[("client_certificate", "certificates")],
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
    Collection {
        path: "upstreams",
        kind: "upstreams",
        keys: &["name"],
        foreign: &[("client_certificate", "certificates")],
    },
    Collection {
        path: "targets",
        kind: "targets",
        keys: &["target"],
        foreign: &[("upstream", "upstreams")],
    },
    Collection {
        path: "certificates",
        kind: "certificates",
        keys: &[],
        foreign: &[],
    },
    Collection {
        path: "snis",
        kind: "snis",
        keys: &["name"],
        foreign: &[("certificate", "certificates")],
    },
    Collection {
        path: "ca_certificates",
        kind: "ca_certificates",
        keys: &[],
        foreign: &[],
    },
    Collection {
        path: "vaults",
        kind: "vaults",
        keys: &["prefix"],
        foreign: &[],
    },
    Collection {
        path: "basic-auths",
        kind: "basicauth_credentials",
        keys: &["username"],
        foreign: CONSUMER,
    },
    Collection {
        path: "hmac-auths",
        kind: "hmacauth_credentials",
        keys: &["username"],
        foreign: CONSUMER,
    },
    Collection {
        path: "jwts",
        kind: "jwt_secrets",
        keys: &["key"],
        foreign: CONSUMER,
    },
    Collection {
        path: "acls",
        kind: "acls",
        keys: &[],
        foreign: CONSUMER,
    },
    Collection {
        path: "oauth2",
        kind: "oauth2_credentials",
        keys: &["client_id"],
        foreign: CONSUMER,
    },
    Collection {
        path: "mtls-auths",
        kind: "mtls_auth_credentials",
        keys: &[],
        foreign: &[
            ("consumer", "consumers"),
            ("ca_certificate", "ca_certificates"),
        ],
    },
];

const CONSUMER: &[(&str, &str)] = &[("consumer", "consumers")];

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
        ("consumers", "basic-auth") => ("basic-auths", "consumer"),
        ("consumers", "hmac-auth") => ("hmac-auths", "consumer"),
        ("consumers", "jwt") => ("jwts", "consumer"),
        ("consumers", "acls") => ("acls", "consumer"),
        ("consumers", "oauth2") => ("oauth2", "consumer"),
        ("consumers", "mtls-auth") => ("mtls-auths", "consumer"),
        ("upstreams", "targets") => ("targets", "upstream"),
        ("certificates", "snis") => ("snis", "certificate"),
        _ => return None,
    };
    by_path(child_path).map(|c| (c, field))
}
