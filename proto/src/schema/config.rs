//! A whole config: every entity of one version, typed. The CP builds it from its store and ships
//! it as `v1::Entity` JSON; the DP rebuilds it from those entities before compiling.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::certificates::{CaCertificate, Certificate, Sni, Vault};
use super::credentials::{
    Acl, BasicAuthCredential, HmacAuthCredential, JwtSecret, MtlsAuthCredential, Oauth2Credential,
};
use super::entities::{Consumer, KeyAuthCredential, Route, Service};
use super::error::{FieldError, SchemaError};
use super::plugin::Plugin;
use super::upstreams::{Target, Upstream};
use crate::v1;

/// Declares `Config` with one list per entity kind, in dependency order (parents before the
/// entities that point at them), and its conversions from and to wire entities.
macro_rules! config {
    ($($field:ident: $ty:ty),* $(,)?) => {
        /// The entity kinds we know, in dependency order.
        pub const ENTITY_KINDS: &[&str] = &[$(stringify!($field)),*];

        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct Config {
            $(pub $field: Vec<$ty>,)*
        }

        impl Config {
            /// Reads typed entities back from the wire. Every entity that does not parse is
            /// reported.
            pub fn from_entities(entities: &[v1::Entity]) -> Result<Self, SchemaError> {
                let mut cfg = Config::default();
                let mut errs = Vec::new();
                for e in entities {
                    let at = format!("{}[{}]", e.kind, e.id);
                    let r = match e.kind.as_str() {
                        $(stringify!($field) => parse(&e.json).map(|v| cfg.$field.push(v)),)*
                        other => Err(FieldError::new("", format!("unknown entity kind '{other}'"))),
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

            /// The config as wire entities, in `ENTITY_KINDS` order and by id within a kind,
            /// so the same config always encodes (and hashes) the same.
            pub fn to_entities(&self) -> Vec<v1::Entity> {
                let mut out = Vec::new();
                $(push(&mut out, stringify!($field), &self.$field, |e| e.id);)*
                out
            }

            /// `to_entities`, except that an entity equal to the one with its id in `prev` takes
            /// that one's bytes from `prev_entities` (which must be `prev.to_entities()`)
            /// instead of being encoded again: equal entities encode to equal bytes.
            pub fn to_entities_reusing(
                &self,
                prev: &Config,
                prev_entities: &[v1::Entity],
            ) -> Vec<v1::Entity> {
                self.to_entity_plan(prev, prev_entities)
                    .into_iter()
                    .map(|slot| match slot {
                        Slot::Prev(i) => prev_entities[i].clone(),
                        Slot::New(e) => e,
                    })
                    .collect()
            }

            /// `to_entities_reusing` without copying anything from `prev_entities`: an
            /// unchanged entity is its index there, so the caller may share or move its bytes.
            pub fn to_entity_plan(&self, prev: &Config, prev_entities: &[v1::Entity]) -> Vec<Slot> {
                self.to_entity_plan_knowing(prev, prev_entities, &|_, _| false)
            }

            /// `to_entity_plan`, where `copied(kind, id)` names entities known to be copies of
            /// their namesakes in `prev`: they are not compared again.
            pub fn to_entity_plan_knowing(
                &self,
                prev: &Config,
                prev_entities: &[v1::Entity],
                copied: &dyn Fn(&str, uuid::Uuid) -> bool,
            ) -> Vec<Slot> {
                let mut out = Vec::with_capacity(prev_entities.len());
                $(push_reusing(
                    &mut out,
                    stringify!($field),
                    &self.$field,
                    (&prev.$field, prev_entities),
                    |e| e.id,
                    copied,
                );)*
                out
            }

            /// Removes the entities of `kind` whose ids are in `ids`.
            pub fn remove(&mut self, kind: &str, ids: &std::collections::HashSet<uuid::Uuid>) {
                match kind {
                    $(stringify!($field) => self.$field.retain(|e| !ids.contains(&e.id)),)*
                    _ => {}
                }
            }

            /// One entity as a wire entity (the bytes `to_entities` gives it), by kind and id.
            pub fn entity(&self, kind: &str, id: uuid::Uuid) -> Option<v1::Entity> {
                match kind {
                    $(stringify!($field) => self.$field.iter().find(|e| e.id == id).map(|e| v1::Entity {
                        kind: kind.to_string(),
                        id: id.to_string(),
                        json: serde_json::to_vec(e).unwrap_or_default(),
                    }),)*
                    _ => None,
                }
            }

            /// Adds every entity of `other`, replacing the one with the same id if present.
            pub fn upsert(&mut self, other: Config) {
                $(for e in other.$field {
                    match self.$field.iter_mut().find(|x| x.id == e.id) {
                        Some(slot) => *slot = e,
                        None => self.$field.push(e),
                    }
                })*
            }

            /// Where each entity of `kind` (an `ENTITY_KINDS` name) sits in its list, by id.
            pub fn positions(&self, kind: &str) -> std::collections::HashMap<uuid::Uuid, usize> {
                match kind {
                    $(stringify!($field) => self.$field.iter().enumerate().map(|(i, e)| (e.id, i)).collect(),)*
                    _ => Default::default(),
                }
            }

            /// The id of the entity of `kind` at `pos` in its list.
            pub fn id_at(&self, kind: &str, pos: usize) -> Option<uuid::Uuid> {
                match kind {
                    $(stringify!($field) => self.$field.get(pos).map(|e| e.id),)*
                    _ => None,
                }
            }

            /// How many entities of `kind` the config holds.
            pub fn count(&self, kind: &str) -> usize {
                match kind {
                    $(stringify!($field) => self.$field.len(),)*
                    _ => 0,
                }
            }

            /// Appends copies of `from`'s entities of `kind` at `positions` (those that exist).
            pub fn extend_from(&mut self, kind: &str, from: &Config, positions: &[usize]) {
                match kind {
                    $(stringify!($field) => {
                        self.$field.reserve(positions.len());
                        self.$field.extend(positions.iter().filter_map(|&i| from.$field.get(i)).cloned());
                    })*
                    _ => {}
                }
            }

            pub fn is_empty(&self) -> bool {
                true $(&& self.$field.is_empty())*
            }
        }
    };
}

config! {
    certificates: Certificate,
    ca_certificates: CaCertificate,
    vaults: Vault,
    services: Service,
    routes: Route,
    snis: Sni,
    upstreams: Upstream,
    targets: Target,
    consumers: Consumer,
    keyauth_credentials: KeyAuthCredential,
    basicauth_credentials: BasicAuthCredential,
    hmacauth_credentials: HmacAuthCredential,
    jwt_secrets: JwtSecret,
    acls: Acl,
    oauth2_credentials: Oauth2Credential,
    mtls_auth_credentials: MtlsAuthCredential,
    plugins: Plugin,
}

/// Where entities of `kind` sort: its place in `ENTITY_KINDS`, unknown kinds last.
pub fn kind_rank(kind: &str) -> usize {
    ENTITY_KINDS
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(ENTITY_KINDS.len())
}

/// The canonical order of wire entities (`to_entities` order, which the config hash follows):
/// kind rank, then kind, then id.
pub fn canonical_key(e: &v1::Entity) -> (usize, &str, &str) {
    (kind_rank(&e.kind), &e.kind, &e.id)
}

/// `canonical_key(a).cmp(&canonical_key(b))`, without ranking kinds when both are the same.
pub fn canonical_cmp(a: &v1::Entity, b: &v1::Entity) -> std::cmp::Ordering {
    if a.kind == b.kind {
        a.id.cmp(&b.id)
    } else {
        canonical_key(a).cmp(&canonical_key(b))
    }
}

fn parse<T: DeserializeOwned>(json: &[u8]) -> Result<T, FieldError> {
    // The common case without the cost of tracking paths; the slow path explains a failure.
    if let Ok(t) = serde_json::from_slice(json) {
        return Ok(t);
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        FieldError::new(
            if path == "." { String::new() } else { path },
            e.into_inner().to_string(),
        )
    })
}

/// One wire entity of a config encoded against an earlier one (`Config::to_entity_plan`).
#[derive(Debug, Clone, PartialEq)]
pub enum Slot {
    /// Unchanged: the entity at this index of the earlier wire entities.
    Prev(usize),
    /// New or changed: encoded again.
    New(v1::Entity),
}

impl Slot {
    /// The entity, looked up in the earlier wire entities when unchanged.
    pub fn get<'a>(&'a self, prev_entities: &'a [v1::Entity]) -> Option<&'a v1::Entity> {
        match self {
            Slot::Prev(i) => prev_entities.get(*i),
            Slot::New(e) => Some(e),
        }
    }
}

/// `push`, taking the bytes of an item equal to its namesake in `prev` (the typed list and the
/// wire entities it was encoded to) instead of encoding it. All three lists are walked in id
/// order side by side.
fn push_reusing<T: Serialize + PartialEq>(
    out: &mut Vec<Slot>,
    kind: &str,
    items: &[T],
    prev: (&[T], &[v1::Entity]),
    id: impl Fn(&T) -> uuid::Uuid,
    copied: &dyn Fn(&str, uuid::Uuid) -> bool,
) {
    let (prev_items, prev_entities) = prev;
    let rank = kind_rank(kind);
    let start =
        prev_entities.partition_point(|e| (kind_rank(&e.kind), e.kind.as_str()) < (rank, kind));
    let len = prev_entities[start..].partition_point(|e| e.kind == kind);
    let run = &prev_entities[start..start + len];
    let mut before: Vec<&T> = prev_items.iter().collect();
    before.sort_by_key(|t| id(t));
    let mut sorted: Vec<&T> = items.iter().collect();
    sorted.sort_by_key(|t| id(t));
    let (mut b, mut r) = (0, 0);
    let mut buf = uuid::Uuid::encode_buffer();
    for item in sorted {
        let item_uuid = id(item);
        let item_id: &str = item_uuid.hyphenated().encode_lower(&mut buf);
        while b < before.len() && id(before[b]) < item_uuid {
            b += 1;
        }
        while r < run.len() && run[r].id.as_str() < item_id {
            r += 1;
        }
        let same = before
            .get(b)
            .is_some_and(|p| id(p) == item_uuid && (copied(kind, item_uuid) || *p == item));
        out.push(match run.get(r) {
            Some(e) if same && e.id == item_id => Slot::Prev(start + r),
            _ => Slot::New(v1::Entity {
                kind: kind.to_string(),
                id: item_id.to_string(),
                json: serde_json::to_vec(item).unwrap_or_default(),
            }),
        });
    }
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
        // Serializing our own derive-Serialize types into a Vec cannot fail. Field order is the
        // struct's, so the bytes (and the hash) are the same for the same entity.
        let json = serde_json::to_vec(item).unwrap_or_default();
        out.push(v1::Entity {
            kind: kind.to_string(),
            id: id(item).to_string(),
            json,
        });
    }
}
