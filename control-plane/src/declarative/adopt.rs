//! decK's identity rule for entities a file names but does not give an id: when the CP already
//! holds one with the same natural key (service/route name, consumer username or custom_id,
//! key-auth key, plugin name + scope), the file's entity takes over that id instead of a new
//! one, so entities made through the Admin API are updated in place, not deleted and recreated.

use std::collections::{HashMap, HashSet};

use proto::schema::{Config, ForeignKey};
use uuid::Uuid;

/// Rewrites ids in `cfg` (and every reference to them) to match `existing`. Ids written in the
/// file (`explicit`) are kept as they are.
pub fn adopt_ids(cfg: &mut Config, existing: &Config, explicit: &HashSet<Uuid>) {
    let mut remap: HashMap<Uuid, Uuid> = HashMap::new();
    let mut take = |id: &mut Uuid, found: Option<Uuid>| {
        if let Some(old) = found.filter(|old| *old != *id && !explicit.contains(id)) {
            remap.insert(*id, old);
            *id = old;
        }
    };
    for s in &mut cfg.services {
        let found = s.name.as_ref().and_then(|n| {
            existing
                .services
                .iter()
                .find(|e| e.name.as_ref() == Some(n))
        });
        take(&mut s.id, found.map(|e| e.id));
    }
    for r in &mut cfg.routes {
        let found = r
            .name
            .as_ref()
            .and_then(|n| existing.routes.iter().find(|e| e.name.as_ref() == Some(n)));
        take(&mut r.id, found.map(|e| e.id));
    }
    for c in &mut cfg.consumers {
        let by_user = c.username.as_ref().and_then(|u| {
            existing
                .consumers
                .iter()
                .find(|e| e.username.as_ref() == Some(u))
        });
        let by_custom = c.custom_id.as_ref().and_then(|u| {
            existing
                .consumers
                .iter()
                .find(|e| e.custom_id.as_ref() == Some(u))
        });
        take(&mut c.id, by_user.or(by_custom).map(|e| e.id));
    }
    let fix = |fk: &mut Option<ForeignKey>| {
        if let Some(f) = fk {
            if let Some(new) = remap.get(&f.id) {
                f.id = *new;
            }
        }
    };
    for r in &mut cfg.routes {
        fix(&mut r.service);
    }
    for p in &mut cfg.plugins {
        fix(&mut p.service);
        fix(&mut p.route);
        fix(&mut p.consumer);
    }
    for k in &mut cfg.keyauth_credentials {
        if let Some(new) = remap.get(&k.consumer.id) {
            k.consumer.id = *new;
        }
    }
    let mut second: Vec<(Uuid, Uuid)> = Vec::new();
    for k in &mut cfg.keyauth_credentials {
        if let Some(e) = existing.keyauth_credentials.iter().find(|e| e.key == k.key) {
            if !explicit.contains(&k.id) {
                second.push((k.id, e.id));
                k.id = e.id;
            }
        }
    }
    for p in &mut cfg.plugins {
        let scope = |fk: &Option<ForeignKey>| fk.map(|f| f.id);
        let found = existing.plugins.iter().find(|e| {
            e.name == p.name
                && scope(&e.service) == scope(&p.service)
                && scope(&e.route) == scope(&p.route)
                && scope(&e.consumer) == scope(&p.consumer)
        });
        if let Some(e) = found {
            if !explicit.contains(&p.id) {
                p.id = e.id;
            }
        }
    }
}
