//! `rate-limiting`'s `local` policy store: request counts per identifier and fixed window
//! (aligned as Kong's `timestamp.get_timestamps`, UTC), in sharded maps owned by one plugin
//! instance, and kept across config swaps while the plugin id stays the same.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use uuid::Uuid;

const SHARDS: usize = 16;
/// A shard this large drops identifiers whose windows have all ended.
const PRUNE_AT: usize = 4096;

/// Window lengths in seconds, Kong's `expiration.lua` (month = 30 days, year = 365 days).
pub const EXPIRATION: [i64; 6] = [1, 60, 3_600, 86_400, 2_592_000, 31_536_000];

/// Counts of one plugin instance.
#[derive(Debug)]
pub struct Counters {
    shards: Vec<Mutex<HashMap<String, Entry>>>,
}

/// Per window (index into `EXPIRATION`): the window's start (ms) and its count.
#[derive(Debug, Default, Clone, Copy)]
struct Entry([(i64, u64); 6]);

/// The usage a request saw before being counted: `(window, limit, used)` per configured window.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    pub windows: Vec<(usize, f64, u64)>,
    /// The window whose limit is reached (the request was not counted).
    pub stop: Option<usize>,
}

impl Counters {
    fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// The counters of plugin `id`: the live ones of the config being replaced, else new.
    pub fn for_plugin(id: Uuid) -> Arc<Self> {
        static REGISTRY: OnceLock<Mutex<HashMap<Uuid, Weak<Counters>>>> = OnceLock::new();
        let mut reg = lock(REGISTRY.get_or_init(Default::default));
        if let Some(c) = reg.get(&id).and_then(Weak::upgrade) {
            return c;
        }
        reg.retain(|_, w| w.strong_count() > 0);
        let c = Arc::new(Self::new());
        reg.insert(id, Arc::downgrade(&c));
        c
    }

    /// Kong's check then increment, atomically per identifier: `limits` are `(window, limit)`.
    pub fn hit(&self, ident: &str, now_ms: i64, limits: &[(usize, f64)]) -> Usage {
        let starts = window_starts(now_ms);
        let mut shard = lock(self.shard(ident));
        if shard.len() >= PRUNE_AT && !shard.contains_key(ident) {
            shard.retain(|_, e| e.0.iter().zip(&starts).any(|(w, s)| w.0 == *s && w.1 > 0));
        }
        let entry = shard.entry(ident.to_string()).or_default();
        let mut windows = Vec::with_capacity(limits.len());
        let mut stop = None;
        for &(w, limit) in limits {
            let Some((slot, start)) = entry.0.get_mut(w).zip(starts.get(w)) else {
                continue;
            };
            if slot.0 != *start {
                *slot = (*start, 0);
            }
            if limit - slot.1 as f64 <= 0.0 {
                stop = Some(w);
            }
            windows.push((w, limit, slot.1));
        }
        if stop.is_none() {
            for &(w, _) in limits {
                if let Some(slot) = entry.0.get_mut(w) {
                    slot.1 += 1;
                }
            }
        }
        Usage { windows, stop }
    }

    fn shard(&self, ident: &str) -> &Mutex<HashMap<String, Entry>> {
        let mut h = DefaultHasher::new();
        ident.hash(&mut h);
        &self.shards[(h.finish() as usize) % self.shards.len()]
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Start (ms since the epoch, UTC) of the second, minute, hour, day, month and year of `now_ms`.
pub fn window_starts(now_ms: i64) -> [i64; 6] {
    let s = now_ms.div_euclid(1000);
    let day = s.div_euclid(86_400);
    let (y, m, _) = civil(day);
    [
        s,
        s - s.rem_euclid(60),
        s - s.rem_euclid(3_600),
        day * 86_400,
        days_from_civil(y, m, 1) * 86_400,
        days_from_civil(y, 1, 1) * 86_400,
    ]
    .map(|x| x * 1000)
}

/// (year, month, day) of a day number since 1970-01-01 (H. Hinnant's algorithm).
fn civil(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-29T07:26:18.500Z
    const NOW: i64 = 1_795_937_178_500;

    #[test]
    fn windows_align_like_kong() {
        let w = window_starts(NOW);
        assert_eq!(w[0], 1_795_937_178_000);
        assert_eq!(w[1], 1_795_937_160_000);
        assert_eq!(w[2], 1_795_935_600_000);
        assert_eq!(w[3], 1_795_910_400_000); // 2026-11-29T00:00Z
        assert_eq!(w[4], 1_793_491_200_000); // 2026-11-01T00:00Z
        assert_eq!(w[5], 1_767_225_600_000); // 2026-01-01T00:00Z
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }

    #[test]
    fn counts_until_the_limit_then_stops_without_counting() {
        let c = Counters::new();
        let limits = [(0, 100.0), (1, 2.0)];
        assert_eq!(
            c.hit("a", NOW, &limits).windows,
            vec![(0, 100.0, 0), (1, 2.0, 0)]
        );
        assert_eq!(c.hit("a", NOW, &limits).stop, None);
        let u = c.hit("a", NOW, &limits);
        assert_eq!(u.stop, Some(1));
        assert_eq!(u.windows[0].2, 2, "refused requests are not counted");
        assert_eq!(c.hit("a", NOW, &limits).windows[0].2, 2);
        // Another identifier, and the next minute, start from zero.
        assert_eq!(c.hit("b", NOW, &limits).stop, None);
        assert_eq!(c.hit("a", NOW + 60_000, &limits).stop, None);
    }

    #[test]
    fn same_plugin_id_shares_counters_while_alive() {
        let id = Uuid::from_u128(0xfeed);
        let a = Counters::for_plugin(id);
        a.hit("x", NOW, &[(1, 5.0)]);
        let b = Counters::for_plugin(id);
        assert_eq!(b.hit("x", NOW, &[(1, 5.0)]).windows[0].2, 1);
        drop((a, b));
        let c = Counters::for_plugin(id);
        assert_eq!(c.hit("x", NOW, &[(1, 5.0)]).windows[0].2, 0);
    }
}
