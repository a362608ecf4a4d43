//! A whole config: every entity of one version, typed. The CP builds it from its store and ships
//! it as `v1::Entity` JSON; the DP rebuilds it from those entities before compiling.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::entities::{Consumer, KeyAuthCredential, Plugin, Route, Service};
use super::error::{FieldError, SchemaError};
use crate::v1;

/// The entity kinds we know, in dependency order (parents before children).
pub const ENTITY_KINDS: &[&str] = &[
    "services",
    "routes",
    "consumers",
    "keyauth_credentials",
    "plugins",
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub services: Vec<Service>,
    pub routes: Vec<Route>,
    pub consumers: Vec<Consumer>,
    pub keyauth_credentials: Vec<KeyAuthCredential>,
    pub plugins: Vec<Plugin>,
}

impl Config {
    /// Reads typed entities back from the wire. Every entity that does not parse is reported.
    pub fn from_entities(entities: &[v1::Entity]) -> Result<Self, SchemaError> {
        let mut cfg = Config::default();
        let mut errs = Vec::new();
        for e in entities {
            let at = format!("{}[{}]", e.kind, e.id);
            let r = match e.kind.as_str() {
                "services" => parse(&e.json).map(|v| cfg.services.push(v)),
                "routes" => parse(&e.json).map(|v| cfg.routes.push(v)),
                "consumers" => parse(&e.json).map(|v| cfg.consumers.push(v)),
                "keyauth_credentials" => parse(&e.json).map(|v| cfg.keyauth_credentials.push(v)),
                "plugins" => parse(&e.json).map(|v| cfg.plugins.push(v)),
                other => Err(FieldError::new(
                    "",
                    format!("unknown entity kind '{other}'"),
                )),
            };
            if let Err(err) = r {
                errs.push(err.under(&at));
            }
        }
        if errs.is_empty() {
            Ok(cfg)
        } else {
            Err(errs.into())
        }
    }

    /// The config as wire entities, in `ENTITY_KINDS` order and by id within a kind, so the
    /// same config always encodes (and hashes) the same.
    pub fn to_entities(&self) -> Vec<v1::Entity> {
        let mut out = Vec::new();
        push(&mut out, "services", &self.services, |s| s.id);
        push(&mut out, "routes", &self.routes, |r| r.id);
        push(&mut out, "consumers", &self.consumers, |c| c.id);
        push(
            &mut out,
            "keyauth_credentials",
            &self.keyauth_credentials,
            |k| k.id,
        );
        push(&mut out, "plugins", &self.plugins, |p| p.id);
        out
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
            && self.routes.is_empty()
            && self.consumers.is_empty()
            && self.keyauth_credentials.is_empty()
            && self.plugins.is_empty()
    }
}

fn parse<T: DeserializeOwned>(json: &[u8]) -> Result<T, FieldError> {
    let mut de = serde_json::Deserializer::from_slice(json);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        FieldError::new(
            if path == "." { String::new() } else { path },
            e.into_inner().to_string(),
        )
    })
}

fn push<T: Serialize>(
    out: &mut Vec<v1::Entity>,
    kind: &str,
    items: &[T],
    id: impl Fn(&T) -> uuid::Uuid,
) {
    let mut sorted: Vec<&T> = items.iter().collect();
    sorted.sort_by_key(|t| id(t));
    for item in sorted {
        // Serializing our own derive-Serialize types into a Vec cannot fail.
        let json = serde_json::to_value(item)
            .map(|v| v.to_string().into_bytes())
            .unwrap_or_default();
        out.push(v1::Entity {
            kind: kind.to_string(),
            id: id(item).to_string(),
            json,
        });
    }
}
