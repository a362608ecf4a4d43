//! Target balancing for `ai-proxy-advanced`: smooth weighted round-robin (nginx's algorithm),
//! one state per plugin instance, safe to share across request tasks.

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
        if self.weights.is_empty() {
            return None;
        }
        let total: i64 = self.weights.iter().sum();
        let mut cur = match self.current.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut best = 0;
        for i in 0..self.weights.len() {
            cur[i] += self.weights[i];
            if cur[i] > cur[best] {
                best = i;
            }
        }
        cur[best] -= total;
        Some(best)
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
