//! Smooth weighted round-robin (nginx's algorithm) over the targets a pick may use; the base
//! of every other algorithm's tie-breaking. One state per plugin instance, shared by requests.

use std::sync::Mutex;

#[derive(Debug)]
pub struct RoundRobin {
    weights: Vec<i64>,
    current: Mutex<Vec<i64>>,
}

impl RoundRobin {
    pub fn new(weights: &[u32]) -> Self {
        RoundRobin {
            weights: weights.iter().map(|w| i64::from(*w)).collect(),
            current: Mutex::new(vec![0; weights.len()]),
        }
    }

    /// The index of the next target; `None` when there are none.
    pub fn next(&self) -> Option<usize> {
        self.next_among(|_| true)
    }

    /// The next target among those `eligible` accepts; `None` when it accepts none.
    pub fn next_among(&self, eligible: impl Fn(usize) -> bool) -> Option<usize> {
        let idx: Vec<usize> = (0..self.weights.len()).filter(|i| eligible(*i)).collect();
        let total: i64 = idx.iter().map(|i| self.weights[*i]).sum();
        let mut cur = match self.current.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut best: Option<usize> = None;
        for &i in &idx {
            cur[i] += self.weights[i];
            if best.is_none_or(|b| cur[i] > cur[b]) {
                best = Some(i);
            }
        }
        if let Some(b) = best {
            cur[b] -= total;
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_weights_strictly_alternate() {
        let rr = RoundRobin::new(&[50, 50]);
        let picks: Vec<usize> = (0..6).map(|_| rr.next().unwrap()).collect();
        assert_eq!(picks, vec![0, 1, 0, 1, 0, 1]);
    }

    #[test]
    fn weights_are_respected_and_smooth() {
        let rr = RoundRobin::new(&[5, 1, 1]);
        let picks: Vec<usize> = (0..7).map(|_| rr.next().unwrap()).collect();
        assert_eq!(picks.iter().filter(|p| **p == 0).count(), 5);
        assert_eq!(picks.iter().filter(|p| **p == 1).count(), 1);
        // smooth: never more than 3 of the heavy one in a row
        assert_eq!(picks, vec![0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn only_eligible_targets_are_picked() {
        let rr = RoundRobin::new(&[1, 1, 1]);
        let picks: Vec<usize> = (0..4).map(|_| rr.next_among(|i| i != 1).unwrap()).collect();
        assert!(!picks.contains(&1));
        assert_eq!(rr.next_among(|_| false), None);
    }

    #[test]
    fn shared_across_threads() {
        let rr = std::sync::Arc::new(RoundRobin::new(&[1, 1]));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let rr = rr.clone();
                std::thread::spawn(move || (0..100).map(|_| rr.next().unwrap()).sum::<usize>())
            })
            .collect();
        let ones: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(ones, 200);
        assert_eq!(RoundRobin::new(&[]).next(), None);
    }
}
