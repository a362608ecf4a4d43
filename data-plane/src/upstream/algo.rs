//! Balancing algorithms: given the eligible targets of one upstream (healthy, weight > 0, not
//! yet tried by this request), pick one. Smooth weighted round-robin, weighted rendezvous
//! hashing (stable across DP replicas: FNV-1a + a fixed mixer, no per-process seed), weighted
//! least-connections and lowest EWMA latency.

use std::sync::Mutex;

/// What an algorithm knows about one candidate target.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    /// Index in the upstream's target list.
    pub index: usize,
    pub weight: u32,
    pub in_flight: u64,
    /// EWMA of the time to response headers, ms; 0 = no sample yet.
    pub latency_ms: f64,
}

/// Smooth weighted round-robin (nginx's): each pick adds every weight to its running counter,
/// takes the largest and subtracts the total from it.
#[derive(Debug)]
pub struct SmoothRoundRobin {
    current: Mutex<Vec<i64>>,
}

impl SmoothRoundRobin {
    pub fn new(targets: usize) -> Self {
        SmoothRoundRobin {
            current: Mutex::new(vec![0; targets]),
        }
    }

    pub fn pick(&self, cands: &[Candidate]) -> Option<usize> {
        let Ok(mut cur) = self.current.lock() else {
            return cands.first().map(|c| c.index);
        };
        let mut total = 0i64;
        let mut best: Option<(i64, usize)> = None;
        for c in cands {
            let slot = cur.get_mut(c.index)?;
            *slot += i64::from(c.weight);
            total += i64::from(c.weight);
            let v = *slot;
            if best.is_none_or(|(bv, _)| v > bv) {
                best = Some((v, c.index));
            }
        }
        let (_, b) = best?;
        if let Some(v) = cur.get_mut(b) {
            *v -= total;
        }
        Some(b)
    }
}

/// 64-bit FNV-1a followed by the splitmix64 finalizer: the same on every replica and build.
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Weighted rendezvous hashing: the target with the highest `weight / -ln(u)` for
/// `u = hash(key, target)` in (0, 1). A key keeps its target while that target is eligible, and
/// only the keys of a target that leaves move.
pub fn rendezvous(key: &str, cands: &[Candidate], names: &[String]) -> Option<usize> {
    let mut best: Option<(f64, usize)> = None;
    for c in cands {
        let name = names.get(c.index)?;
        let h = stable_hash(&[key.as_bytes(), name.as_bytes()]);
        let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let score = f64::from(c.weight) / -u.ln();
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c.index));
        }
    }
    best.map(|(_, i)| i)
}

/// Weighted least-connections: the lowest `(in_flight + 1) / weight`; ties go to the first
/// candidate at or after `start` (a rotating offset, so idle targets share the load).
pub fn least_connections(cands: &[Candidate], start: usize) -> Option<usize> {
    lowest(cands, start, |c| {
        (c.in_flight + 1) as f64 / f64::from(c.weight)
    })
}

/// Lowest latency: the lowest `ewma / weight`; targets without a sample go first.
pub fn latency(cands: &[Candidate], start: usize) -> Option<usize> {
    lowest(cands, start, |c| c.latency_ms / f64::from(c.weight))
}

fn lowest(cands: &[Candidate], start: usize, cost: impl Fn(&Candidate) -> f64) -> Option<usize> {
    let n = cands.len();
    let mut best: Option<(f64, usize)> = None;
    for i in 0..n {
        let c = cands.get((start + i) % n)?;
        let v = cost(c);
        if best.is_none_or(|(b, _)| v < b) {
            best = Some((v, c.index));
        }
    }
    best.map(|(_, i)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(weights: &[u32]) -> Vec<Candidate> {
        weights
            .iter()
            .enumerate()
            .map(|(index, &weight)| Candidate {
                index,
                weight,
                in_flight: 0,
                latency_ms: 0.0,
            })
            .collect()
    }

    #[test]
    fn round_robin_follows_weights_smoothly() {
        let rr = SmoothRoundRobin::new(3);
        let c = cands(&[5, 1, 1]);
        let picks: Vec<usize> = (0..7).map(|_| rr.pick(&c).unwrap()).collect();
        // nginx's well-known sequence for 5/1/1: a a b a c a a.
        assert_eq!(picks, [0, 0, 1, 0, 2, 0, 0]);
        let mut counts = [0; 3];
        for _ in 0..700 {
            counts[rr.pick(&c).unwrap()] += 1;
        }
        assert_eq!(counts, [500, 100, 100]);
    }

    #[test]
    fn round_robin_skips_missing_candidates() {
        let rr = SmoothRoundRobin::new(3);
        let c: Vec<Candidate> = cands(&[1, 1, 1])
            .into_iter()
            .filter(|c| c.index != 1)
            .collect();
        for _ in 0..10 {
            assert_ne!(rr.pick(&c), Some(1));
        }
        assert_eq!(rr.pick(&[]), None);
    }

    #[test]
    fn rendezvous_is_stable_and_weighted() {
        let names: Vec<String> = ["a:1", "b:1", "c:1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let all = cands(&[100, 100, 100]);
        let first = rendezvous("user-42", &all, &names).unwrap();
        for _ in 0..10 {
            assert_eq!(rendezvous("user-42", &all, &names), Some(first));
        }
        // Removing another target does not move the key.
        let other = (first + 1) % 3;
        let fewer: Vec<Candidate> = all.iter().copied().filter(|c| c.index != other).collect();
        assert_eq!(rendezvous("user-42", &fewer, &names), Some(first));
        // Keys spread by weight: 300 vs 100 vs 100 gets about 60 % on the heavy one.
        let weighted = cands(&[300, 100, 100]);
        let mut counts = [0u32; 3];
        for k in 0..5000 {
            counts[rendezvous(&format!("k{k}"), &weighted, &names).unwrap()] += 1;
        }
        assert!((2700..3300).contains(&counts[0]), "{counts:?}");
        assert!((700..1300).contains(&counts[1]), "{counts:?}");
    }

    #[test]
    fn stable_hash_is_fixed() {
        // A changed hash would move every key on a DP upgrade: pin it.
        assert_eq!(stable_hash(&[b"abc"]), 0x0cad_8536_3553_4d79);
        assert_eq!(stable_hash(&[b"user-42", b"a:1"]), 0x44b5_f6c9_1622_3d15);
        assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
    }

    #[test]
    fn least_connections_prefers_idle_weighted() {
        let mut c = cands(&[100, 100, 200]);
        c[0].in_flight = 3;
        c[1].in_flight = 1;
        c[2].in_flight = 2; // (2+1)/200 = 0.015 < (1+1)/100
        assert_eq!(least_connections(&c, 0), Some(2));
        c[2].in_flight = 5; // 6/200 = 0.03 > 0.02
        assert_eq!(least_connections(&c, 0), Some(1));
        // Ties rotate with the start offset.
        let idle = cands(&[1, 1]);
        assert_eq!(least_connections(&idle, 0), Some(0));
        assert_eq!(least_connections(&idle, 1), Some(1));
    }

    #[test]
    fn latency_prefers_fast_and_unmeasured() {
        let mut c = cands(&[1, 1]);
        c[0].latency_ms = 10.0;
        c[1].latency_ms = 2.0;
        assert_eq!(latency(&c, 0), Some(1));
        c[0].latency_ms = 0.0;
        assert_eq!(latency(&c, 1), Some(0));
    }
}
