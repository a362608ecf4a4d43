//! The typed Kong model both planes share: entities as the Admin API shows them, every plugin's
//! config with its defaults, and the checks that decide whether a config may be stored (CP) or
//! compiled (DP). One definition per entity and per plugin; the CP fills defaults with it, the DP
//! reads with it.

mod certificates;
mod config;
mod credentials;
pub mod describe;
mod entities;
mod error;
pub mod hash;
mod healthchecks;
pub mod ids;
mod plugin;
pub mod plugins;
mod rules;
mod scalars;
mod tags;
mod upstreams;

pub use certificates::{CaCertificate, Certificate, Sni, Vault};
pub use config::{canonical_cmp, canonical_key, kind_rank, Config, Slot, ENTITY_KINDS};
pub use credentials::{
    Acl, BasicAuthCredential, HmacAuthCredential, JwtSecret, MtlsAuthCredential, Oauth2Credential,
};
pub use entities::{Consumer, ForeignKey, KeyAuthCredential, Route, Service};
pub use error::{from_value, FieldError, SchemaError};
pub use healthchecks::filled as fill_healthchecks;
pub use plugin::Plugin;
pub use rules::header_regex;
pub use scalars::{kong_message, with_scalars, Scalars};
pub use upstreams::{Target, Upstream};
