//! The last check of `apply`: no two entities share an id, a name, a username, a key, or a
//! plugin scope (`name` + route + service + consumer).

use std::collections::HashMap;

use proto::schema::{Config, FieldError};
use uuid::Uuid;

/// Reports each duplicate at the place of its second occurrence.
pub fn check(cfg: &Config, paths: &HashMap<Uuid, String>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen: HashMap<(&str, &str, String), ()> = HashMap::new();
    let mut dup = |kind: &'static str, field: &'static str, value: String, id: Uuid| {
        if seen.insert((kind, field, value.clone()), ()).is_some() {
            let at = paths.get(&id).cloned().unwrap_or_default();
            errs.push(FieldError::new(
                at,
                format!("uniqueness violation: '{kind}' entity with {field} set to '{value}' already declared"),
            ));
        }
    };
    for s in &cfg.services {
        dup("services", "id", s.id.to_string(), s.id);
        if let Some(n) = &s.name {
            dup("services", "name", n.clone(), s.id);
        }
    }
    for r in &cfg.routes {
        dup("routes", "id", r.id.to_string(), r.id);
        if let Some(n) = &r.name {
            dup("routes", "name", n.clone(), r.id);
        }
    }
    for c in &cfg.consumers {
        dup("consumers", "id", c.id.to_string(), c.id);
        if let Some(n) = &c.username {
            dup("consumers", "username", n.clone(), c.id);
        }
        if let Some(n) = &c.custom_id {
            dup("consumers", "custom_id", n.clone(), c.id);
        }
    }
    for k in &cfg.keyauth_credentials {
        dup("keyauth_credentials", "id", k.id.to_string(), k.id);
        dup("keyauth_credentials", "key", k.key.clone(), k.id);
    }
    for p in &cfg.plugins {
        dup("plugins", "id", p.id.to_string(), p.id);
        let scope = |fk: &Option<proto::schema::ForeignKey>| {
            fk.map(|f| f.id.to_string()).unwrap_or_default()
        };
        let key = format!(
            "{} (route={}, service={}, consumer={})",
            p.name,
            scope(&p.route),
            scope(&p.service),
            scope(&p.consumer)
        );
        dup("plugins", "scope", key, p.id);
    }
    errs
}
