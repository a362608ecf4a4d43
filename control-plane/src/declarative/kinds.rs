//! What the flattener knows about each entity kind: its decK collection, the children that may
//! nest under it, its references, the fields it can be referred to by, and how Kong derives its
//! id when a file gives none.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Certificate,
    CaCertificate,
    Vault,
    Service,
    Route,
    Sni,
    Upstream,
    Target,
    Consumer,
    KeyAuth,
    BasicAuth,
    HmacAuth,
    Jwt,
    Acl,
    Oauth2,
    Mtls,
    Plugin,
}

/// How an entity without an explicit id gets one (UUIDv5 of a key, Kong DB-less style).
pub enum IdKey {
    /// The value of one field.
    Field(&'static str),
    /// `username`, else `custom_id` (consumers).
    Consumer,
    /// The reference to the parent (as written) and a field: `targets:*:<upstream>:<target>`.
    Scoped(&'static str, &'static str),
    /// Name plus route, service and consumer as written (plugins).
    Plugin,
}

pub struct Info {
    pub collection: &'static str,
    pub singular: &'static str,
    pub children: &'static [(&'static str, Kind)],
    pub foreign: &'static [(&'static str, Kind)],
    /// Fields other entities may use to refer to this one (besides `id`).
    pub names: &'static [&'static str],
    pub id_key: IdKey,
}

/// Top-level collections, in the order entities are read.
pub const TOP_LEVEL: &[Kind] = &[
    Kind::Certificate,
    Kind::CaCertificate,
    Kind::Vault,
    Kind::Service,
    Kind::Route,
    Kind::Sni,
    Kind::Upstream,
    Kind::Target,
    Kind::Consumer,
    Kind::KeyAuth,
    Kind::BasicAuth,
    Kind::HmacAuth,
    Kind::Jwt,
    Kind::Acl,
    Kind::Oauth2,
    Kind::Mtls,
    Kind::Plugin,
];

const CONSUMER_FK: &[(&str, Kind)] = &[("consumer", Kind::Consumer)];

impl Kind {
    pub fn info(self) -> Info {
        use IdKey::*;
        match self {
            Kind::Certificate => info(
                "certificates",
                "certificate",
                &[("snis", Kind::Sni)],
                &[],
                &[],
                Field("cert"),
            ),
            Kind::CaCertificate => info(
                "ca_certificates",
                "ca certificate",
                &[],
                &[],
                &[],
                Field("cert"),
            ),
            Kind::Vault => info("vaults", "vault", &[], &[], &["prefix"], Field("prefix")),
            Kind::Service => info(
                "services",
                "service",
                &[("routes", Kind::Route), ("plugins", Kind::Plugin)],
                &[("client_certificate", Kind::Certificate)],
                &["name"],
                Field("name"),
            ),
            Kind::Route => info(
                "routes",
                "route",
                &[("plugins", Kind::Plugin)],
                &[("service", Kind::Service)],
                &["name"],
                Field("name"),
            ),
            Kind::Sni => info(
                "snis",
                "sni",
                &[],
                &[("certificate", Kind::Certificate)],
                &["name"],
                Field("name"),
            ),
            Kind::Upstream => info(
                "upstreams",
                "upstream",
                &[("targets", Kind::Target)],
                &[("client_certificate", Kind::Certificate)],
                &["name"],
                Field("name"),
            ),
            Kind::Target => info(
                "targets",
                "target",
                &[],
                &[("upstream", Kind::Upstream)],
                &[],
                Scoped("upstream", "target"),
            ),
            Kind::Consumer => info(
                "consumers",
                "consumer",
                &[
                    ("keyauth_credentials", Kind::KeyAuth),
                    ("basicauth_credentials", Kind::BasicAuth),
                    ("hmacauth_credentials", Kind::HmacAuth),
                    ("jwt_secrets", Kind::Jwt),
                    ("acls", Kind::Acl),
                    ("oauth2_credentials", Kind::Oauth2),
                    ("mtls_auth_credentials", Kind::Mtls),
                    ("plugins", Kind::Plugin),
                ],
                &[],
                &["username", "custom_id"],
                Consumer,
            ),
            Kind::KeyAuth => info(
                "keyauth_credentials",
                "key-auth credential",
                &[],
                CONSUMER_FK,
                &[],
                Field("key"),
            ),
            Kind::BasicAuth => info(
                "basicauth_credentials",
                "basic-auth credential",
                &[],
                CONSUMER_FK,
                &[],
                Field("username"),
            ),
            Kind::HmacAuth => info(
                "hmacauth_credentials",
                "hmac-auth credential",
                &[],
                CONSUMER_FK,
                &[],
                Field("username"),
            ),
            Kind::Jwt => info(
                "jwt_secrets",
                "jwt secret",
                &[],
                CONSUMER_FK,
                &[],
                Field("key"),
            ),
            Kind::Acl => info(
                "acls",
                "acl",
                &[],
                CONSUMER_FK,
                &[],
                Scoped("consumer", "group"),
            ),
            Kind::Oauth2 => info(
                "oauth2_credentials",
                "oauth2 credential",
                &[],
                CONSUMER_FK,
                &[],
                Field("client_id"),
            ),
            Kind::Mtls => info(
                "mtls_auth_credentials",
                "mtls-auth credential",
                &[],
                &[
                    ("consumer", Kind::Consumer),
                    ("ca_certificate", Kind::CaCertificate),
                ],
                &[],
                Scoped("consumer", "subject_name"),
            ),
            Kind::Plugin => info(
                "plugins",
                "plugin",
                &[],
                &[
                    ("service", Kind::Service),
                    ("route", Kind::Route),
                    ("consumer", Kind::Consumer),
                ],
                &[],
                Plugin,
            ),
        }
    }
}

fn info(
    collection: &'static str,
    singular: &'static str,
    children: &'static [(&'static str, Kind)],
    foreign: &'static [(&'static str, Kind)],
    names: &'static [&'static str],
    id_key: IdKey,
) -> Info {
    Info {
        collection,
        singular,
        children,
        foreign,
        names,
        id_key,
    }
}
