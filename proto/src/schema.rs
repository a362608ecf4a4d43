//! The typed Kong model both planes share: entities as the Admin API shows them, every plugin's
//! config with its defaults, and the checks that decide whether a config may be stored (CP) or
//! compiled (DP). One definition per entity and per plugin; the CP fills defaults with it, the DP
//! reads with it.

mod config;
mod entities;
mod error;
pub mod hash;
pub mod ids;
pub mod plugins;

pub use config::{Config, ENTITY_KINDS};
pub use entities::{Consumer, ForeignKey, KeyAuthCredential, Plugin, Route, Service};
pub use error::{from_value, FieldError, SchemaError};
