//! decK's identity rule for entities a file names but does not give an id: when the CP already
//! holds one with the same natural key (service/route/upstream name, consumer username or
//! custom_id, credential key, plugin name + scope), the file's entity takes over that id instead
//! of a new one, so entities made through the Admin API are updated in place, not deleted and
//! recreated.

use foldhash::{HashMap, HashMapExt, HashSet};

use proto::schema::{Config, ForeignKey};
use uuid::Uuid;

/// Rewrites ids in `cfg` (and every reference to them) to match `existing`. Ids written in the
/// file (`explicit`) are kept as they are. Returns the ids of referable entities it changed (new
/// id → existing id).
pub fn adopt_ids(
    cfg: &mut Config,
    existing: &Config,
    explicit: &HashSet<Uuid>,
) -> HashMap<Uuid, Uuid> {
    let mut remap: HashMap<Uuid, Uuid> = HashMap::new();
    {
        let mut take = |id: &mut Uuid, found: Option<Uuid>| {
            if let Some(old) = found.filter(|old| *old != *id && !explicit.contains(id)) {
                remap.insert(*id, old);
                *id = old;
            }
        };
        let services = index(
            existing
                .services
                .iter()
                .filter_map(|e| Some((e.name.as_deref()?, e.id))),
        );
        for s in &mut cfg.services {
            take(
                &mut s.id,
                s.name.as_deref().and_then(|n| services.get(n).copied()),
            );
        }
        let routes = index(
            existing
                .routes
                .iter()
                .filter_map(|e| Some((e.name.as_deref()?, e.id))),
        );
        for r in &mut cfg.routes {
            take(
                &mut r.id,
                r.name.as_deref().and_then(|n| routes.get(n).copied()),
            );
        }
        let upstreams = index(existing.upstreams.iter().map(|e| (e.name.as_str(), e.id)));
        for u in &mut cfg.upstreams {
            take(&mut u.id, upstreams.get(u.name.as_str()).copied());
        }
        let users = index(
            existing
                .consumers
                .iter()
                .filter_map(|e| Some((e.username.as_deref()?, e.id))),
        );
        let customs = index(
            existing
                .consumers
                .iter()
                .filter_map(|e| Some((e.custom_id.as_deref()?, e.id))),
        );
        for c in &mut cfg.consumers {
            let by_user = c.username.as_deref().and_then(|u| users.get(u).copied());
            let by_custom = c.custom_id.as_deref().and_then(|u| customs.get(u).copied());
            take(&mut c.id, by_user.or(by_custom));
        }
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
    for t in &mut cfg.targets {
        if let Some(new) = remap.get(&t.upstream.id) {
            t.upstream.id = *new;
        }
    }
    for k in &mut cfg.keyauth_credentials {
        if let Some(new) = remap.get(&k.consumer.id) {
            k.consumer.id = *new;
        }
    }
    let keys = index(
        existing
            .keyauth_credentials
            .iter()
            .map(|e| (e.key.as_str(), e.id)),
    );
    for k in &mut cfg.keyauth_credentials {
        if let Some(old) = keys
            .get(k.key.as_str())
            .filter(|_| !explicit.contains(&k.id))
        {
            k.id = *old;
        }
    }
    fn scope(p: &proto::schema::Plugin) -> (&str, Option<Uuid>, Option<Uuid>, Option<Uuid>) {
        let id = |fk: &Option<ForeignKey>| fk.map(|f| f.id);
        (
            p.name.as_str(),
            id(&p.service),
            id(&p.route),
            id(&p.consumer),
        )
    }
    let plugins: HashMap<_, Uuid> = existing.plugins.iter().map(|p| (scope(p), p.id)).collect();
    for p in &mut cfg.plugins {
        if let Some(old) = plugins
            .get(&scope(p))
            .copied()
            .filter(|_| !explicit.contains(&p.id))
        {
            p.id = old;
        }
    }
    remap
}

/// Existing entities by natural key (borrowed from `existing`, not copied).
fn index<'a>(pairs: impl Iterator<Item = (&'a str, Uuid)>) -> HashMap<&'a str, Uuid> {
    pairs.collect()
}
