//! Where the time between an input change and Envoy serving it goes.
//!
//! A provider stamps each snapshot with when it noticed the change and when it published the
//! snapshot ([`Arrival`]); the controller times its own stages against those stamps, and the
//! xDS cache times each rollout from the moment a snapshot is set to the moment its proxy has
//! ACKed every type. The stages are exposed as one labelled histogram on `/metrics`, so a
//! propagation figure can be split into reload, queueing, translation, snapshot packing and
//! Envoy's own work.

use std::time::{Duration, Instant};

/// Upper bounds (seconds) of the duration histograms: from a sub-millisecond stage of a small
/// input to translations of many thousands of routes.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// When the change a snapshot carries reached the provider, and when the snapshot was
/// published. `None` on a snapshot that no single change caused (a provider's first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    pub noticed: Instant,
    pub published: Instant,
}

/// A cumulative histogram of durations, in the shape Prometheus exposes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    /// Cumulative counts, one per bucket of `DURATION_BUCKETS`.
    pub buckets: [u64; DURATION_BUCKETS.len()],
    pub count: u64,
    pub sum: f64,
}

impl Histogram {
    pub fn observe(&mut self, duration: Duration) {
        let secs = duration.as_secs_f64();
        for (bound, count) in DURATION_BUCKETS.iter().zip(self.buckets.iter_mut()) {
            if secs <= *bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_the_sum_is_of_all_observations() {
        let mut h = Histogram::default();
        assert_eq!(h.count, 0);
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(30));
        let at = |bound: f64| h.buckets[DURATION_BUCKETS.iter().position(|b| *b == bound).unwrap()];
        assert_eq!(at(0.0001), 0);
        assert_eq!(at(0.0005), 1);
        assert_eq!(at(0.025), 1);
        assert_eq!(at(0.05), 2);
        assert_eq!(h.count, 2);
        assert!((h.sum / h.count as f64 - 0.01515).abs() < 1e-9);
    }
}
